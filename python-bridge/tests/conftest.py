"""Fixtures: a real server in a subprocess (ipc:// or 127.0.0.1 only) and a small blocking client."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq

BRIDGE_DIR = Path(__file__).resolve().parent.parent
PROTOCOL_VERSION = 1


class ServerProc:
    def __init__(self, *args: str, stderr_path: Path | None = None, env: dict[str, str] | None = None) -> None:
        """`stderr_path`: log to that file (a pipe nobody reads fills up and blocks a chatty server)."""
        self.stderr_file = None if stderr_path is None else open(stderr_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "coordrl_bridge", *args],
            cwd=BRIDGE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if self.stderr_file is None else self.stderr_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"server did not start: {err}")
        self.ready: dict[str, Any] = json.loads(line)
        self.endpoint: str = self.ready["endpoint"]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)
        finally:
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr, self.stderr_file):
                if f is not None:
                    f.close()

    def rss(self) -> int:
        """The server's resident memory in bytes (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


class Client:
    """Control channel to the server, plus one data channel per env group made (by handle)."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str, **curve: bytes) -> None:
        self.ctx = ctx
        self.curve = curve
        self.sock = self._socket(endpoint)
        self.ids = itertools.count(1)
        self.groups: dict[int, tuple[zmq.Socket[Any], bytes]] = {}

    def _socket(self, endpoint: str) -> zmq.Socket[Any]:
        sock: zmq.Socket[Any] = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        if self.curve:
            sock.curve_serverkey = self.curve["server_public"]
            sock.curve_publickey = self.curve["public"]
            sock.curve_secretkey = self.curve["secret"]
        sock.connect(endpoint)
        return sock

    def send_raw(self, frames: list[bytes], handle: int | None = None) -> None:
        sock = self.sock if handle is None else self.groups[handle][0]
        sock.send_multipart(frames)

    def recv(self, timeout_ms: int = 10000, handle: int | None = None) -> tuple[dict[str, Any], list[bytes]]:
        sock = self.sock if handle is None else self.groups[handle][0]
        if not sock.poll(timeout_ms):
            raise TimeoutError("no reply")
        frames = sock.recv_multipart()
        return msgpack.unpackb(frames[0], raw=False), frames[1:]

    def request(self, op: str, timeout_ms: int = 10000, **fields: Any) -> tuple[dict[str, Any], list[bytes]]:
        """Control ops go to the control socket; reset/step to the group's socket (by `handle`)."""
        rid = next(self.ids)
        handle = fields.get("handle") if op in ("reset", "step", "stats") else None
        if handle is not None and handle in self.groups:
            fields = {"token": self.groups[handle][1], **fields}
        else:
            handle = None
        header = {"v": PROTOCOL_VERSION, "id": rid, "op": op, **fields}
        self.send_raw([msgpack.packb(header, use_bin_type=True)], handle)
        hdr, frames = self.recv(timeout_ms, handle)
        assert hdr["id"] == rid, hdr
        return hdr, frames

    def ok(self, op: str, **fields: Any) -> tuple[dict[str, Any], list[bytes]]:
        hdr, frames = self.request(op, **fields)
        assert hdr["ok"], hdr
        return hdr, frames

    def make(self, env: str, num_envs: int, **options: Any) -> dict[str, Any]:
        common = {k: v for k, v in options.items() if k in ("finalObs", "layout")}
        atari = {k: v for k, v in options.items() if k not in common}
        hdr, _ = self.ok("make", env=env, numEnvs=num_envs, options=common, atari=atari)
        self.groups[hdr["handle"]] = (self._socket(hdr["endpoint"]), hdr["token"])
        return hdr

    def reset(self, handle: int, seed: int | None = None) -> np.ndarray[Any, Any]:
        hdr, frames = self.ok("reset", handle=handle, seed=seed)
        return decode_frame(hdr["frames"][0], frames[0])

    def step(self, handle: int, actions: list[int] | np.ndarray[Any, Any]) -> dict[str, Any]:
        a = np.asarray(actions, dtype="<i4")
        hdr, frames = self.ok("step", handle=handle, actions=a.tobytes(), dtype="int32")
        out: dict[str, Any] = {"hdr": hdr}
        for desc, raw in zip(hdr["frames"], frames, strict=True):
            out[desc["name"]] = decode_frame(desc, raw)
        out["rewards"] = np.frombuffer(hdr["rewards"], "<f4")
        out["terminated"] = np.frombuffer(hdr["terminated"], np.uint8)
        out["truncated"] = np.frombuffer(hdr["truncated"], np.uint8)
        out["episodes"] = hdr["episodes"]
        return out

    def close(self) -> None:
        for sock, _ in self.groups.values():
            sock.close(linger=0)
        self.sock.close(linger=0)


def pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def assert_alive(client: Client) -> None:
    hdr, _ = client.request("ping")
    assert hdr["ok"] and hdr["op"] == "ping"


def decode_frame(desc: dict[str, Any], raw: bytes) -> np.ndarray[Any, Any]:
    return np.frombuffer(raw, dtype=desc["dtype"]).reshape(desc["shape"])


@pytest.fixture(scope="session")
def ctx() -> Iterator[zmq.Context[Any]]:
    c: zmq.Context[Any] = zmq.Context()
    yield c
    c.destroy(linger=0)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    s = ServerProc("--managed", "--exit-on-stdin-eof")
    yield s
    s.stop()


@pytest.fixture
def client(ctx: zmq.Context[Any], server: ServerProc) -> Iterator[Client]:
    c = Client(ctx, server.endpoint)
    yield c
    c.close()
