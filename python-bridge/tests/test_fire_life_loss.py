"""FIRE after a lost life (`fireOnLifeLoss`), as SB3's FireResetEnv under EpisodicLifeEnv: through the server."""

from __future__ import annotations

from typing import Any

import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from tests.conftest import Client

NOOP = 0


def _lives(out: dict[str, Any]) -> np.ndarray[Any, Any]:
    return np.frombuffer(out["hdr"]["lives"], "<i4")


def test_breakout_noop_stalls_after_a_lost_life_without_fire(client: Client) -> None:
    # ale-py presses FIRE only at a real reset: after the first lost life no new ball comes.
    h = client.make("breakout", 1, lifeLossInfo=True, repeatActionProbability=0.0)["handle"]
    client.reset(h, seed=3)
    lives = []
    for _ in range(1500):
        lives.append(int(_lives(client.step(h, [NOOP]))[0]))
    assert lives[0] == 5 and min(lives) == 4 and lives[-1] == 4  # one life lost, then nothing happens
    client.ok("close", handle=h)


def test_breakout_noop_with_fire_on_life_loss_plays_every_life(client: Client) -> None:
    made = client.make("breakout", 2, lifeLossInfo=True, fireOnLifeLoss=True, repeatActionProbability=0.0)
    assert made["spec"]["options"]["fireOnLifeLoss"] is True
    h = made["handle"]
    client.reset(h, seed=3)
    terminations = np.zeros(2, int)
    ended: list[dict[str, Any]] = []
    for _ in range(1500):
        out = client.step(h, [NOOP, NOOP])
        terminations += out["terminated"]
        ended += out["episodes"]
        if len({e["index"] for e in ended}) == 2:
            break
    # A new ball is served after each lost life, so a NOOP player loses all 5 lives and the game ends.
    assert sorted(e["index"] for e in ended[:2]) == [0, 1]
    assert all(not e["truncated"] and e["length"] < 1500 for e in ended)
    assert terminations.min() >= 5  # one terminated per lost life (life-loss signal), the last ends the game
    client.ok("close", handle=h)


def test_frames_are_ale_py_frames_with_fire_after_each_lost_life(client: Client) -> None:
    """Byte for byte what ale-py's AtariVectorEnv gives when FIRE is played on the step after a lost life."""
    n, seed, steps = 2, 5, 600
    h = client.make("breakout", n, lifeLossInfo=True, fireOnLifeLoss=True, repeatActionProbability=0.0, layout="NCHW")[
        "handle"
    ]
    ours = [client.reset(h, seed=seed)]
    rng = np.random.default_rng(0)
    agent_actions = rng.choice([NOOP, 2, 3], size=(steps, n)).astype(np.int32)  # never FIRE itself
    for t in range(steps):
        ours.append(client.step(h, agent_actions[t])["obs"])
    client.ok("close", handle=h)

    env = AtariVectorEnv(
        "breakout",
        n,
        num_threads=1,
        repeat_action_probability=0.0,
        autoreset_mode=AutoresetMode.SAME_STEP,
        life_loss_info=True,
        reward_clipping=False,
    )
    obs, info = env.reset(seed=seed)
    theirs = [obs.copy()]
    prev_lives = np.asarray(info["lives"]).copy()
    fire_next = np.zeros(n, bool)
    fired = 0
    for t in range(steps):
        a = np.where(fire_next, 1, agent_actions[t]).astype(np.int32)
        fired += int(fire_next.sum())
        obs, _, term, trunc, info = env.step(a)
        lives = np.asarray(info["lives"])
        game_over = trunc | (term & (lives > prev_lives))
        fire_next = (lives < prev_lives) & ~game_over
        prev_lives = lives.copy()
        theirs.append(obs.copy())
    env.close()
    assert fired >= 2  # the comparison went through lost lives
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert np.array_equal(a, b), f"frames differ at step {t}"


def test_games_without_fire_are_unchanged(client: Client) -> None:
    frames = []
    for fire in (False, True):
        made = client.make("ms_pacman", 1, fireOnLifeLoss=fire, repeatActionProbability=0.0)
        assert "FIRE" not in made["spec"]["action"]["meanings"]
        h = made["handle"]
        obs = [client.reset(h, seed=2)]
        rng = np.random.default_rng(4)
        first_lives = None
        lost = False
        for _ in range(800):
            out = client.step(h, rng.integers(0, 9, 1))
            lives = int(_lives(out)[0])
            first_lives = lives if first_lives is None else first_lives
            lost |= lives < first_lives
            obs.append(out["obs"])
        assert lost
        frames.append(np.stack(obs))
        client.ok("close", handle=h)
    assert np.array_equal(frames[0], frames[1])
