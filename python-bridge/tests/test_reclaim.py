"""Vanished clients (issue 24 item 6): 256 connections that each made one group and disappeared used to
lock every other client out of `make` until --session-timeout (an hour). Under pressure the server now
reclaims the groups of the clients silent longest, never those of an active client."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import numpy as np
import zmq

from coordrl_bridge.sessions import Holding, Session, reclaim_victims
from tests.conftest import BRIDGE_DIR, Client, ServerProc


def test_vanished_clients_leave_room_for_a_normal_client(ctx: zmq.Context[Any]) -> None:
    server = ServerProc("--max-groups", "256", "--reclaim-idle", "1")  # default --session-timeout 3600
    normal = Client(ctx, server.endpoint)
    returning = Client(ctx, server.endpoint)  # silent like the others, but comes back later
    try:
        first = returning.make("CartPole-v1", 1)["handle"]
        returning.reset(first, seed=1)
        for _ in range(255):  # each makes one group and disappears without closing it
            gone = Client(ctx, server.endpoint)
            gone.make("CartPole-v1", 1)
            gone.close()
        hello, _ = normal.ok("hello")
        assert hello["groupsInUse"] == 256 == hello["maxGroups"], hello
        time.sleep(1.2)  # every one of them silent for --reclaim-idle now
        t0 = time.monotonic()
        h = normal.make("CartPole-v1", 2)["handle"]  # the longest silent client (`returning`) gives way
        assert time.monotonic() - t0 < 5.0
        normal.reset(h, seed=3)
        normal.step(h, [0, 1])
        hello, _ = normal.ok("hello")
        assert hello["groupsInUse"] == 256, hello
        # The reclaimed client is told so, on the group's channel and on the control channel.
        hdr, _ = returning.request("step", handle=first, actions=np.zeros(1, "<i4").tobytes(), dtype="int32")
        assert not hdr["ok"] and hdr["error"]["code"] == "reclaimed" and hdr["error"]["handle"] == first, hdr
        assert "make the group again" in hdr["error"]["message"] and "--reclaim-idle" in hdr["error"]["message"]
        hdr, _ = returning.request("close", handle=first)
        assert not hdr["ok"] and hdr["error"]["code"] == "reclaimed", hdr
        again = returning.make("CartPole-v1", 1)["handle"]  # and can make again (the next silent one gives way)
        returning.reset(again, seed=1)
        for _ in range(20):  # more makes than the tombstones kept: each reclaims one vanished client
            normal.make("CartPole-v1", 1)
        assert normal.request("hello")[0]["groupsInUse"] == 256
        assert server.proc.poll() is None
    finally:
        normal.close()
        returning.close()
        server.stop()


def test_an_active_client_is_never_reclaimed(ctx: zmq.Context[Any]) -> None:
    server = ServerProc("--max-groups", "4", "--reclaim-idle", "0.5")
    active, vanished, newcomer, late = (Client(ctx, server.endpoint) for _ in range(4))
    try:
        stepped = active.make("CartPole-v1", 1)["handle"]
        quiet = active.make("CartPole-v1", 1)["handle"]  # never stepped: its client is active all the same
        active.reset(stepped, seed=0)
        vanished.make("CartPole-v1", 1)
        vanished.make("CartPole-v1", 1)
        vanished.close()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # active keeps stepping while the others are silent
            active.step(stepped, [0])
        newcomer.make("CartPole-v1", 1)  # reclaims the vanished client's two groups, not active's
        newcomer.make("CartPole-v1", 1)
        active.step(stepped, [1])
        hdr, _ = late.request("make", env="CartPole-v1", numEnvs=1)
        assert not hdr["ok"] and hdr["error"]["code"] == "limit", hdr  # only active and young clients left
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            active.step(stepped, [0])
        late.make("CartPole-v1", 1)  # the newcomer is silent now: it gives way, active does not
        active.reset(quiet, seed=1)
        active.step(quiet, [1])
        active.step(stepped, [1])
        active.ok("close", handle=quiet)
    finally:
        for c in (active, vanished, newcomer, late):
            c.close()
        server.stop()


def test_a_managed_server_reclaims_nothing(client: Client) -> None:
    """A managed server has one learner (whose own connections may be idle): nobody to reclaim for."""
    hello, _ = client.ok("hello")
    assert hello["reclaimIdle"] == 0, hello


def test_reclaim_idle_flag_is_checked() -> None:
    for bad in ("soon", "-1", "nan", "inf"):
        p = subprocess.run(
            [sys.executable, "-m", "coordrl_bridge", "--reclaim-idle", bad],
            cwd=BRIDGE_DIR,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert p.returncode == 2 and b"--reclaim-idle" in p.stderr, p.stderr


def _sessions(*specs: tuple[bytes, float, int, int]) -> dict[bytes, Session]:
    """(ident, last seen, groups, pending makes) -> sessions."""
    return {ident: Session(seen, set(range(groups)), pending) for ident, seen, groups, pending in specs}


def test_reclaim_victims_are_the_longest_silent_and_no_more_than_needed() -> None:
    sessions = _sessions((b"a", 50.0, 1, 0), (b"b", 10.0, 1, 0), (b"c", 30.0, 2, 0), (b"d", 99.5, 1, 0))

    def victims(need: Holding, spare: bytes = b"x", min_idle: float = 1.0) -> list[bytes]:
        out = reclaim_victims(
            sessions,
            lambda s: s.last_seen,
            lambda s: Holding(len(s.handles), len(s.handles), 0),
            need,
            now=100.0,
            min_idle=min_idle,
            spare=spare,
        )
        return [ident for ident, _ in out]

    assert victims(Holding(1, 0, 0)) == [b"b"]
    assert victims(Holding(2, 0, 0)) == [b"b", b"c"]
    assert victims(Holding(3, 0, 0)) == [b"b", b"c"]
    assert victims(Holding(4, 0, 0)) == [b"b", b"c", b"a"]
    assert victims(Holding(5, 0, 0)) == []  # d (silent 0.5 s) is too young: nothing at all is taken
    assert victims(Holding(1, 0, 0), spare=b"b") == [b"c"]  # never the client asking
    assert victims(Holding(1, 0, 0), min_idle=80.0) == [b"b"]
    assert victims(Holding(1, 0, 0), min_idle=95.0) == []
    sessions[b"b"].pending = 1  # a make being built is activity
    assert victims(Holding(1, 0, 0)) == [b"c"]
    busy = reclaim_victims(
        sessions, lambda s: None, lambda s: Holding(9, 9, 9), Holding(1, 0, 0), now=100.0, min_idle=0.0, spare=b"x"
    )
    assert busy == []  # a group serving a request right now: active
