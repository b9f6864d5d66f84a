"""Reset/step semantics through a real server: same-step autoreset, raw scores, seeds, layouts."""

from __future__ import annotations

import numpy as np

from coordrl_bridge.games import resolve_env
from tests.conftest import Client


def test_game_names_resolve() -> None:
    for name in ["pong", "Pong", "ALE/Pong-v5", "PongNoFrameskip-v4", "Pong-v4"]:
        assert resolve_env(name).name == "pong"
        assert resolve_env(name).kind == "atari"
    for name in ["ms_pacman", "mspacman", "MsPacman", "ALE/MsPacman-v5"]:
        assert resolve_env(name).name == "ms_pacman"
    assert resolve_env("breakout").name == "breakout"
    assert resolve_env("CartPole-v1").kind == "gym"


def test_make_reports_spaces(client: Client) -> None:
    hdr = client.make("ALE/Pong-v5", 2)
    spec = hdr["spec"]
    assert spec["kind"] == "atari" and spec["env"] == "pong" and spec["numEnvs"] == 2
    assert spec["observation"] == {"shape": [84, 84, 4], "dtype": "uint8", "layout": "NHWC"}
    assert spec["action"]["n"] == 6
    assert spec["action"]["meanings"] == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    assert spec["options"]["repeatActionProbability"] == 0.25
    client.ok("close", handle=hdr["handle"])
    full = client.make("pong", 1, fullActionSpace=True)
    assert full["spec"]["action"]["n"] == 18
    client.ok("close", handle=full["handle"])
    cp = client.make("CartPole-v1", 2)["spec"]
    assert cp["observation"] == {"shape": [4], "dtype": "float32", "layout": "flat"}
    assert cp["action"]["n"] == 2


def test_cartpole_same_step_autoreset(client: Client) -> None:
    h = client.make("CartPole-v1", 3)["handle"]
    obs = client.reset(h, seed=3)
    assert obs.shape == (3, 4) and obs.dtype == np.float32
    episodes = []
    lengths = np.zeros(3, int)
    for _ in range(200):
        out = client.step(h, [1, 1, 0])  # always push: episodes end within ~10-60 steps
        lengths += 1
        ended = (out["terminated"] | out["truncated"]).astype(bool)
        assert np.all(out["rewards"] == 1.0)
        if ended.any():
            assert "final_obs" in out
            idx = out["hdr"]["frames"][1]["indices"]
            assert idx == np.flatnonzero(ended).tolist()
            # same-step autoreset: obs already starts the next episode, near the origin
            assert np.all(np.abs(out["obs"][ended]) < 0.06)
            assert np.all(np.abs(out["final_obs"][:, 2]) > 0.2) or np.any(np.abs(out["final_obs"][:, 0]) > 2.4)
            for ep in out["episodes"]:
                assert ep["length"] == lengths[ep["index"]]
                assert ep["return"] == float(lengths[ep["index"]])  # CartPole: +1 per step
            lengths[ended] = 0
        episodes += out["episodes"]
        if len(episodes) >= 6:
            break
    assert len(episodes) >= 6
    client.ok("close", handle=h)


def test_seeds_are_deterministic(client: Client) -> None:
    a = client.make("pong", 2)["handle"]
    b = client.make("pong", 2)["handle"]
    rng = np.random.default_rng(0)
    oa, ob = client.reset(a, seed=42), client.reset(b, seed=42)
    assert np.array_equal(oa, ob)
    for _ in range(40):
        act = rng.integers(0, 6, 2)
        sa, sb = client.step(a, act), client.step(b, act)
        assert np.array_equal(sa["obs"], sb["obs"])
        assert np.array_equal(sa["rewards"], sb["rewards"])
    # env i gets seed + i: a 1-env group seeded 43 replays env 1 of the pair seeded 42
    c = client.make("pong", 1)["handle"]
    oc = client.reset(c, seed=43)
    oa = client.reset(a, seed=42)
    assert np.array_equal(oc[0], oa[1])
    for h in (a, b, c):
        client.ok("close", handle=h)


def test_nhwc_is_nchw_transposed(client: Client) -> None:
    a = client.make("breakout", 2, layout="NHWC")
    b = client.make("breakout", 2, layout="NCHW")
    assert b["spec"]["observation"]["shape"] == [4, 84, 84]
    oa, ob = client.reset(a["handle"], seed=5), client.reset(b["handle"], seed=5)
    assert np.array_equal(oa, ob.transpose(0, 2, 3, 1))
    for k in range(10):
        sa, sb = client.step(a["handle"], [k % 4, 1]), client.step(b["handle"], [k % 4, 1])
        assert np.array_equal(sa["obs"], sb["obs"].transpose(0, 2, 3, 1))
    for h in (a, b):
        client.ok("close", handle=h["handle"])


def test_pong_raw_rewards(client: Client) -> None:
    h = client.make("pong", 4, repeatActionProbability=0.0)["handle"]
    client.reset(h, seed=0)
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(150):
        out = client.step(h, rng.integers(0, 6, 4))
        seen |= set(out["rewards"].tolist())
        assert out["obs"].shape == (4, 84, 84, 4) and out["obs"].dtype == np.uint8
        lives = np.frombuffer(out["hdr"]["lives"], "<i4")
        assert lives.shape == (4,)
    assert seen <= {-1.0, 0.0, 1.0} and -1.0 in seen  # raw Pong points, the CPU scores early
    client.ok("close", handle=h)


def test_life_loss_is_not_an_episode_end(client: Client) -> None:
    h = client.make("breakout", 1, lifeLossInfo=True, repeatActionProbability=0.0)["handle"]
    client.reset(h, seed=1)
    rng = np.random.default_rng(2)
    terminations = 0
    total = 0.0
    episode = None
    for _ in range(4000):
        out = client.step(h, rng.integers(0, 4, 1))
        total += float(out["rewards"][0])
        terminations += int(out["terminated"][0])
        if out["episodes"]:
            episode = out["episodes"][0]
            break
    assert episode is not None, "random Breakout should lose 5 lives within 4000 steps"
    assert terminations == 5  # one per life lost; only the last one ends the episode
    assert episode["return"] == total and not episode["truncated"]


def test_time_limit_truncates(client: Client) -> None:
    h = client.make("pong", 1, maxNumFramesPerEpisode=400, repeatActionProbability=0.0)["handle"]
    client.reset(h, seed=0)
    for k in range(200):
        out = client.step(h, [0])
        if out["truncated"][0]:
            assert out["episodes"][0]["truncated"] is True
            assert out["episodes"][0]["length"] == k + 1
            assert "final_obs" in out
            break
    else:
        raise AssertionError("no truncation within 200 steps of a 400-frame limit")
    client.ok("close", handle=h)


def test_step_reply_reports_the_env_step_time(client: Client) -> None:
    h = client.make("CartPole-v1", 2)["handle"]
    client.reset(h, seed=1)
    for _ in range(3):
        hdr = client.step(h, [0, 1])["hdr"]
        # the env's own time in microseconds: an int, small for CartPole (bounded well below 1 s)
        assert isinstance(hdr["step_us"], int) and not isinstance(hdr["step_us"], bool)
        assert 0 <= hdr["step_us"] < 1_000_000
    client.ok("close", handle=h)
