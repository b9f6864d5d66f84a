"""Memory that one make could still spike (issue 24 item 7): one observation and one reply are capped, and the
env memory budget never exceeds the cgroup's memory limit, found also where it is set on a parent cgroup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zmq

from coordrl_bridge import limits
from coordrl_bridge import server as server_mod
from coordrl_bridge.limits import DEFAULT_MAX_OBS_BYTES, DEFAULT_MAX_REPLY_BYTES, cgroup_memory_limit
from tests.conftest import Client, ServerProc, pack


def _error(client: Client, **fields: Any) -> dict[str, Any]:
    hdr, _ = client.request("make", **fields)
    assert hdr["ok"] is False, hdr
    err: dict[str, Any] = hdr["error"]
    return err


def test_a_huge_observation_is_refused_at_make(client: Client, server: ServerProc) -> None:
    """The issue's 1-env make (64 stacked 1024x1024 RGB frames, 192 MiB) fitted the memory budget and took
    1.83 GB; 18 MiB observations are past the 16 MiB default too. Nothing is built."""
    hello, _ = client.ok("hello")
    assert hello["maxObsBytes"] == DEFAULT_MAX_OBS_BYTES == 16 << 20
    assert hello["maxReplyBytes"] == DEFAULT_MAX_REPLY_BYTES == 256 << 20
    rss0 = server.rss()
    for stack in (6, 64):
        atari = {"stackNum": stack, "imgHeight": 1024, "imgWidth": 1024, "grayscale": False}
        err = _error(client, env="pong", numEnvs=1, atari=atari)
        assert err["code"] == "limit" and "--max-obs-bytes" in err["message"], err
        assert err["obsBytes"] == stack * 1024 * 1024 * 3 and err["maxObsBytes"] == 16 << 20, err
    assert server.rss() - rss0 < 50 << 20
    hello, _ = client.ok("hello")
    assert hello["envsInUse"] == 0 and hello["envMemoryInUse"] == 0, hello
    h = client.make("pong", 1, stackNum=2, imgHeight=1024, imgWidth=1024, grayscale=False)["handle"]  # 6 MiB: fits
    client.ok("close", handle=h)


def test_reply_cap_counts_every_env_and_final_observations(ctx: zmq.Context[Any]) -> None:
    server = ServerProc("--managed", "--max-reply-bytes", "256K")
    c = Client(ctx, server.endpoint)
    try:
        c.make("pong", 4)  # 2 x 4 envs x 27.6 KiB: 225 KiB with the header
        hdr, _ = c.request("make", env="pong", numEnvs=8, options={"finalObs": True})  # 445 KiB
        err = hdr["error"]
        assert err["code"] == "limit" and "--max-reply-bytes" in err["message"], err
        assert "2 x 8 envs x 27.6 KiB observation" in err["message"] and err["maxReplyBytes"] == 256 << 10, err
        h = c.make("pong", 8, finalObs=False)["handle"]  # 225 KiB: no final observations to send
        c.reset(h, seed=1)
        c.step(h, [0] * 8)
    finally:
        c.close()
        server.stop()


def test_a_gymnasium_group_past_the_cap_once_built_is_closed_and_its_reservation_released(
    ctx: zmq.Context[Any],
) -> None:
    """Gymnasium observation sizes are known only once built (CartPole: 16 bytes)."""
    server = ServerProc("--managed", "--max-obs-bytes", "12")
    c = Client(ctx, server.endpoint)
    try:
        err = _error(c, env="CartPole-v1", numEnvs=3)
        assert err["code"] == "limit" and "--max-obs-bytes" in err["message"] and err["obsBytes"] == 16, err
        hello, _ = c.ok("hello")
        assert hello["envsInUse"] == 0 and hello["envMemoryInUse"] == 0 and hello["groupsInUse"] == 0, hello
        c.make("pong", 1, stackNum=1, imgHeight=3, imgWidth=4)  # 12 bytes: fits
    finally:
        c.close()
        server.stop()


def _fake_cgroups(tmp_path: Path, proc: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text + "\n")
    proc_file = tmp_path / "proc-self-cgroup"
    proc_file.write_text(proc)
    return root, proc_file


def test_the_cgroup_limit_is_found_on_a_parent_cgroup(tmp_path: Path) -> None:
    """A container or Slurm job sets the limit on its own cgroup, seldom at the hierarchy's root: the
    old reader looked only at the root files and found no limit on this very machine's layout."""
    v2 = _fake_cgroups(
        tmp_path / "v2",
        "0::/job/step/task\n",
        {"job/memory.max": "6000000000", "job/step/memory.max": "max", "job/step/task/memory.max": "max"},
    )
    assert cgroup_memory_limit(*v2) == 6_000_000_000
    v1 = _fake_cgroups(
        tmp_path / "v1",
        "9:pids:/\n4:memory:/process_api/abc\n0::/\n",
        {
            "memory/memory.limit_in_bytes": "9223372036854771712",
            "memory/process_api/memory.limit_in_bytes": "7000000000",
            "memory/process_api/abc/memory.limit_in_bytes": "9223372036854771712",
        },
    )
    assert cgroup_memory_limit(*v1) == 7_000_000_000
    tighter_inside = _fake_cgroups(
        tmp_path / "inner", "0::/a/b\n", {"a/memory.max": "8000000000", "a/b/memory.max": "5000000000"}
    )
    assert cgroup_memory_limit(*tighter_inside) == 5_000_000_000
    none = _fake_cgroups(tmp_path / "none", "0::/a\n", {"memory.max": "max", "a/memory.max": "max"})
    assert cgroup_memory_limit(*none) is None
    assert cgroup_memory_limit(tmp_path / "missing", tmp_path / "missing-proc") is None


def test_the_env_memory_budget_is_capped_at_the_cgroup_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx: zmq.Context[Any]
) -> None:
    """The issue's case: a 2-env make estimated at 6 GiB was accepted under a 6 GB container limit (here
    --max-env-memory 8G asks for more than the container has)."""
    root, proc = _fake_cgroups(tmp_path, "0::/container\n", {"container/memory.max": "6000000000"})
    monkeypatch.setattr(limits, "CGROUP_ROOT", root)
    monkeypatch.setattr(limits, "PROC_SELF_CGROUP", proc)
    srv = server_mod.Server(server_mod.ServerConfig(bind=f"ipc://{tmp_path}/s.sock", max_env_memory=8 << 30))
    c = Client(ctx, srv.endpoint)
    try:
        assert srv.max_env_memory == 6_000_000_000
        heavy = {"stackNum": 64, "imgHeight": 1024, "imgWidth": 1024, "grayscale": False}
        c.send_raw([pack({"v": 1, "id": 7, "op": "make", "env": "pong", "numEnvs": 2, "atari": heavy})])
        assert srv.router.poll(5000)
        srv._drain_requests()
        hdr, _ = c.recv()
        err = hdr["error"]
        assert hdr["id"] == 7 and err["code"] == "limit" and err["budgetBytes"] == 6_000_000_000, hdr
        assert "capped at the cgroup's memory limit" in err["message"], err
        assert srv.memory_in_use == 0 and srv.makes_pending == 0 and not srv.sessions
        c.send_raw([pack({"v": 1, "id": 8, "op": "hello"})])
        assert srv.router.poll(5000)
        srv._drain_requests()
        hdr, _ = c.recv()
        assert hdr["maxEnvMemory"] == 6_000_000_000, hdr
        assert srv.made.empty()  # no build was started
    finally:
        c.close()
        srv.close()
