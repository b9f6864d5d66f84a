"""Limits and hardening of the env server (issue #15): requests that used to kill, block or exhaust it."""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from coordrl_bridge.backends import atari as atari_backend
from coordrl_bridge.backends.atari import ATARI_PART_ENVS, atari_vector_env
from coordrl_bridge.games import resolve_env
from coordrl_bridge.hosting import make_group, plan_group
from coordrl_bridge.limits import FDS_PER_GROUP, RESERVED_FDS
from coordrl_bridge.tmpdirs import OWNER_FILE, PREFIX, remove_stale_dirs
from tests.conftest import BRIDGE_DIR, Client, ServerProc, assert_alive, pack


def error_of(client: Client, header: dict[str, Any]) -> dict[str, Any]:
    client.send_raw([pack(header)])
    hdr, _ = client.recv()
    assert hdr["ok"] is False, hdr
    assert hdr["id"] == header.get("id"), hdr
    err: dict[str, Any] = hdr["error"]
    return err


@pytest.mark.parametrize(
    "header",
    [
        {"v": 1, "id": 1, "op": "make", "env": "pong", "numEnvs": 1, "options": {b"finalObs": True}},
        {"v": 1, "id": 2, "op": "make", "env": "pong", "numEnvs": 1, "atari": {b"frameskip": 4}},
        {"v": 1, "id": 3, "op": "make", "env": "CartPole-v1", "numEnvs": 1, "options": {b"x": 1, "layout": "NHWC"}},
        {"v": 1, "id": 4, "op": "ping", b"extra": 1},
        {"v": 1, "id": 5, "op": "hello", "client": {b"name": b"x"}},
    ],
)
def test_binary_keys_are_bad_messages(client: Client, header: dict[Any, Any]) -> None:
    for _ in range(3):  # each of these killed the server before
        err = error_of(client, header)
        assert err["code"] == "bad_message" and "keys must be strings" in err["message"], err
    assert_alive(client)


@pytest.mark.parametrize("v", [1.0, True, "1", -1, 2**40, [1], {"v": 1}])
def test_only_the_integer_1_is_protocol_1(client: Client, v: Any) -> None:
    err = error_of(client, {"v": v, "id": 9, "op": "hello"})
    assert err["code"] in ("bad_message", "version_mismatch"), err
    assert_alive(client)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.5, 1.5])
def test_sticky_action_probability_must_be_in_0_1(client: Client, value: float) -> None:
    err = error_of(
        client,
        {"v": 1, "id": 3, "op": "make", "env": "pong", "numEnvs": 1, "atari": {"repeatActionProbability": value}},
    )
    assert err["code"] == "bad_options" and "repeatActionProbability" in err["message"], err
    assert_alive(client)


def test_deep_nesting_is_a_bad_message(client: Client) -> None:
    deep: Any = 1
    for _ in range(40):
        deep = {"a": deep}
    err = error_of(client, {"v": 1, "id": 4, "op": "make", "env": "pong", "numEnvs": 1, "options": deep})
    assert err["code"] == "bad_message" and "nests deeper" in err["message"], err
    err = error_of(client, {"v": 1, "id": 5, "op": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]})
    assert err["code"] == "bad_message", err
    assert_alive(client)


def test_long_values_are_cut_in_error_messages(client: Client) -> None:
    err = error_of(client, {"v": 1, "id": 6, "op": "x" * 500_000})
    assert err["code"] == "unknown_op" and len(err["message"]) < 300, len(err["message"])


def test_more_one_env_makes_than_the_process_can_hold_get_limit_errors(ctx: zmq.Context[Any]) -> None:
    """1,023 one-env makes used to kill the server (pyzmq's 1,023 sockets per context), within the
    default --max-envs 1024. Default settings here."""
    server = ServerProc("--managed", "--exit-on-stdin-eof")
    c = Client(ctx, server.endpoint)
    try:
        hello, _ = c.ok("hello")
        cap_server, cap_client = hello["maxGroups"], hello["maxGroupsPerClient"]
        assert 1 <= cap_client <= cap_server < 1023
        made, limited, clients = 0, 0, [c]
        for i in range(1030):  # past every cap: per client, per server, --max-envs
            if i and i % cap_client == 0:
                clients.append(Client(ctx, server.endpoint))
            hdr, _ = clients[-1].request("make", env="CartPole-v1", numEnvs=1)
            if hdr["ok"]:
                made += 1
            else:
                assert hdr["error"]["code"] == "limit", hdr
                limited += 1
        assert made == cap_server and limited == 1030 - cap_server
        assert server.proc.poll() is None
        hello, _ = c.ok("hello")
        assert hello["groupsInUse"] == cap_server
        for cl in clients[1:]:
            cl.close()
    finally:
        c.close()
        server.stop()


