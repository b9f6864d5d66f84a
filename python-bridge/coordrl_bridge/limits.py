"""Resource caps of the server: how many groups the process can hold (file descriptors, ZeroMQ sockets),
how much memory the hosted envs may take (the machine's and the cgroup's limits), and how large one
observation and one reply may be. Each check raises a `limit` BridgeError naming the option to change."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import zmq

from coordrl_bridge.memory import format_bytes, largest_reply_bytes
from coordrl_bridge.protocol import BridgeError

log = logging.getLogger("coordrl_bridge")

# File descriptors and ZeroMQ sockets: a group's data socket takes its mailbox, its listener and one per
# connected client; the rest is Python, libzmq's I/O thread, ROM files and the control socket.
# Reclaimed groups keep their socket and thread a while to answer their client with `reclaimed` (see
# server.py): at most TOMBSTONE_SLOTS of them, beyond the group cap, within the reserves.
FDS_PER_GROUP = 4
TOMBSTONE_SLOTS = 16
RESERVED_FDS = 128 + FDS_PER_GROUP * TOMBSTONE_SLOTS
RESERVED_SOCKETS = 8 + TOMBSTONE_SLOTS  # the control socket, the ZAP authenticator's sockets, tombstones
DEFAULT_MAX_GROUPS = 256
DEFAULT_MAX_GROUPS_PER_CLIENT = 64
DEFAULT_MAX_OBS_BYTES = 16 << 20  # one env's observation: 16 MiB is 2,000 stacked 84x84 RGB frames
DEFAULT_MAX_REPLY_BYTES = 256 << 20  # one step reply: every env's observation and final observation

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
_NO_LIMIT = 1 << 60  # cgroup v1 writes "no limit" as a huge number (9223372036854771712)


def _cgroup_limit_files(root: Path, proc_cgroup: Path) -> list[Path]:
    """The memory limit files of this process's cgroups and of every cgroup above them: a limit set on a
    parent (a container, a Slurm job, a systemd slice) binds too. The hierarchy roots come last (a
    container with its own cgroup namespace sees its cgroup there)."""
    files: list[Path] = []
    lines: list[str] = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        lines = proc_cgroup.read_text().splitlines()
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:  # v2 (unified); also mounted under unified/ on hybrid hosts
            places = [(root, "memory.max"), (root / "unified", "memory.max")]
        elif "memory" in controllers.split(","):  # v1 memory controller
            places = [(root / "memory", "memory.limit_in_bytes")]
        else:
            continue
        rel = Path(path.lstrip("/"))
        for base, name in places:
            d = base / rel
            while True:
                files.append(d / name)
                if d == base or base not in d.parents:
                    break
                d = d.parent
    files += [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    return list(dict.fromkeys(files))


def cgroup_memory_limit(root: Path | None = None, proc_cgroup: Path | None = None) -> int | None:
    """The tightest cgroup memory limit over this process (v2 memory.max, v1 memory.limit_in_bytes), or
    None where there is none ("max", a huge number, or no cgroup files). Paths: CGROUP_ROOT and
    PROC_SELF_CGROUP unless given."""
    limits: list[int] = []
    for f in _cgroup_limit_files(root or CGROUP_ROOT, proc_cgroup or PROC_SELF_CGROUP):
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            text = f.read_text().strip()
            if text.isdigit() and int(text) < _NO_LIMIT:
                limits.append(int(text))
    return min(limits) if limits else None


def machine_memory() -> int | None:
    """Physical memory, or the cgroup's limit where that is lower (containers, Slurm jobs)."""
    sizes: list[int] = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    cgroup = cgroup_memory_limit()
    if cgroup is not None:
        sizes.append(cgroup)
    return min(sizes) if sizes else None


def default_max_env_memory() -> int:
    """Half the machine's memory: the learner (network, replay buffer) needs the rest."""
    mem = machine_memory()
    return mem // 2 if mem else 8 << 30


