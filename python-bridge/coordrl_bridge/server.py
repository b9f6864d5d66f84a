"""The environment server.

Control channel: one ROUTER socket (the endpoint printed in the ready line) for hello, make, close,
ping and shutdown. Data channels: every env group made gets its own ROUTER socket and worker thread,
which receives that group's reset/step requests, steps the environments (ale-py releases the GIL
while its C++ threads emulate) and replies directly. Groups therefore step concurrently and a step
costs one thread wake-up and no hop through another thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import secrets
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import ale_py
import gymnasium
import numpy as np
import zmq

from coordrl_bridge import __version__
from coordrl_bridge.games import resolve_env
from coordrl_bridge.hosting import EnvGroup, GroupPlan, ResetOut, StepOut, build_group, format_bytes, plan_group
from coordrl_bridge.protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MAX_REQUEST_ID,
    MAX_SEED,
    PROTOCOL_VERSION,
    SERVER_NAME,
    BridgeError,
    check_keys,
    get_bytes,
    get_int,
    get_map,
    get_opt_int,
    get_str,
    pack,
    preview,
    unpack_header,
)
from coordrl_bridge.security import (
    endpoint_needs_curve,
    key_permission_warnings,
    load_server_keys,
    start_authenticator,
)
from coordrl_bridge.tmpdirs import make_private_dir, remove_stale_dirs

log = logging.getLogger("coordrl_bridge")

CONTROL_OPS = "hello, ping, make, close, shutdown"
GROUP_OPS = "reset, step, ping, stats"


# File descriptors and ZeroMQ sockets: a group's data socket takes its mailbox, its listener and one per
# connected client; the rest is Python, libzmq's I/O thread, ROM files and the control socket.
FDS_PER_GROUP = 4
RESERVED_FDS = 128
RESERVED_SOCKETS = 8  # the control socket and the ZAP authenticator's sockets, with room to spare
DEFAULT_MAX_GROUPS = 256
DEFAULT_MAX_GROUPS_PER_CLIENT = 64


def machine_memory() -> int | None:
    """Physical memory, or the cgroup's limit where that is lower (containers, Slurm jobs)."""
    sizes: list[int] = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            text = Path(path).read_text().strip()
            if text.isdigit() and int(text) < 1 << 60:  # "max" or a huge number: no limit
                sizes.append(int(text))
    return min(sizes) if sizes else None


def default_max_env_memory() -> int:
    """Half the machine's memory: the learner (network, replay buffer) needs the rest."""
    mem = machine_memory()
    return mem // 2 if mem else 8 << 30


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


@dataclass
class ServerConfig:
    bind: str | None = None  # None: private ipc:// endpoint in a fresh 0700 temp dir
    keys_dir: Path | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_envs: int = 1024
    max_groups: int = DEFAULT_MAX_GROUPS  # env groups hosted at most (lowered to what the process can hold)
    max_groups_per_client: int = DEFAULT_MAX_GROUPS_PER_CLIENT
    max_env_memory: int | None = None  # bytes the envs may take, by estimate; None: default_max_env_memory()
    session_timeout: float = 3600.0  # seconds without requests before a client's envs are closed; 0: never
    managed: bool = False  # started by a learner: ignore SIGINT (the parent decides), allow 'shutdown'
    parent_pid: int | None = None  # exit when this process is gone
    exit_on_stdin_eof: bool = False  # exit when stdin closes (the parent's end of the pipe died)


@dataclass
class Session:
    """A client connection (ROUTER identity) that made env groups."""

    last_seen: float
    handles: set[int] = field(default_factory=set)
    pending: int = 0  # makes being built


@dataclass
class PendingMake:
    """A make being built on its own thread; the control thread sends the reply when it is done."""

    ident: bytes
    req_id: int
    plan: GroupPlan
    group: EnvGroup | None = None
    error: BridgeError | None = None


