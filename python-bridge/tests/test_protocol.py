"""Handshake, version checks and bad messages: each answered with an error, the server keeps serving."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import zmq

from tests.conftest import PROTOCOL_VERSION, Client, ServerProc, assert_alive, pack


def test_ready_line_and_private_endpoint(server: ServerProc) -> None:
    assert server.ready["event"] == "ready"
    assert server.ready["protocol"] == PROTOCOL_VERSION
    assert server.endpoint.startswith("ipc://")
    import os
    import stat

    sock_dir = os.path.dirname(server.endpoint[len("ipc://") :])
    assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o700


def test_hello(client: Client) -> None:
    hdr, frames = client.ok("hello", client="pytest")
    assert hdr["protocol"] == PROTOCOL_VERSION
    assert hdr["server"] == "coordrl_bridge"
    assert {"python", "gymnasium", "ale_py", "numpy"} <= set(hdr["versions"])
    assert frames == []


def test_version_mismatch_fails_handshake(client: Client) -> None:
    client.send_raw([pack({"v": 99, "id": 7, "op": "hello"})])
    hdr, _ = client.recv()
    assert hdr["ok"] is False and hdr["id"] == 7
    assert hdr["error"]["code"] == "version_mismatch"
    assert "99" in hdr["error"]["message"] and str(PROTOCOL_VERSION) in hdr["error"]["message"]
    assert hdr["error"]["serverProtocol"] == PROTOCOL_VERSION
    client.send_raw([pack({"id": 8, "op": "hello"})])
    hdr, _ = client.recv()
    assert hdr["error"]["code"] == "bad_message" and "'v'" in hdr["error"]["message"]
    assert_alive(client)


@pytest.mark.parametrize(
    ("frames", "code", "needle"),
    [
        ([b"\xc1"], "bad_message", "MessagePack"),
        ([pack([1, 2, 3])], "bad_message", "map"),
        ([pack({"v": 1, "id": 1, "op": "ping"}), b"extra"], "bad_message", "frame"),
        ([pack({"v": 1, "id": "x", "op": "ping"})], "bad_message", "'id'"),
        ([pack({"v": 1, "id": 1, "op": "dance"})], "unknown_op", "dance"),
        ([pack({"v": 1, "id": 1, "op": "make", "env": "CartPole-v1", "numEnvs": "2"})], "bad_message", "numEnvs"),
        ([pack({"v": 1, "id": 1, "op": "make", "env": "CartPole-v1", "numEnvs": 0})], "bad_message", "numEnvs"),
        ([pack({"v": 1, "id": 1, "op": "make", "env": 5, "numEnvs": 1})], "bad_message", "'env'"),
        (
            [pack({"v": 1, "id": 1, "op": "make", "env": "pong", "numEnvs": 1, "atari": {"stickyness": 1}})],
            "bad_options",
            "stickyness",
        ),
        (
            [pack({"v": 1, "id": 1, "op": "make", "env": "pong", "numEnvs": 1, "atari": {"frameskip": "4"}})],
            "bad_options",
            "frameskip",
        ),
        ([pack({"v": 1, "id": 1, "op": "close", "handle": 12345})], "bad_handle", ""),
        ([pack({"v": 1, "id": 1, "op": "step", "handle": 1, "actions": b"", "dtype": "int32"})], "wrong_channel", ""),
    ],
)
def test_bad_messages_get_errors(client: Client, frames: list[bytes], code: str, needle: str) -> None:
    client.send_raw(frames)
    hdr, _ = client.recv()
    assert hdr["ok"] is False, hdr
    assert hdr["error"]["code"] == code, hdr
    assert needle in hdr["error"]["message"]
    assert_alive(client)


def test_step_actions_are_checked(client: Client) -> None:
    handle = client.make("CartPole-v1", 3)["handle"]
    client.reset(handle, seed=1)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"actions": np.zeros(2, "<i4").tobytes(), "dtype": "int32"}, "bad_actions", "expected 3"),
        ({"actions": np.zeros(3, "<i8").tobytes(), "dtype": "int64"}, "bad_actions", "int32"),
        ({"actions": np.array([0, 2, 1], "<i4").tobytes(), "dtype": "int32"}, "bad_actions", "out of range"),
        ({"actions": np.array([0, -1, 1], "<i4").tobytes(), "dtype": "int32"}, "bad_actions", "env 1"),
        ({"actions": [0, 1, 0], "dtype": "int32"}, "bad_message", "binary"),
        ({"actions": np.zeros(3, "<i4").tobytes()}, "bad_actions", "dtype"),
    ]
    for fields, code, needle in cases:
        hdr, _ = client.request("step", handle=handle, **fields)
        assert hdr["ok"] is False and hdr["error"]["code"] == code, (fields, hdr)
        assert needle in hdr["error"]["message"], hdr
    hdr, _ = client.request("reset", handle=handle, seed=-5)
    assert hdr["error"]["code"] == "bad_message"
    # envelope errors on the group channel too
    client.send_raw([pack({"v": 3, "id": 5, "op": "reset"})], handle)
    hdr, _ = client.recv(handle=handle)
    assert hdr["id"] == 5 and hdr["error"]["code"] == "version_mismatch"
    client.send_raw([b"\xc1"], handle)
    hdr, _ = client.recv(handle=handle)
    assert hdr["id"] is None and hdr["error"]["code"] == "bad_message"
    client.send_raw([pack({"v": 1, "id": 6, "op": "close", "token": client.groups[handle][1]})], handle)
    hdr, _ = client.recv(handle=handle)
    assert hdr["error"]["code"] == "unknown_op"
    out = client.step(handle, [0, 1, 0])  # still works
    assert out["obs"].shape == (3, 4)
    client.ok("close", handle=handle)
    hdr, _ = client.request("close", handle=handle)
    assert hdr["error"]["code"] == "bad_handle"


def test_handles_and_group_channels_are_private(ctx: zmq.Context[Any], server: ServerProc, client: Client) -> None:
    made = client.make("CartPole-v1", 1)
    handle = made["handle"]
    other = Client(ctx, server.endpoint)
    try:
        hdr, _ = other.request("close", handle=handle)
        assert hdr["error"]["code"] == "bad_handle"
        # the group's endpoint without its token is refused
        other.groups[handle] = (other._socket(made["endpoint"]), b"wrong token 1234")
        hdr, _ = other.request("reset", handle=handle)
        assert hdr["error"]["code"] == "bad_token"
    finally:
        other.close()
    client.reset(handle, seed=0)
    client.ok("close", handle=handle)


def test_unknown_game_lists_close_matches(client: Client) -> None:
    hdr, _ = client.request("make", env="pongg", numEnvs=1)
    assert hdr["ok"] is False and hdr["error"]["code"] == "unknown_env"
    assert "pong" in hdr["error"]["suggestions"]
    assert "did you mean" in hdr["error"]["message"]
    hdr, _ = client.request("make", env="ms_pacmna", numEnvs=1)
    assert "ms_pacman" in hdr["error"]["suggestions"]
    assert_alive(client)


def test_oversized_message_is_dropped_and_server_keeps_serving(
    ctx: zmq.Context[Any], server: ServerProc, client: Client
) -> None:
    big = Client(ctx, server.endpoint)
    try:
        big.send_raw([b"\x00" * (2 << 20)])  # over the 1 MiB cap: libzmq disconnects this peer
        with pytest.raises(TimeoutError):
            big.recv(timeout_ms=500)
    finally:
        big.close()
    assert_alive(client)
