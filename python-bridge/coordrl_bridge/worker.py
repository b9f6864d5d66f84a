"""The worker thread of one env group: owns the group and its data socket, serves reset/step/ping/stats.

ale-py releases the GIL while its C++ threads emulate, so groups step concurrently, and a step costs one
thread wake-up and no hop through another thread.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from typing import Any

import zmq

from coordrl_bridge.backends.base import EnvGroup
from coordrl_bridge.protocol import (
    MAX_SEED,
    BridgeError,
    error_header,
    error_reply,
    get_bytes,
    get_opt_int,
    ok_header,
    pack,
    preview,
    read_request,
    reset_reply,
    step_reply,
)

log = logging.getLogger("coordrl_bridge")

GROUP_OPS = "reset, step, ping, stats"


class GroupWorker:
    """Owns one EnvGroup and its data socket (bound by the caller); serves that group's requests on its own
    thread. Reclaimed (see `reclaim`), it closes its envs and answers every request with `reclaimed`."""

    def __init__(
        self,
        *,
        handle: int,
        owner: bytes,
        group: EnvGroup,
        memory: int,
        sock: zmq.Socket[bytes],
        endpoint: str,
        max_message_size: int,
    ) -> None:
        self.handle = handle
        self.owner = owner
        self.group = group
        self.memory = memory  # bytes reserved in the server's env memory budget until the group is closed
        self.token = secrets.token_bytes(16)
        self.stop_event = threading.Event()
        self.reclaimed: str | None = None  # why the server took the envs back; set once by the control thread
        self.last_active = time.monotonic()  # written by this worker's thread, read by the control thread
        self.busy = False  # serving a request right now (a long step is activity too)
        self.max_message_size = max_message_size
        # Where a step's time goes on this side (the `stats` op reads them; `coordrl bench train --profile`):
        # two perf_counter calls per request, ~0.1 us.
        self.steps = 0
        self.step_seconds = 0.0  # inside the env group's step (the env itself, autoreset, bookkeeping)
        self.serve_seconds = 0.0  # the whole request: decode, checks, step, reply packing
        self.sock = sock
        self.endpoint = endpoint
        self.thread = threading.Thread(target=self._run, name=f"env-group-{handle}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def reclaim(self, reason: str) -> None:
        """From the control thread: the envs are closed on this worker's thread (which owns them) within
        a receive timeout; the socket stays to tell the client, until `stop`."""
        self.reclaimed = reason

    def idle_since(self) -> float | None:
        """When this group last served a request; None while it is serving one."""
        return None if self.busy else self.last_active

    def _run(self) -> None:
        sock = self.sock
        sock.rcvtimeo = 200  # wake up now and then to see whether the group was closed or reclaimed
        envs_open = True
        try:
            while not self.stop_event.is_set():
                if self.reclaimed is not None and envs_open:
                    envs_open = False
                    with contextlib.suppress(Exception):
                        self.group.close()
                try:
                    frames = sock.recv_multipart()
                except zmq.Again:
                    continue
                self.busy = True
                self.last_active = time.monotonic()
                t0 = time.perf_counter()
                reply = self._serve(frames)
                self.serve_seconds += time.perf_counter() - t0
                sock.send_multipart([frames[0], *reply], copy=False)
                self.last_active = time.monotonic()
                self.busy = False
        except zmq.ZMQError as e:
            if not self.stop_event.is_set():
                log.error("env group %d: socket error: %s", self.handle, e)
        finally:
            self.busy = False
            sock.close(linger=0)
            if envs_open:
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
            if self.reclaimed is not None:
                raise BridgeError("reclaimed", self.reclaimed, handle=self.handle)
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
