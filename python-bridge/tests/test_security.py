"""CURVE: authorized clients are served, others refused; insecure binds refused; lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth

from tests.conftest import BRIDGE_DIR, Client, ServerProc


def _load(path: Path) -> tuple[bytes, bytes | None]:
    return zmq.auth.load_certificate(str(path))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys") / "k"
    out = subprocess.run(
        [sys.executable, "-m", "coordrl_bridge", "--gen-keys", str(d)], cwd=BRIDGE_DIR, capture_output=True, check=True
    )
    info = json.loads(out.stdout)
    assert Path(info["serverSecret"]).exists()
    assert (os.stat(info["clientSecret"]).st_mode & 0o077) == 0
    return d


def test_curve_accepts_authorized_and_refuses_unknown(ctx: zmq.Context[Any], keys: Path) -> None:
    server = ServerProc("--bind", "tcp://127.0.0.1:0", "--keys", str(keys), "--managed")
    try:
        assert server.ready["curve"] is True
        server_public, _ = _load(keys / "server" / "server.key")
        assert server.ready["serverPublicKey"] == server_public.decode()
        pub, sec = _load(keys / "clients" / "client.key_secret")
        assert sec is not None
        good = Client(ctx, server.endpoint, server_public=server_public, public=pub, secret=sec)
        try:
            hdr, _ = good.request("hello")
            assert hdr["ok"]
            made = good.make("CartPole-v1", 2)  # the group's data channel is CURVE too
            assert made["endpoint"].startswith("tcp://127.0.0.1:")
            assert good.reset(made["handle"], seed=0).shape == (2, 4)
            assert good.step(made["handle"], [0, 1])["obs"].shape == (2, 4)
            plain_group = Client(ctx, made["endpoint"])
            try:
                plain_group.send_raw([b"\x80"])
                with pytest.raises(TimeoutError):
                    plain_group.recv(timeout_ms=500)
            finally:
                plain_group.close()
        finally:
            good.close()
        stranger_pub, stranger_sec = zmq.curve_keypair()
        bad = Client(ctx, server.endpoint, server_public=server_public, public=stranger_pub, secret=stranger_sec)
        try:
            bad.send_raw([b"\x80"])
            with pytest.raises(TimeoutError):
                bad.recv(timeout_ms=1000)
        finally:
            bad.close()
        plain = Client(ctx, server.endpoint)  # no CURVE at all
        try:
            plain.send_raw([b"\x80"])
            with pytest.raises(TimeoutError):
                plain.recv(timeout_ms=500)
        finally:
            plain.close()
    finally:
        server.stop()


def test_non_loopback_bind_requires_keys() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "coordrl_bridge", "--bind", "tcp://0.0.0.0:0"],
        check=False,
        cwd=BRIDGE_DIR,
        capture_output=True,
        timeout=30,
    )
    assert p.returncode == 2
    assert b"CURVE" in p.stderr and b"--keys" in p.stderr
    assert p.stdout == b""


def test_shutdown_only_when_managed(ctx: zmq.Context[Any]) -> None:
    server = ServerProc()  # standalone
    try:
        c = Client(ctx, server.endpoint)
        hdr, _ = c.request("shutdown")
        assert hdr["error"]["code"] == "not_allowed"
        c.close()
    finally:
        assert server.stop() == 0
    managed = ServerProc("--managed")
    c = Client(ctx, managed.endpoint)
    try:
        hdr, _ = c.request("shutdown")
        assert hdr["ok"]
        assert managed.proc.wait(10) == 0
        assert not os.path.exists(managed.endpoint[len("ipc://") :])  # private socket dir removed
    finally:
        c.close()
        managed.stop()


def test_exits_when_parent_dies() -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    server = ServerProc("--parent-pid", str(parent.pid))
    try:
        parent.kill()
        parent.wait()
        assert server.proc.wait(10) == 0
    finally:
        server.stop()


def test_exits_on_stdin_eof() -> None:
    server = ServerProc("--managed", "--exit-on-stdin-eof")
    try:
        assert server.proc.stdin is not None
        server.proc.stdin.close()
        t0 = time.monotonic()
        assert server.proc.wait(10) == 0
        assert time.monotonic() - t0 < 10
    finally:
        server.stop()