def ok_header(req_id: int, op: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": True, "op": op, **fields}


def error_header(req_id: int | None, err: BridgeError) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": False, "error": err.to_wire()}


_DTYPE_NAMES = {np.dtype(np.uint8): "uint8", np.dtype(np.float32): "float32"}  # dtype.name is slow


def _frame_desc(name: str, arr: np.ndarray[Any, Any], **extra: Any) -> dict[str, Any]:
    dtype = _DTYPE_NAMES.get(arr.dtype) or arr.dtype.name
    return {"name": name, "dtype": dtype, "shape": list(arr.shape), **extra}


def step_reply(req_id: int, handle: int, out: StepOut, step_us: int = 0) -> list[Any]:
    frames: list[Any] = [out.obs]
    descs = [_frame_desc("obs", out.obs)]
    if out.final_obs is not None:
        descs.append(_frame_desc("final_obs", out.final_obs, indices=out.final_index.tolist()))
        frames.append(out.final_obs)
    hdr = ok_header(
        req_id,
        "step",
        handle=handle,
        rewards=out.rewards.tobytes(),
        terminated=out.terminated.tobytes(),
        truncated=out.truncated.tobytes(),
        lives=None if out.lives is None else out.lives.tobytes(),
        episodes=out.episodes,
        frames=descs,
        step_us=step_us,
    )
    return [pack(hdr), *frames]


def reset_reply(req_id: int, handle: int, out: ResetOut) -> list[Any]:
    hdr = ok_header(
        req_id,
        "reset",
        handle=handle,
        lives=None if out.lives is None else out.lives.astype("<i4").tobytes(),
        frames=[_frame_desc("obs", out.obs)],
    )
    return [pack(hdr), out.obs]


def check_version(h: dict[str, Any]) -> None:
    v = h.get("v")
    if v is None:
        raise BridgeError(
            "bad_message", f"missing field 'v' (the protocol version; this server speaks {PROTOCOL_VERSION})"
        )
    if type(v) is not int:  # 1.0 == 1 and True == 1 in Python: neither is protocol 1
        raise BridgeError(
            "bad_message",
            f"field 'v' (the protocol version) must be an integer, got {type(v).__name__} {preview(v)}; "
            f"this server speaks {PROTOCOL_VERSION}",
        )
    if v != PROTOCOL_VERSION:
        raise BridgeError(
            "version_mismatch",
            f"protocol version mismatch: the client speaks {v}, this server ({SERVER_NAME} {__version__}) "
            f"speaks {PROTOCOL_VERSION}; use a client and server from the same coordconv-rl release",
            serverProtocol=PROTOCOL_VERSION,
        )


def read_request(frames: list[bytes], max_size: int) -> tuple[int | None, dict[str, Any]]:
    """Decodes and checks a request's envelope. Returns (request id, header); raises BridgeError with the
    id (when it could be read) in `extra['id']`."""
    if len(frames) != 2:
        raise BridgeError("bad_message", f"a request is exactly one MessagePack frame, got {len(frames) - 1} frames")
    h = unpack_header(frames[1], max_size)
    raw_id = h.get("id")
    req_id = (
        raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 <= raw_id <= MAX_REQUEST_ID else None
    )
    try:
        check_keys(h)
        check_version(h)
        get_int(h, "id", 0, MAX_REQUEST_ID)
    except BridgeError as e:
        e.extra.setdefault("id", req_id)
        raise
    return req_id, h


def error_reply(e: BridgeError, req_id: int | None) -> list[Any]:
    """The reply to a failed request; the id comes from the error when the envelope check failed."""
    rid = e.extra.pop("id", req_id)
    return [pack(error_header(rid, e))]


class GroupWorker:
    """Owns one EnvGroup and its data socket; serves that group's requests on its own thread."""

    def __init__(self, server: Server, handle: int, owner: bytes, group: EnvGroup, memory: int) -> None:
        self.handle = handle
        self.owner = owner
        self.group = group
        self.memory = memory  # bytes reserved in the server's env memory budget until the group is closed
        self.token = secrets.token_bytes(16)
        self.stop_event = threading.Event()
        self.last_active = time.monotonic()
        self.max_message_size = server.cfg.max_message_size
        # Where a step's time goes on this side (the `stats` op reads them; `coordrl bench train --profile`):
        # two perf_counter calls per request, ~0.1 us.
        self.steps = 0
        self.step_seconds = 0.0  # inside the env group's step (the env itself, autoreset, bookkeeping)
        self.serve_seconds = 0.0  # the whole request: decode, checks, step, reply packing
        self.sock = server.data_socket()
        self.endpoint = server.bind_data_socket(self.sock, handle)
        self.thread = threading.Thread(target=self._run, name=f"env-group-{handle}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        sock = self.sock
        sock.rcvtimeo = 200  # wake up now and then to see whether the group was closed
        try:
            while not self.stop_event.is_set():
                try:
                    frames = sock.recv_multipart()
                except zmq.Again:
                    continue
                self.last_active = time.monotonic()
                t0 = time.perf_counter()
                reply = self._serve(frames)
                self.serve_seconds += time.perf_counter() - t0
                sock.send_multipart([frames[0], *reply], copy=False)
        except zmq.ZMQError as e:
            if not self.stop_event.is_set():
                log.error("env group %d: socket error: %s", self.handle, e)
        finally:
            sock.close(linger=0)
            with contextlib.suppress(Exception):
                self.group.close()

    def _serve(self, frames: list[bytes]) -> list[Any]:
        req_id: int | None = None
        op = "?"
        try:
            req_id, h = read_request(frames, self.max_message_size)
            assert req_id is not None
            if h.get("token") != self.token:
                raise BridgeError("bad_token", "missing or wrong 'token' for this env group (see the make reply)")
            op = h["op"] if isinstance(h.get("op"), str) else preview(h.get("op"))
            if op == "step":
                dtype = h.get("dtype")
                if not isinstance(dtype, str):
                    raise BridgeError("bad_actions", "field 'dtype' (the actions' dtype, 'int32') must be a string")
                actions = self.group.check_actions(get_bytes(h, "actions"), dtype)
                t0 = time.perf_counter()
                out = self.group.step(actions)
                # The env's own time, so that a client can tell it from the bridge's (profiles).
                dt = time.perf_counter() - t0
                self.step_seconds += dt
                self.steps += 1
                return step_reply(req_id, self.handle, out, round(dt * 1e6))
            if op == "reset":
                seed = get_opt_int(h, "seed", 0, MAX_SEED - self.group.num_envs)
                return reset_reply(req_id, self.handle, self.group.reset(seed))
            if op == "ping":
                return [pack(ok_header(req_id, "ping"))]
            if op == "stats":
                # serveSeconds includes the requests that are not steps (resets, pings, these).
                return [
                    pack(
                        ok_header(
                            req_id,
                            "stats",
                            steps=self.steps,
                            stepSeconds=self.step_seconds,
                            serveSeconds=self.serve_seconds,
                        )
                    )
                ]
            raise BridgeError("unknown_op", f"unknown op {preview(op)} on an env group channel; known: {GROUP_OPS}")
        except BridgeError as e:
            return error_reply(e, req_id)
        except Exception as e:
            log.exception("env group %d: %s failed", self.handle, op)
            err = BridgeError("env_error", f"{op} failed in the environment: {type(e).__name__}: {e}")
            return [pack(error_header(req_id, err))]


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
        self.max_env_memory = cfg.max_env_memory if cfg.max_env_memory is not None else default_max_env_memory()
        self.stop_reason: str | None = None
        self.workers: dict[int, GroupWorker] = {}
        self.sessions: dict[bytes, Session] = {}
        self.next_handle = 1
        self.envs_in_use = 0  # hosted and being built
        self.memory_in_use = 0  # estimated bytes of the groups hosted and being built
        self.makes_pending = 0
        self.made: queue.SimpleQueue[PendingMake] = queue.SimpleQueue()
        # make threads write a byte here when done: the control loop polls it next to the router socket
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.tmpdir: str | None = None
        self.auth: Any = None
        self.initial_ppid = os.getppid()
        self.public_key: bytes | None = None
        self.secret_key: bytes | None = None
        self.bind_spec = ""
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.setsockopt(zmq.MAXMSGSIZE, cfg.max_message_size)
        self.endpoint = self._bind()

    def _bind(self) -> str:
        bind = self.cfg.bind
        if bind is None:
            remove_stale_dirs()  # left by servers killed with SIGKILL
            self.tmpdir = make_private_dir()  # mode 0700
            bind = f"ipc://{self.tmpdir}/env.sock"
        if not bind.startswith(("ipc://", "tcp://")):
            raise BridgeError("bad_bind", f"--bind: expected ipc://PATH or tcp://HOST:PORT, got {bind!r}")
        if endpoint_needs_curve(bind) and self.cfg.keys_dir is None:
            raise BridgeError(
                "insecure_bind",
                f"refusing to bind {bind} without CURVE: a non-loopback endpoint needs --keys DIR "
                "(create keys with --gen-keys DIR)",
            )
        if self.cfg.keys_dir is not None:
            for warning in key_permission_warnings(self.cfg.keys_dir):
                log.warning("%s", warning)
            self.public_key, self.secret_key = load_server_keys(self.cfg.keys_dir)
            self.auth = start_authenticator(self.ctx, self.cfg.keys_dir)
            self._secure(self.router)
        self.router.bind(bind)
        self.bind_spec = bind
        if bind.startswith("ipc://"):
            with contextlib.suppress(OSError):
                os.chmod(bind[len("ipc://") :], 0o600)
        return self.router.getsockopt_string(zmq.LAST_ENDPOINT)

    def _secure(self, sock: zmq.Socket[bytes]) -> None:
        if self.public_key is not None and self.secret_key is not None:
            sock.curve_server = True
            sock.curve_publickey = self.public_key
            sock.curve_secretkey = self.secret_key

    def data_socket(self) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(zmq.ROUTER)
        sock.linger = 0
        sock.setsockopt(zmq.MAXMSGSIZE, self.cfg.max_message_size)
        self._secure(sock)
        return sock

    def bind_data_socket(self, sock: zmq.Socket[bytes], handle: int) -> str:
        """ipc: a socket next to the control socket; tcp: same interface, a free port."""
        if self.bind_spec.startswith("ipc://"):
            path = f"{self.bind_spec[len('ipc://') :]}.g{handle}"
            sock.bind(f"ipc://{path}")
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)
        else:
            host = self.bind_spec[len("tcp://") :].rsplit(":", 1)[0]
            sock.bind(f"tcp://{host}:0")
        return sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def ready_line(self) -> str:
        return json.dumps(
            {
                "event": "ready",
                "endpoint": self.endpoint,
                "protocol": PROTOCOL_VERSION,
                "pid": os.getpid(),
                "curve": self.public_key is not None,
                "serverPublicKey": None if self.public_key is None else self.public_key.decode(),
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
        if self.cfg.session_timeout <= 0:
            return
        for ident, s in list(self.sessions.items()):
            if s.pending:
                continue
            active = max([s.last_seen] + [self.workers[h].last_active for h in s.handles if h in self.workers])
            if now - active > self.cfg.session_timeout:
                log.info("closing %d env group(s) of an idle client", len(s.handles))
                for h in list(s.handles):
                    self._close_group(h, ident)
                self.sessions.pop(ident, None)

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
        for w in self.workers.values():
            w.stop()
        deadline = time.monotonic() + 3.0
        for w in self.workers.values():
            w.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = any(w.thread.is_alive() for w in self.workers.values())
        self.workers.clear()
        if self.auth is not None:
            with contextlib.suppress(Exception):
                self.auth.stop()
        # a short linger lets the last replies (e.g. to 'shutdown') leave before the context ends
        self.router.close(linger=500)
        if not stuck:
            self.ctx.term()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
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
            "versions": {
                "python": sys.version.split()[0],
                "gymnasium": gymnasium.__version__,
                "ale_py": ale_py.__version__,
                "numpy": np.__version__,
                "pyzmq": zmq.__version__,
                "libzmq": zmq.zmq_version(),
            },
        }

    def _make(self, ident: bytes, req_id: int, h: dict[str, Any]) -> None:
        """Checks a make against every limit and reserves its share, then builds it on its own thread
        (ale-py takes ~80 ms per env) so that the control channel keeps serving; see _finish_makes."""
        name = get_str(h, "env")
        num_envs = get_int(h, "numEnvs", 1, self.cfg.max_envs)
        options = get_map(h, "options")
        atari = get_map(h, "atari")
        minatar = get_map(h, "minatar")
        session = self.sessions.get(ident)
        groups = len(self.workers) + self.makes_pending
        if groups >= self.max_groups:
            raise BridgeError(
                "limit",
                f"this server hosts at most {self.max_groups} env groups and has {groups}; close some "
                "(or start the server with a larger --max-groups)",
            )
        client_groups = 0 if session is None else len(session.handles) + session.pending
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
        plan = plan_group(resolve_env(name), num_envs, options, atari, minatar)
        self._check_memory(plan.memory.bytes, plan.memory.formula)
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

    def _check_memory(self, needed: int, formula: str, in_use: int | None = None) -> None:
        used = self.memory_in_use if in_use is None else in_use
        if used + needed > self.max_env_memory:
            raise BridgeError(
                "limit",
                f"this make needs about {format_bytes(needed)} ({formula}); the server's env memory budget is "
                f"{format_bytes(self.max_env_memory)} with {format_bytes(used)} in use (--max-env-memory); "
                "ask for fewer envs or smaller observations",
                neededBytes=needed,
                budgetBytes=self.max_env_memory,
                inUseBytes=used,
            )

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
            memory = max(actual.bytes, reserved)
            handle = self.next_handle
            w = GroupWorker(self, handle, p.ident, group, memory)
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

    def _forget_if_empty(self, ident: bytes) -> None:
        s = self.sessions.get(ident)
        if s is not None and not s.handles and not s.pending:
            del self.sessions[ident]

    def _close_group(self, handle: int, ident: bytes) -> None:
        w = self.workers.pop(handle, None)
        session = self.sessions.get(ident)
        if session is not None:
            session.handles.discard(handle)
            if not session.handles and not session.pending:
                del self.sessions[ident]  # sessions stay bounded by the groups hosted
        if w is None:
            return
        self.envs_in_use -= w.group.num_envs
        self.memory_in_use -= w.memory
        w.stop()


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
