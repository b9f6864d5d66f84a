"""The server's step path: GymGroup's own loop gives what Gymnasium's SyncVectorEnv gives, and the
`stats` op reports where a step's time went on the server side."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from coordrl_bridge.backends.gym import GymGroup
from tests.conftest import Client


def test_gym_group_steps_as_sync_vector_env_same_step() -> None:
    n = 3
    ours = GymGroup("CartPole-v1", n, {"finalObs": True})
    ref = SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)], autoreset_mode=AutoresetMode.SAME_STEP)
    try:
        np.testing.assert_array_equal(ours.reset(11).obs, ref.reset(seed=11)[0].astype(np.float32))
        rng = np.random.default_rng(0)
        ended_steps = 0
        for _ in range(400):
            a = rng.integers(0, 2, n).astype(np.int32)
            out = ours.step(a)
            obs, rew, term, trunc, info = ref.step(a.astype(np.int64))
            np.testing.assert_array_equal(out.obs, obs.astype(np.float32))
            np.testing.assert_array_equal(out.rewards, rew.astype(np.float32))
            np.testing.assert_array_equal(out.terminated, term.astype(np.uint8))
            np.testing.assert_array_equal(out.truncated, trunc.astype(np.uint8))
            ended = np.flatnonzero(term | trunc)
            np.testing.assert_array_equal(out.final_index, ended)
            if ended.size:
                ended_steps += 1
                assert out.final_obs is not None
                want = np.stack([info["final_obs"][i] for i in ended]).astype(np.float32)
                np.testing.assert_array_equal(out.final_obs, want)
                assert [e["index"] for e in out.episodes] == ended.tolist()
            else:
                assert out.final_obs is None and out.episodes == []
        assert ended_steps >= 10  # random CartPole episodes last ~20 steps: the autoreset path ran
    finally:
        ours.close()
        ref.close()


def test_gym_group_without_final_obs_still_reports_episodes() -> None:
    g = GymGroup("CartPole-v1", 1, {"finalObs": False})
    try:
        g.reset(0)
        ends = [g.step(np.ones(1, np.int32)) for _ in range(60)]
        ended = [o for o in ends if o.terminated[0] or o.truncated[0]]
        assert ended and all(o.final_obs is None and len(o.episodes) == 1 for o in ended)
    finally:
        g.close()


def test_stats_op_counts_steps_and_time(client: Client) -> None:
    h = client.make("CartPole-v1", 2)["handle"]
    client.reset(h, seed=1)
    s0, _ = client.ok("stats", handle=h)
    assert s0["steps"] == 0
    for _ in range(25):
        client.step(h, [0, 1])
    s1, _ = client.ok("stats", handle=h)
    assert s1["steps"] == 25
    assert 0 < s1["stepSeconds"] <= s1["serveSeconds"]
    assert s1["serveSeconds"] > s0["serveSeconds"]
    client.ok("close", handle=h)


def test_stats_op_needs_the_token(client: Client) -> None:
    h = client.make("CartPole-v1", 1)["handle"]
    sock, _token = client.groups[h]
    client.groups[h] = (sock, b"\0" * 16)
    hdr, _ = client.request("stats", handle=h)
    assert not hdr["ok"] and hdr["error"]["code"] == "bad_token"
