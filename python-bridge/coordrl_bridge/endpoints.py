"""Where the server listens: the control socket (bound where asked, or in a fresh private ipc:// dir), CURVE
on every socket when keys are given, and one data socket per env group next to the control socket."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import zmq

from coordrl_bridge.protocol import BridgeError
from coordrl_bridge.security import (
    endpoint_needs_curve,
    key_permission_warnings,
    load_server_keys,
    start_authenticator,
)
from coordrl_bridge.tmpdirs import make_private_dir, remove_stale_dirs

log = logging.getLogger("coordrl_bridge")


class Endpoints:
    def __init__(
        self, ctx: zmq.Context[zmq.Socket[bytes]], bind: str | None, keys_dir: Path | None, max_message_size: int
    ) -> None:
        self.ctx = ctx
        self.keys_dir = keys_dir
        self.max_message_size = max_message_size
        self.tmpdir: str | None = None
        self.auth: Any = None
        self.public_key: bytes | None = None
        self.secret_key: bytes | None = None
        self.bind_spec = ""
        self.router = ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.setsockopt(zmq.MAXMSGSIZE, max_message_size)
        self.endpoint = self._bind(bind)

    def _bind(self, bind: str | None) -> str:
        if bind is None:
            remove_stale_dirs()  # left by servers killed with SIGKILL
            self.tmpdir = make_private_dir()  # mode 0700
            bind = f"ipc://{self.tmpdir}/env.sock"
        if not bind.startswith(("ipc://", "tcp://")):
            raise BridgeError("bad_bind", f"--bind: expected ipc://PATH or tcp://HOST:PORT, got {bind!r}")
        if endpoint_needs_curve(bind) and self.keys_dir is None:
            raise BridgeError(
                "insecure_bind",
                f"refusing to bind {bind} without CURVE: a non-loopback endpoint needs --keys DIR "
                "(create keys with --gen-keys DIR)",
            )
        if self.keys_dir is not None:
            for warning in key_permission_warnings(self.keys_dir):
                log.warning("%s", warning)
            self.public_key, self.secret_key = load_server_keys(self.keys_dir)
            self.auth = start_authenticator(self.ctx, self.keys_dir)
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

    def data_socket(self, handle: int) -> tuple[zmq.Socket[bytes], str]:
        """A bound data socket for group `handle` and its endpoint. ipc: a socket next to the control socket;
        tcp: same interface, a free port."""
        sock = self.ctx.socket(zmq.ROUTER)
        try:
            sock.linger = 0
            sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_size)
            self._secure(sock)
            if self.bind_spec.startswith("ipc://"):
                path = f"{self.bind_spec[len('ipc://') :]}.g{handle}"
                sock.bind(f"ipc://{path}")
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o600)
            else:
                host = self.bind_spec[len("tcp://") :].rsplit(":", 1)[0]
                sock.bind(f"tcp://{host}:0")
            return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)
        except BaseException:
            sock.close(linger=0)
            raise

    def close(self, term_context: bool) -> None:
        if self.auth is not None:
            with contextlib.suppress(Exception):
                self.auth.stop()
        # a short linger lets the last replies (e.g. to 'shutdown') leave before the context ends
        self.router.close(linger=500)
        if term_context:
            self.ctx.term()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
