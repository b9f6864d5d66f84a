"""MinAtar groups (optional `minatar` package): names, spaces, seeds, episode ends, raw returns, options."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from coordrl_bridge.games import resolve_env
from coordrl_bridge.hosting import make_group
from coordrl_bridge.protocol import BridgeError
from coordrl_bridge.tools import random_scores
from tests.conftest import Client


def make(client: Client, env: str, num_envs: int, layout: str = "NHWC", **minatar: Any) -> dict[str, Any]:
    hdr, _ = client.ok("make", env=env, numEnvs=num_envs, options={"layout": layout}, minatar=minatar)
    client.groups[hdr["handle"]] = (client._socket(hdr["endpoint"]), hdr["token"])
    return hdr


def test_names_resolve_and_suggest() -> None:
    for name in ["minatar/breakout", "MinAtar/Breakout-v1", "breakout-minatar", "MINATAR/BREAKOUT"]:
        assert resolve_env(name).kind == "minatar"
        assert resolve_env(name).name == "breakout"
    for name in ["minatar/space_invaders", "MinAtar/SpaceInvaders-v1", "space-invaders-minatar"]:
        assert resolve_env(name).name == "space_invaders"
    assert resolve_env("breakout").kind == "atari"  # the Atari game keeps its plain name
    with pytest.raises(BridgeError) as e:
        resolve_env("minatar/breakot")
    assert e.value.extra["suggestions"] == ["minatar/breakout"]
    with pytest.raises(BridgeError, match="fullActionSpace"):
        resolve_env("MinAtar/Breakout-v0")


def test_make_reports_spaces_and_options(client: Client) -> None:
    spec = make(client, "minatar/breakout", 2)["spec"]
    assert spec["kind"] == "minatar" and spec["env"] == "breakout"
    assert spec["observation"] == {"shape": [10, 10, 4], "dtype": "uint8", "layout": "NHWC"}
    assert spec["action"] == {"n": 3, "meanings": ["NOOP", "LEFT", "RIGHT"]}
    o = spec["options"]
    assert (o["stickyActionProb"], o["difficultyRamping"], o["fullActionSpace"]) == (0.1, True, False)
    full = make(client, "MinAtar/Seaquest-v1", 1, layout="NCHW", fullActionSpace=True)["spec"]
    assert full["action"]["n"] == 6
    assert full["observation"]["shape"] == [10, 10, 10]  # NCHW: channels first
    hdr, _ = client.request("make", env="minatar/breakout", numEnvs=1, minatar={"stickyActionProb": 2.0})
    assert not hdr["ok"] and hdr["error"]["code"] == "bad_options"


def rollout(client: Client, h: int, seed: int, actions: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
    frames = [client.reset(h, seed=seed)]
    frames += [client.step(h, a)["obs"] for a in actions]
    return frames


def test_seeds_reproduce_frames(client: Client) -> None:
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, (150, 3)).astype(np.int32)
    a = rollout(client, make(client, "minatar/breakout", 3)["handle"], 7, actions)
    b = rollout(client, make(client, "minatar/breakout", 3)["handle"], 7, actions)
    c = rollout(client, make(client, "minatar/breakout", 3)["handle"], 8, actions)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert a[0].dtype == np.uint8 and set(np.unique(a[0]).tolist()) <= {0, 1}


def test_episode_ends_and_raw_returns(client: Client) -> None:
    """Random play ends breakout episodes quickly; each episode's return is the sum of its raw rewards."""
    n = 4
    h = make(client, "minatar/breakout", n)["handle"]
    client.reset(h, seed=3)
    rng = np.random.default_rng(3)
    running = np.zeros(n)
    lengths = np.zeros(n, int)
    episodes: list[dict[str, Any]] = []
    for _ in range(600):
        out = client.step(h, rng.integers(0, 3, n).astype(np.int32))
        running += out["rewards"]
        lengths += 1
        ended = out["terminated"].astype(bool)
        assert not out["truncated"].any()
        if ended.any():
            assert out["hdr"]["frames"][1]["indices"] == np.flatnonzero(ended).tolist()
            # same-step autoreset: a new game starts with a full wall of bricks (channel 3: 3 rows x 10)
            assert np.all(out["obs"][ended][..., 3].sum(axis=(1, 2)) == 30)
            for ep in out["episodes"]:
                i = ep["index"]
                assert ep["return"] == running[i] and ep["length"] == lengths[i]
            running[ended] = 0
            lengths[ended] = 0
        episodes += out["episodes"]
    assert len(episodes) >= 8
    assert all(ep["return"] >= 0 for ep in episodes)
    assert any(ep["return"] > 0 for ep in episodes)


def test_sticky_actions_option(client: Client) -> None:
    """With stickyActionProb=1 every action repeats the first one (NOOP after a seeded reset): going left
    and going right look the same. With 0 they differ at once."""

    def paddle_after(sticky: float, action: int) -> np.ndarray[Any, Any]:
        h = make(client, "minatar/breakout", 1, stickyActionProb=sticky)["handle"]
        client.reset(h, seed=5)
        obs: np.ndarray[Any, Any] = client.step(h, [action])["obs"][0, :, :, 0]  # channel 0: the paddle
        client.ok("close", handle=h)
        return obs

    assert np.array_equal(paddle_after(1.0, 1), paddle_after(1.0, 2))
    assert not np.array_equal(paddle_after(0.0, 1), paddle_after(0.0, 2))


def test_nchw_is_nhwc_transposed(client: Client) -> None:
    actions = np.random.default_rng(1).integers(0, 4, (40, 2)).astype(np.int32)
    nhwc = rollout(client, make(client, "minatar/space_invaders", 2)["handle"], 2, actions)
    nchw = rollout(client, make(client, "minatar/space_invaders", 2, layout="NCHW")["handle"], 2, actions)
    for x, y in zip(nhwc, nchw, strict=True):
        assert np.array_equal(x, y.transpose(0, 2, 3, 1))


def test_max_episode_steps_truncates(client: Client) -> None:
    h = make(client, "minatar/freeway", 2, maxEpisodeSteps=25)["handle"]
    client.reset(h, seed=0)
    for t in range(1, 51):
        out = client.step(h, [0, 1])
        want = t % 25 == 0
        assert out["truncated"].tolist() == [want, want]
        if want:
            assert [ep["length"] for ep in out["episodes"]] == [25, 25]
            assert all(ep["truncated"] for ep in out["episodes"])


def test_missing_package_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "minatar", None)  # import minatar -> ImportError
    with pytest.raises(BridgeError) as e:
        make_group(resolve_env("minatar/breakout"), 1, {})
    assert e.value.code == "missing_package"
    assert "npm run setup -- --minatar" in e.value.message and "\n" not in e.value.message


def test_random_scores_are_reproducible() -> None:
    a = random_scores(["minatar/breakout"], 30, seed=4)
    b = random_scores(["minatar/breakout"], 30, seed=4)
    assert a == b
    r = a["minatar/breakout"]
    assert r["episodes"] == 30 and 0 <= r["mean"] < 3 and r["sem"] >= 0