def test_more_groups_than_pyzmqs_default_socket_limit_when_asked(tmp_path: Path) -> None:
    """--max-groups 1100: the server raises its context's socket limit (pyzmq's default is 1,023) and its
    open-files limit as far as needed, and really holds 1,100 groups."""
    server = ServerProc(
        "--managed", "--max-groups", "1100", "--max-groups-per-client", "1100", "--max-envs", "2000",
        stderr_path=tmp_path / "server.log",
    )  # fmt: skip
    cctx: zmq.Context[Any] = zmq.Context()
    cctx.set(zmq.MAX_SOCKETS, 4096)
    c = Client(cctx, server.endpoint)
    try:
        hello, _ = c.ok("hello")
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        cap = 1100 if hard == resource.RLIM_INFINITY else min(1100, (hard - RESERVED_FDS) // FDS_PER_GROUP)
        assert hello["maxGroups"] == cap, hello  # 1,100 wherever the hard open-files limit allows it
        codes = []
        for _ in range(cap + 5):
            hdr, _ = c.request("make", env="CartPole-v1", numEnvs=1)
            codes.append("ok" if hdr["ok"] else hdr["error"]["code"])
        assert codes.count("ok") == cap and codes[cap:] == ["limit"] * 5
        assert server.proc.poll() is None
        assert "Too many open files" not in (tmp_path / "server.log").read_text()
    finally:
        c.close()
        server.stop()
        cctx.destroy(linger=0)


def test_group_cap_per_client(ctx: zmq.Context[Any]) -> None:
    server = ServerProc("--managed", "--max-groups", "5", "--max-groups-per-client", "2")
    a, b, c, d = (Client(ctx, server.endpoint) for _ in range(4))
    try:
        h1 = a.make("CartPole-v1", 1)["handle"]
        a.make("CartPole-v1", 1)
        hdr, _ = a.request("make", env="CartPole-v1", numEnvs=1)
        assert hdr["error"]["code"] == "limit" and "--max-groups-per-client 2" in hdr["error"]["message"], hdr
        b.make("CartPole-v1", 1)  # another client still may
        a.ok("close", handle=h1)
        a.make("CartPole-v1", 1)  # a closed group frees its place
        b.make("CartPole-v1", 1)
        c.make("CartPole-v1", 1)  # 5 groups now
        hdr, _ = d.request("make", env="CartPole-v1", numEnvs=1)
        assert hdr["error"]["code"] == "limit" and "at most 5 env groups" in hdr["error"]["message"], hdr
    finally:
        for cl in (a, b, c, d):
            cl.close()
        server.stop()


def test_memory_heavy_makes_are_refused_with_the_numbers(client: Client, server: ServerProc) -> None:
    """The issue's 150-byte make (2 GB per env) at 512 envs (1.5 TiB by estimate): far past half of any
    machine's memory."""
    heavy = {"stackNum": 64, "imgHeight": 1024, "imgWidth": 1024, "grayscale": False}
    rss0 = server.rss()
    err = error_of(client, {"v": 1, "id": 11, "op": "make", "env": "pong", "numEnvs": 512, "atari": heavy})
    assert err["code"] == "limit", err
    assert "--max-env-memory" in err["message"] and "512 envs x (2.0 MiB + 16 x 192.0 MiB" in err["message"], err
    assert err["neededBytes"] > err["budgetBytes"]
    assert server.rss() - rss0 < 100 << 20  # nothing was allocated
    hello, _ = client.ok("hello")
    assert hello["envMemoryInUse"] == 0 or hello["envMemoryInUse"] < hello["maxEnvMemory"]


def test_memory_budget_counts_every_group(ctx: zmq.Context[Any]) -> None:
    server = ServerProc("--managed", "--max-env-memory", "64M")
    c = Client(ctx, server.endpoint)
    try:
        made = [c.make("CartPole-v1", 20)["handle"] for _ in range(2)]  # 20 x (1 MiB + 16 x 16 B) each
        hdr, _ = c.request("make", env="pong", numEnvs=16)  # 16 x (2 MiB + 16 x 28 KB) = 38.9 MiB
        assert hdr["error"]["code"] == "limit" and "budget is 64.0 MiB" in hdr["error"]["message"], hdr
        assert "16 envs x (2.0 MiB + 16 x 27.6 KiB observation)" in hdr["error"]["message"], hdr
        c.ok("close", handle=made[0])
        c.make("CartPole-v1", 20)
        hdr, _ = c.request("make", env="pong", numEnvs=1, atari={"stackNum": 32, "imgHeight": 256, "imgWidth": 256})
        assert hdr["error"]["code"] == "limit", hdr
    finally:
        c.close()
        server.stop()


def test_max_env_memory_flag_is_checked() -> None:
    for bad in ("lots", "-1G", "0"):
        p = subprocess.run(
            [sys.executable, "-m", "coordrl_bridge", "--max-env-memory", bad],
            cwd=BRIDGE_DIR,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert p.returncode == 2 and b"--max-env-memory" in p.stderr, p.stderr


def test_a_slow_make_does_not_block_other_clients(ctx: zmq.Context[Any], server: ServerProc) -> None:
    """While one client's 32-env Pong make is being built (seconds), another client's hello is
    answered before that make's reply comes (before: the make held the control thread and every
    other request waited for it)."""
    slow, other = Client(ctx, server.endpoint), Client(ctx, server.endpoint)
    try:
        slow.send_raw([pack({"v": 1, "id": 1, "op": "make", "env": "pong", "numEnvs": 32})])
        time.sleep(0.3)  # the make reaches the server first
        other.send_raw([pack({"v": 1, "id": 2, "op": "hello"})])
        hdr, _ = other.recv(timeout_ms=60_000)
        assert hdr["ok"] and hdr["id"] == 2
        assert not slow.sock.poll(0), "the make was answered before the other client's hello"
        assert hdr["groupsInUse"] >= 1  # the pending make holds its place
        made, _ = slow.recv(timeout_ms=120_000)
        assert made["ok"] and made["spec"]["numEnvs"] == 32, made
        slow.ok("close", handle=made["handle"])
    finally:
        slow.close()
        other.close()


@pytest.mark.parametrize("atari", [{"numThreads": 1}, {"numThreads": 2, "maxNumFramesPerEpisode": 60}])
def test_atari_groups_built_in_parts_step_like_one_vector_env(
    atari: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big groups are built as several AtariVectorEnvs (ale-py holds the GIL while it builds one):
    frames, rewards, ends and final observations are those of one vector env of all the envs."""
    assert ATARI_PART_ENVS == 16
    monkeypatch.setattr(atari_backend, "ATARI_PART_ENVS", 2)  # parts of 2, 2, 1 envs: same code, faster test
    n = 5
    plan = plan_group(resolve_env("pong"), n, {"layout": "NCHW"}, atari)
    group = make_group(resolve_env("pong"), n, {"layout": "NCHW"}, atari)
    bare = atari_vector_env("pong", n, plan.options)
    finals = 0
    try:
        assert len(getattr(group, "parts", [])) == 3
        obs = group.reset(seed=7).obs
        ref, _ = bare.reset(seed=7)
        assert np.array_equal(obs, ref)
        rng = np.random.default_rng(0)
        for _ in range(80):
            a = rng.integers(0, group.num_actions, n).astype(np.int32)
            out = group.step(a)
            bare.ale.send(a, np.ones(n, np.float32))
            ref, rew, term, trunc, info = bare.ale.recv()
            assert np.array_equal(out.obs, ref) and np.array_equal(out.rewards, rew.astype(np.float32))
            assert np.array_equal(out.terminated, term.view(np.uint8))
            assert np.array_equal(out.truncated, trunc.view(np.uint8))
            if out.final_obs is not None:
                assert np.array_equal(out.final_obs, np.asarray(info["final_obs"])[out.final_index])
                finals += len(out.final_index)
        assert finals > n or "maxNumFramesPerEpisode" not in atari
    finally:
        group.close()
        bare.close()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temp_dirs_are_removed_at_start(tmp_path: Path) -> None:
    def fake(name: str, owner: Any) -> Path:
        d = tmp_path / f"{PREFIX}{name}"
        d.mkdir(mode=0o700)
        (d / "env.sock").write_bytes(b"")
        if owner is not None:
            (d / OWNER_FILE).write_text(json.dumps(owner))
        return d

    dead = fake("dead", {"pid": _dead_pid(), "start": 1})
    live = fake("live", {"pid": os.getpid(), "start": None})
    reused = fake("reused", {"pid": os.getppid(), "start": -5})  # live pid, other start time: pid reused
    unowned = fake("unowned", None)  # not ours to judge
    garbage = fake("garbage", "not json{")
    other = tmp_path / "coordrl-other-dir"
    other.mkdir()
    removed = remove_stale_dirs([str(tmp_path)])
    assert sorted(removed) == sorted([str(dead), str(reused)])
    assert live.exists() and unowned.exists() and garbage.exists() and other.exists()


def test_a_sigkilled_servers_dir_is_removed_by_the_next_server() -> None:
    killed = ServerProc("--managed")
    sock_dir = Path(killed.endpoint[len("ipc://") :]).parent
    os.kill(killed.proc.pid, signal.SIGKILL)
    killed.proc.wait(10)
    killed.stop()
    assert sock_dir.exists()  # nobody could clean up
    nxt = ServerProc("--managed", env={"TMPDIR": str(sock_dir.parent)})
    try:
        assert not sock_dir.exists()
        assert Path(nxt.endpoint[len("ipc://") :]).parent.exists()
    finally:
        nxt.stop()


def test_key_permission_warnings(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    gen = [sys.executable, "-m", "coordrl_bridge", "--gen-keys", str(keys)]
    subprocess.run(gen, cwd=BRIDGE_DIR, capture_output=True, check=True)
    secret = keys / "server" / "server.key_secret"
    log = tmp_path / "server.log"
    quiet = ServerProc("--bind", "tcp://127.0.0.1:0", "--keys", str(keys), "--managed", stderr_path=log)
    quiet.stop()
    assert "other users" not in log.read_text()
    os.chmod(secret, 0o644)
    os.chmod(keys / "authorized_clients", 0o777)
    loud = ServerProc("--bind", "tcp://127.0.0.1:0", "--keys", str(keys), "--managed", stderr_path=log)
    loud.stop()
    text = log.read_text()
    assert f"secret key {secret} can be read or changed by other users (mode 644)" in text, text
    assert f"chmod 600 {secret}" in text
    assert f"{keys / 'authorized_clients'} is writable by other users" in text
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644  # warned, not changed behind the user's back


def test_an_unexpected_exception_costs_one_request_not_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx: zmq.Context[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The safety net under every handler: a bug (here: an injected one) becomes an internal_error
    reply with a logged traceback, and the next request is served."""
    from coordrl_bridge import server as server_mod

    srv = server_mod.Server(server_mod.ServerConfig(bind=f"ipc://{tmp_path}/s.sock"))
    c = Client(ctx, srv.endpoint)
    try:
        real_handle = srv._handle

        def broken(*args: Any) -> Any:
            raise KeyError("injected")

        monkeypatch.setattr(srv, "_handle", broken)
        c.send_raw([pack({"v": 1, "id": 41, "op": "ping"})])
        assert srv.router.poll(5000)
        srv._drain_requests()
        hdr, _ = c.recv()
        assert hdr["id"] == 41 and hdr["error"]["code"] == "internal_error" and "injected" in hdr["error"]["message"]
        assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)
        monkeypatch.setattr(srv, "_handle", real_handle)

        def failing_build(plan: Any) -> Any:
            raise RuntimeError("no envs today")

        monkeypatch.setattr(server_mod, "build_group", failing_build)
        c.send_raw([pack({"v": 1, "id": 42, "op": "make", "env": "CartPole-v1", "numEnvs": 2})])
        assert srv.router.poll(5000)
        srv._drain_requests()  # starts the make thread
        deadline = time.monotonic() + 30
        while not c.sock.poll(10) and time.monotonic() < deadline:
            srv._finish_makes()
        hdr, _ = c.recv()
        assert hdr["id"] == 42 and hdr["error"]["code"] == "env_error" and "no envs today" in hdr["error"]["message"]
        assert srv.envs_in_use == 0 and srv.memory_in_use == 0 and srv.makes_pending == 0 and not srv.sessions
        c.send_raw([pack({"v": 1, "id": 43, "op": "ping"})])
        assert srv.router.poll(5000)
        srv._drain_requests()
        hdr, _ = c.recv()
        assert hdr["ok"] and hdr["id"] == 43
    finally:
        c.close()
        srv.close()