def env_memory_budget(asked: int | None, cgroup_limit: int | None) -> int:
    """The env memory budget in force: --max-env-memory (or half the machine), never more than the cgroup
    allows (past it the kernel kills the server, or the learner beside it, mid-make)."""
    budget = asked if asked is not None else default_max_env_memory()
    if cgroup_limit is not None and budget > cgroup_limit:
        log.warning(
            "--max-env-memory %s is more than this cgroup's memory limit of %s: using %s",
            format_bytes(budget),
            format_bytes(cgroup_limit),
            format_bytes(cgroup_limit),
        )
        budget = cgroup_limit
    return budget


def check_memory(needed: int, formula: str, in_use: int, budget: int, cgroup_limit: int | None) -> None:
    if in_use + needed > budget:
        capped = " (capped at the cgroup's memory limit)" if cgroup_limit is not None and budget == cgroup_limit else ""
        raise BridgeError(
            "limit",
            f"this make needs about {format_bytes(needed)} ({formula}); the server's env memory budget is "
            f"{format_bytes(budget)}{capped} with {format_bytes(in_use)} in use (--max-env-memory); "
            "ask for fewer envs or smaller observations",
            neededBytes=needed,
            budgetBytes=budget,
            inUseBytes=in_use,
        )


def check_frame_sizes(num_envs: int, obs_bytes: int, final_obs: bool, max_obs: int, max_reply: int) -> None:
    """One observation and one step reply must fit their caps: the memory budget alone let a 1-env make
    with 201 MB observations through, and every step then packed and sent 201 MB."""
    if obs_bytes > max_obs:
        raise BridgeError(
            "limit",
            f"one observation of this make is {format_bytes(obs_bytes)}, more than the server allows "
            f"({format_bytes(max_obs)}, --max-obs-bytes); ask for smaller frames or fewer stacked frames",
            obsBytes=obs_bytes,
            maxObsBytes=max_obs,
        )
    reply = largest_reply_bytes(num_envs, obs_bytes, final_obs)
    if reply > max_reply:
        copies = "2 x " if final_obs else ""
        raise BridgeError(
            "limit",
            f"a step reply of this make can reach {format_bytes(reply)} ({copies}{num_envs} envs x "
            f"{format_bytes(obs_bytes)} observation), more than the server sends ({format_bytes(max_reply)}, "
            "--max-reply-bytes); ask for fewer envs per make, smaller observations or finalObs false",
            replyBytes=reply,
            maxReplyBytes=max_reply,
        )


def plan_capacity(ctx: zmq.Context[zmq.Socket[bytes]], wanted_groups: int) -> int:
    """How many env groups this process can hold: raises the soft open-files limit towards what
    `wanted_groups` need (up to the hard limit) and the context's socket limit (pyzmq's default is
    1,023 sockets; past it ctx.socket() fails with 'Too many open files'). Returns the group cap."""
    fd_limit: int | None = None
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = RESERVED_FDS + FDS_PER_GROUP * wanted_groups
        if soft != resource.RLIM_INFINITY and soft < need:
            new = need if hard == resource.RLIM_INFINITY else min(need, hard)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
                soft = new
        fd_limit = None if soft == resource.RLIM_INFINITY else soft
    except ImportError:  # not on Linux or macOS
        pass
    groups = wanted_groups
    if fd_limit is not None:
        groups = min(groups, max(1, (fd_limit - RESERVED_FDS) // FDS_PER_GROUP))
    groups = min(groups, int(ctx.get(zmq.SOCKET_LIMIT)) - RESERVED_SOCKETS)
    ctx.set(zmq.MAX_SOCKETS, groups + RESERVED_SOCKETS)
    if groups < wanted_groups:
        log.warning(
            "hosting at most %d env groups, not %d: the open-files limit is %s (raise it with ulimit -n)",
            groups,
            wanted_groups,
            fd_limit,
        )
    return groups
