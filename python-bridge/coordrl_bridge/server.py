"""The environment server: its lifecycle and the control channel.

Control channel: one ROUTER socket (the endpoint printed in the ready line) for hello, make, close,
ping and shutdown. Data channels: every env group made gets its own ROUTER socket and worker thread
(worker.py), which receives that group's reset/step requests, steps the environments and replies
directly. Where the server listens is endpoints.py; its caps are limits.py; who holds which groups,
and whose groups are reclaimed when the server is short, is sessions.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import ale_py
import gymnasium
import numpy as np
import zmq

from coordrl_bridge import __version__
from coordrl_bridge.backends.base import EnvGroup
from coordrl_bridge.endpoints import Endpoints
from coordrl_bridge.games import resolve_env
from coordrl_bridge.hosting import GroupPlan, build_group, plan_group
from coordrl_bridge.limits import (
    DEFAULT_MAX_GROUPS,
    DEFAULT_MAX_GROUPS_PER_CLIENT,
    DEFAULT_MAX_OBS_BYTES,
    DEFAULT_MAX_REPLY_BYTES,
    TOMBSTONE_SLOTS,
    cgroup_memory_limit,
    check_frame_sizes,
    check_memory,
    env_memory_budget,
    plan_capacity,
)
from coordrl_bridge.protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    PROTOCOL_VERSION,
    SERVER_NAME,
    BridgeError,
    error_reply,
    get_int,
    get_map,
    get_str,
    ok_header,
    pack,
    preview,
    read_request,
)
from coordrl_bridge.sessions import DEFAULT_RECLAIM_IDLE, Holding, Session, last_activity, reclaim_victims
from coordrl_bridge.worker import GroupWorker

log = logging.getLogger("coordrl_bridge")

CONTROL_OPS = "hello, ping, make, close, shutdown"
TOMBSTONE_SECONDS = 600.0  # how long a reclaimed group answers `reclaimed` at most (TOMBSTONE_SLOTS of them)
RECLAIMED_HANDLES = 4096  # reclaimed handles remembered for `close` (a few bytes each)


@dataclass
class ServerConfig:
    bind: str | None = None  # None: private ipc:// endpoint in a fresh 0700 temp dir
    keys_dir: Path | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_envs: int = 1024
    max_groups: int = DEFAULT_MAX_GROUPS  # env groups hosted at most (lowered to what the process can hold)
    max_groups_per_client: int = DEFAULT_MAX_GROUPS_PER_CLIENT
    max_env_memory: int | None = None  # bytes the envs may take, by estimate; None: default_max_env_memory()
    max_obs_bytes: int = DEFAULT_MAX_OBS_BYTES  # one env's observation
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES  # one step reply, all frames together
    session_timeout: float = 3600.0  # seconds without requests before a client's envs are closed; 0: never
    reclaim_idle: float = DEFAULT_RECLAIM_IDLE  # under pressure, reclaim clients silent this long; 0: never
    managed: bool = False  # started by a learner: ignore SIGINT (the parent decides), allow 'shutdown'
    parent_pid: int | None = None  # exit when this process is gone
    exit_on_stdin_eof: bool = False  # exit when stdin closes (the parent's end of the pipe died)


@dataclass
class PendingMake:
    """A make being built on its own thread; the control thread sends the reply when it is done."""

    ident: bytes
    req_id: int
    plan: GroupPlan
    group: EnvGroup | None = None
    error: BridgeError | None = None


def _set_parent_death_signal() -> None:
    """Linux: the kernel sends SIGTERM to us when the parent dies (belt and braces with the ppid check)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Server:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.max_groups = plan_capacity(self.ctx, cfg.max_groups)  # before the first socket
        self.cgroup_limit = cgroup_memory_limit()
        self.max_env_memory = env_memory_budget(cfg.max_env_memory, self.cgroup_limit)
        self.stop_reason: str | None = None
        self.workers: dict[int, GroupWorker] = {}
        self.sessions: dict[bytes, Session] = {}
        # Reclaimed groups still answering their client (oldest first), and the handles reclaimed, by owner.
        self.tombstones: deque[tuple[float, GroupWorker]] = deque()
        self.reclaimed: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self.stopping: list[GroupWorker] = []  # stopped workers whose threads may still hold their socket
        self.next_handle = 1
        self.envs_in_use = 0  # hosted and being built
        self.memory_in_use = 0  # estimated bytes of the groups hosted and being built
        self.makes_pending = 0
        self.made: queue.SimpleQueue[PendingMake] = queue.SimpleQueue()
        # make threads write a byte here when done: the control loop polls it next to the router socket
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.initial_ppid = os.getppid()
        self.endpoints = Endpoints(self.ctx, cfg.bind, cfg.keys_dir, cfg.max_message_size)
        self.router = self.endpoints.router
        self.endpoint = self.endpoints.endpoint

    def ready_line(self) -> str:
        public_key = self.endpoints.public_key
        return json.dumps(
            {
                "event": "ready",
                "endpoint": self.endpoint,
                "protocol": PROTOCOL_VERSION,
                "pid": os.getpid(),
                "curve": public_key is not None,
                "serverPublicKey": None if public_key is None else public_key.decode(),
            }
        )

    # ---- lifecycle -------------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self.stop_reason = f"signal {signal.Signals(signum).name}"

        signal.signal(signal.SIGTERM, on_signal)
        with contextlib.suppress(AttributeError, ValueError):
            signal.signal(signal.SIGHUP, on_signal)
        if self.cfg.managed:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C goes to the learner; it closes us
        else:
            signal.signal(signal.SIGINT, on_signal)
        if self.cfg.managed or self.cfg.parent_pid is not None:
            _set_parent_death_signal()
        if self.cfg.exit_on_stdin_eof:
            threading.Thread(target=self._watch_stdin, name="stdin-watch", daemon=True).start()

    def _watch_stdin(self) -> None:
        with contextlib.suppress(Exception):
            while sys.stdin.buffer.read(4096):
                pass
        self.stop_reason = self.stop_reason or "stdin closed (parent gone)"

    def _check_parent(self) -> None:
        if not (self.cfg.managed or self.cfg.parent_pid is not None):
            return
        if os.getppid() != self.initial_ppid:
            self.stop_reason = "parent process exited"
        elif self.cfg.parent_pid is not None and not _pid_alive(self.cfg.parent_pid):
            self.stop_reason = f"parent process {self.cfg.parent_pid} exited"

    def _sweep_sessions(self, now: float) -> None:
        if self.cfg.session_timeout > 0:
            for ident, s in list(self.sessions.items()):
                if s.pending:
                    continue
                active = self._activity(s)
                if active is not None and now - active > self.cfg.session_timeout:
                    log.info("closing %d env group(s) of an idle client", len(s.handles))
                    for h in list(s.handles):
                        self._close_group(h, ident)
                    self.sessions.pop(ident, None)
        while self.tombstones and now - self.tombstones[0][0] > TOMBSTONE_SECONDS:
            self._retire(self.tombstones.popleft()[1])
        self.stopping = [w for w in self.stopping if w.thread.is_alive()]

    def serve(self) -> int:
        self._install_signals()
        sys.stdout.write(self.ready_line() + "\n")
        sys.stdout.flush()
        log.info("listening on %s (protocol %d)", self.endpoint, PROTOCOL_VERSION)
        next_check = 0.0
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.wake_r, zmq.POLLIN)
        try:
            while self.stop_reason is None:
                ready = dict(poller.poll(200))
                if self.router in ready:
                    self._drain_requests()
                if self.wake_r in ready:
                    self._finish_makes()
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 0.25
                    try:
                        self._check_parent()
                        self._sweep_sessions(now)
                    except Exception:  # housekeeping must not end the server either
                        log.exception("internal error in the server's housekeeping")
        except KeyboardInterrupt:
            self.stop_reason = "interrupted"
        log.info("stopping: %s", self.stop_reason)
        self.close()
        return 0

    def close(self) -> None:
        workers = [*self.workers.values(), *(w for _, w in self.tombstones), *self.stopping]
        for w in workers:
            w.stop()
        deadline = time.monotonic() + 3.0
        for w in workers:
            w.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = any(w.thread.is_alive() for w in workers)
        self.workers.clear()
        self.tombstones.clear()
        self.stopping.clear()
        self.endpoints.close(term_context=not stuck)
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ---- control channel -------------------------------------------------------------------------------

    def _drain_requests(self) -> None:
        for _ in range(64):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            ident = frames[0]
            req_id: int | None = None
            try:
                req_id, h = read_request(frames, self.cfg.max_message_size)
                assert req_id is not None
                session = self.sessions.get(ident)
                if session is not None:
                    session.last_seen = time.monotonic()
                reply = self._handle(ident, session, req_id, h)
            except BridgeError as e:
                log.debug("request error: %s", e.message)
                reply = error_reply(e, req_id)
            except Exception as e:  # a bug here must cost one request, never the server
                log.exception("internal error while handling a request")
                err = BridgeError("internal_error", f"internal error in the env server: {type(e).__name__}: {e}")
                reply = error_reply(err, req_id)
            if reply is not None:  # None: a make being built answers when done
                self._send(ident, reply)

    def _send(self, ident: bytes, reply: list[Any]) -> None:
        try:
            self.router.send_multipart([ident, *reply], copy=False)
        except zmq.ZMQError as e:  # the client is gone or its queue is full: its loss, not everyone's
            log.warning("could not send a reply: %s", e)

    def _handle(self, ident: bytes, session: Session | None, req_id: int, h: dict[str, Any]) -> list[Any] | None:
        op = h.get("op")
        if op == "ping":
            return [pack(ok_header(req_id, "ping"))]
        if op == "hello":
            return [pack(ok_header(req_id, "hello", **self._hello_info()))]
        if op == "make":
            self._make(ident, req_id, h)
            return None
        if op == "close":
            handle = get_int(h, "handle", 0, 2**31 - 1)
            if session is None or handle not in session.handles:
                reclaimed = self.reclaimed.get(handle)
                if reclaimed is not None and reclaimed[0] == ident:
                    raise BridgeError("reclaimed", reclaimed[1], handle=handle)
                raise BridgeError("bad_handle", f"no environment with handle {handle} on this connection")
            self._close_group(handle, ident)
            return [pack(ok_header(req_id, "close", handle=handle))]
        if op == "shutdown":
            if not self.cfg.managed:
                raise BridgeError("not_allowed", "shutdown is only allowed for a server started by its learner")
            self.stop_reason = "shutdown requested"
            return [pack(ok_header(req_id, "shutdown"))]
        if op in ("reset", "step"):
            raise BridgeError("wrong_channel", f"'{op}' goes to the env group's own endpoint (from the make reply)")
        raise BridgeError("unknown_op", f"unknown op {preview(op)}; known ops: {CONTROL_OPS}")

    def _hello_info(self) -> dict[str, Any]:
        return {
            "server": SERVER_NAME,
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "maxMessageSize": self.cfg.max_message_size,
            "maxEnvs": self.cfg.max_envs,
            "envsInUse": self.envs_in_use,
            "maxGroups": self.max_groups,
            "maxGroupsPerClient": self.cfg.max_groups_per_client,
            "groupsInUse": len(self.workers) + self.makes_pending,
            "maxEnvMemory": self.max_env_memory,
            "envMemoryInUse": self.memory_in_use,
            "maxObsBytes": self.cfg.max_obs_bytes,
            "maxReplyBytes": self.cfg.max_reply_bytes,
            "reclaimIdle": self.cfg.reclaim_idle,
            "versions": {
                "python": sys.version.split()[0],
                "gymnasium": gymnasium.__version__,
                "ale_py": ale_py.__version__,
                "numpy": np.__version__,
                "pyzmq": zmq.__version__,
                "libzmq": zmq.zmq_version(),
            },
        }

    # ---- make ------------------------------------------------------------------------------------------

    def _make(self, ident: bytes, req_id: int, h: dict[str, Any]) -> None:
        """Checks a make against every limit (reclaiming idle clients' groups where that makes room) and
        reserves its share, then builds it on its own thread (ale-py takes ~80 ms per env) so that the
        control channel keeps serving; see _finish_makes."""
        name = get_str(h, "env")
        num_envs = get_int(h, "numEnvs", 1, self.cfg.max_envs)
        options = get_map(h, "options")
        atari = get_map(h, "atari")
        minatar = get_map(h, "minatar")
        plan = plan_group(resolve_env(name), num_envs, options, atari, minatar)
        session = self.sessions.get(ident)
        client_groups = 0 if session is None else len(session.handles) + session.pending
        frame_error: BridgeError | None = None
        try:  # Gymnasium observations are sized once built (see _finish_make)
            check_frame_sizes(
                num_envs,
                plan.obs_bytes,
                bool(plan.options["finalObs"]),
                self.cfg.max_obs_bytes,
                self.cfg.max_reply_bytes,
            )
        except BridgeError as e:
            frame_error = e
        if frame_error is None and client_groups < self.cfg.max_groups_per_client:
            self._make_room(ident, num_envs, plan.memory.bytes)
        groups = len(self.workers) + self.makes_pending
        if groups >= self.max_groups:
            raise BridgeError(
                "limit",
                f"this server hosts at most {self.max_groups} env groups and has {groups}; close some "
                "(or start the server with a larger --max-groups)",
            )
        if client_groups >= self.cfg.max_groups_per_client:
            raise BridgeError(
                "limit",
                f"this connection has {client_groups} env groups, the most one client may have "
                f"(--max-groups-per-client {self.cfg.max_groups_per_client}); close some first",
            )
        if self.envs_in_use + num_envs > self.cfg.max_envs:
            raise BridgeError(
                "limit",
                f"this server hosts at most {self.cfg.max_envs} envs; {self.envs_in_use} in use, {num_envs} asked",
            )
        self._check_memory(plan.memory.bytes, plan.memory.formula, self.memory_in_use)
        if frame_error is not None:
            raise frame_error
        pending = PendingMake(ident, req_id, plan)
        thread = threading.Thread(target=self._build, args=(pending,), name=f"make-{req_id}", daemon=True)
        try:
            thread.start()
        except RuntimeError as e:  # "can't start new thread": out of threads or memory
            raise BridgeError("limit", f"cannot start a thread to build the envs: {e}") from None
        if session is None:
            session = self.sessions[ident] = Session(time.monotonic())
        session.pending += 1
        self.makes_pending += 1
        self.envs_in_use += num_envs
        self.memory_in_use += plan.memory.bytes

    def _check_memory(self, needed: int, formula: str, in_use: int) -> None:
        check_memory(needed, formula, in_use, self.max_env_memory, self.cgroup_limit)

    def _build(self, p: PendingMake) -> None:
        """Make thread: builds the group; never touches sockets (the control thread owns them)."""
        try:
            p.group = build_group(p.plan)
        except BridgeError as e:
            p.error = e
        except Exception as e:
            log.exception("make %s x%d failed", p.plan.resolved.name, p.plan.num_envs)
            p.error = BridgeError("env_error", f"cannot create '{p.plan.resolved.name}': {type(e).__name__}: {e}")
        finally:
            self.made.put(p)
            with contextlib.suppress(BlockingIOError):  # a full pipe already holds a wake-up
                os.write(self.wake_w, b"\0")

    def _finish_makes(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.wake_r, 4096)
        while True:
            try:
                p = self.made.get_nowait()
            except queue.Empty:
                return
            try:
                reply = self._finish_make(p)
            except BridgeError as e:
                reply = error_reply(e, p.req_id)
            except Exception as e:
                log.exception("internal error while finishing a make")
                reply = error_reply(BridgeError("internal_error", f"internal error: {type(e).__name__}: {e}"), p.req_id)
            self._send(p.ident, reply)

    def _finish_make(self, p: PendingMake) -> list[Any]:
        session = self.sessions.get(p.ident)
        if session is not None:
            session.pending -= 1
        self.makes_pending -= 1
        reserved = p.plan.memory.bytes
        group = p.group
        if group is None:
            self.envs_in_use -= p.plan.num_envs
            self.memory_in_use -= reserved
            self._forget_if_empty(p.ident)
            raise p.error or BridgeError("internal_error", "make failed without an error")
        try:
            # Gymnasium envs: the observation size is known only now
            actual = group.memory()
            if actual.bytes > reserved:
                self._check_memory(actual.bytes, actual.formula, self.memory_in_use - reserved)
            check_frame_sizes(
                group.num_envs,
                group.obs_bytes(),
                bool(p.plan.options["finalObs"]),
                self.cfg.max_obs_bytes,
                self.cfg.max_reply_bytes,
            )
            memory = max(actual.bytes, reserved)
            handle = self.next_handle
            sock, endpoint = self._data_socket(handle)
            w = GroupWorker(
                handle=handle,
                owner=p.ident,
                group=group,
                memory=memory,
                sock=sock,
                endpoint=endpoint,
                max_message_size=self.cfg.max_message_size,
            )
        except BaseException as e:
            self.envs_in_use -= p.plan.num_envs
            self.memory_in_use -= reserved
            with contextlib.suppress(Exception):
                group.close()
            self._forget_if_empty(p.ident)
            if isinstance(e, zmq.ZMQError):
                raise BridgeError("limit", f"cannot open a socket for the env group: {e}") from None
            raise
        self.next_handle += 1
        self.memory_in_use += memory - reserved
        self.workers[handle] = w
        if session is None:  # swept meanwhile: the group still belongs to this connection
            session = self.sessions[p.ident] = Session(time.monotonic())
        session.handles.add(handle)
        log.info("made env group %d: %s x%d at %s", handle, group.env_name, group.num_envs, w.endpoint)
        return [pack(ok_header(p.req_id, "make", handle=handle, endpoint=w.endpoint, token=w.token, spec=group.spec()))]

    def _data_socket(self, handle: int) -> tuple[zmq.Socket[bytes], str]:
        try:
            return self.endpoints.data_socket(handle)
        except zmq.ZMQError:
            # Closed groups' threads release their sockets within a receive timeout; when a make comes
            # in that window at the socket cap, wait for them once.
            alive = [w for w in self.stopping if w.thread.is_alive()]
            if not alive:
                raise
            deadline = time.monotonic() + 1.0
            for w in alive:
                w.thread.join(max(0.0, deadline - time.monotonic()))
            self.stopping = [w for w in alive if w.thread.is_alive()]
            return self.endpoints.data_socket(handle)

    # ---- closing and reclaiming groups -----------------------------------------------------------------

    def _forget_if_empty(self, ident: bytes) -> None:
        s = self.sessions.get(ident)
        if s is not None and not s.handles and not s.pending:
            del self.sessions[ident]

    def _release(self, handle: int, ident: bytes) -> GroupWorker | None:
        """Takes a group out of the books (its envs, memory and place); the caller stops its worker."""
        w = self.workers.pop(handle, None)
        session = self.sessions.get(ident)
        if session is not None:
            session.handles.discard(handle)
            if not session.handles and not session.pending:
                del self.sessions[ident]  # sessions stay bounded by the groups hosted
        if w is not None:
            self.envs_in_use -= w.group.num_envs
            self.memory_in_use -= w.memory
        return w

    def _close_group(self, handle: int, ident: bytes) -> None:
        w = self._release(handle, ident)
        if w is not None:
            self._retire(w)

    def _retire(self, w: GroupWorker) -> None:
        w.stop()
        self.stopping.append(w)

    def _activity(self, s: Session) -> float | None:
        return last_activity(s, (self.workers[h].idle_since() for h in s.handles if h in self.workers))

    def _holding(self, s: Session) -> Holding:
        ws = [self.workers[h] for h in s.handles if h in self.workers]
        return Holding(len(ws), sum(w.group.num_envs for w in ws), sum(w.memory for w in ws))

    def _make_room(self, ident: bytes, num_envs: int, memory: int) -> None:
        """Where this make would pass the group, env or memory cap, reclaims the groups of the clients idle
        longest (at least --reclaim-idle seconds) until it fits; nothing when it would not fit anyway."""
        if self.cfg.reclaim_idle <= 0:
            return
        need = Holding(
            max(0, len(self.workers) + self.makes_pending + 1 - self.max_groups),
            max(0, self.envs_in_use + num_envs - self.cfg.max_envs),
            max(0, self.memory_in_use + memory - self.max_env_memory),
        )
        if need == Holding(0, 0, 0):
            return
        now = time.monotonic()
        victims = reclaim_victims(
            self.sessions, self._activity, self._holding, need, now=now, min_idle=self.cfg.reclaim_idle, spare=ident
        )
        short = ", ".join(
            what for what, n in (("env groups", need.groups), ("envs", need.envs), ("env memory", need.memory)) if n
        )
        for victim, idle in victims:
            handles = sorted(self.sessions[victim].handles)
            log.warning(
                "reclaiming %d env group(s) of a client silent for %.0f s: the server is short of %s",
                len(handles),
                idle,
                short,
            )
            for handle in handles:
                reason = (
                    f"env group {handle} was reclaimed by the server: its client had sent nothing for {idle:.0f} s "
                    f"while another client's make needed {short} (--reclaim-idle {self.cfg.reclaim_idle:g} s); "
                    "make the group again"
                )
                w = self._release(handle, victim)
                if w is None:
                    continue
                w.reclaim(reason)  # its socket answers `reclaimed` for a while (a tombstone)
                self.tombstones.append((now, w))
                if len(self.tombstones) > TOMBSTONE_SLOTS:
                    self._retire(self.tombstones.popleft()[1])
                self.reclaimed[handle] = (victim, reason)
                if len(self.reclaimed) > RECLAIMED_HANDLES:
                    self.reclaimed.popitem(last=False)


def run_server(cfg: ServerConfig) -> int:
    try:
        server = Server(cfg)
    except BridgeError as e:
        log.error("%s", e.message)
        return 2
    except (zmq.ZMQError, OSError, ValueError) as e:
        log.error("cannot start the server: %s", e)
        return 1
    return server.serve()
