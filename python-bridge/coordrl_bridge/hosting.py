"""Vector environment groups hosted by the server: Atari via ale-py's AtariVectorEnv, MinAtar via the
optional `minatar` package (GPL-3.0, imported only when a MinAtar group is made), others via Gymnasium.

All run in same-step autoreset mode: the step that ends an episode already returns the first observation
of the next episode; the last observation of the ended episode is available as `final_obs`.
Rewards are raw game scores (no clipping); episode returns and lengths are tracked here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from coordrl_bridge.games import ResolvedEnv
from coordrl_bridge.protocol import BridgeError, preview

Layout = Literal["NHWC", "NCHW"]


@dataclass(frozen=True)
class OptionSpec:
    kind: type
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""


# Options for every env (camelCase on the wire, in make's `options` map).
COMMON_OPTIONS: dict[str, OptionSpec] = {
    "finalObs": OptionSpec(bool, True, help="send the last observation of ended episodes"),
    "layout": OptionSpec(str, "NHWC", choices=("NHWC", "NCHW"), help="image layout (Atari)"),
}

# Every AtariVectorEnv option the bridge exposes (make's `atari` map; ignored for other envs).
# reward_clipping is always off (raw game scores), autoreset is always same-step, continuous actions
# are not supported.
ATARI_OPTIONS: dict[str, OptionSpec] = {
    "repeatActionProbability": OptionSpec(float, 0.25, 0.0, 1.0, help="sticky actions (ALE/*-v5: 0.25)"),
    "fullActionSpace": OptionSpec(bool, False, help="all 18 actions instead of the game's minimal set"),
    "episodicLife": OptionSpec(bool, False, help="ale-py: reset the game on every life loss"),
    "lifeLossInfo": OptionSpec(bool, False, help="terminated=1 on a life loss, the game goes on"),
    "maxNumFramesPerEpisode": OptionSpec(int, 108000, 1, 2**31 - 1, help="truncate after this many frames"),
    "noopMax": OptionSpec(int, 30, 0, 10000, help="up to this many no-ops after a reset"),
    "useFireReset": OptionSpec(bool, True, help="press FIRE after a reset where the game needs it"),
    "fireOnLifeLoss": OptionSpec(
        bool, False, help="play FIRE on the step after a lost life, in games with FIRE (SB3's FireResetEnv)"
    ),
    "frameskip": OptionSpec(int, 4, 1, 64),
    "maxpool": OptionSpec(bool, True, help="max over the last two frames of a frame skip"),
    "stackNum": OptionSpec(int, 4, 1, 64),
    "imgHeight": OptionSpec(int, 84, 1, 1024),
    "imgWidth": OptionSpec(int, 84, 1, 1024),
    "grayscale": OptionSpec(bool, True),
    "numThreads": OptionSpec(int, 0, 0, 1024, help="ALE worker threads (0: ale-py decides)"),
}


# MinAtar options (make's `minatar` map; ignored for other envs). Defaults are MinAtar's own.
MINATAR_OPTIONS: dict[str, OptionSpec] = {
    "stickyActionProb": OptionSpec(float, 0.1, 0.0, 1.0, help="repeat the previous action with this probability"),
    "difficultyRamping": OptionSpec(bool, True, help="games speed up as they go on (MinAtar's default)"),
    "fullActionSpace": OptionSpec(bool, False, help="all 6 actions instead of the game's minimal set (-v1)"),
    "maxEpisodeSteps": OptionSpec(int, 108000, 1, 2**31 - 1, help="truncate after this many steps"),
}

MINATAR_INSTALL_HINT = (
    "MinAtar envs need the optional package minatar==1.0.15 (GPL-3.0, not installed by default): "
    "run `npm run setup -- --minatar`, or `python-bridge/.venv/bin/pip install -r "
    "python-bridge/requirements-minatar.txt`"
)


def split_options(merged: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One flat map (tools, tests) -> (common options, Atari options)."""
    common = {k: v for k, v in merged.items() if k in COMMON_OPTIONS}
    return common, {k: v for k, v in merged.items() if k not in COMMON_OPTIONS}


def parse_options(raw: Mapping[str, Any], specs: Mapping[str, OptionSpec], kind: str) -> dict[str, Any]:
    unknown = sorted(preview(k) if not isinstance(k, str) else k for k in set(raw) - set(specs))
    if unknown:
        raise BridgeError(
            "bad_options",
            f"unknown {kind} option(s) {', '.join(unknown)}; known: {', '.join(sorted(specs))}",
        )
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        v = raw.get(name)
        if v is None:
            out[name] = spec.default
            continue
        if spec.kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if spec.kind is bool and not isinstance(v, bool):
            raise BridgeError("bad_options", f"option '{name}' must be a boolean, got {type(v).__name__}")
        if spec.kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise BridgeError("bad_options", f"option '{name}' must be an integer, got {type(v).__name__}")
        if spec.kind is float and not isinstance(v, float):
            raise BridgeError("bad_options", f"option '{name}' must be a number, got {type(v).__name__}")
        if spec.kind is str and not isinstance(v, str):
            raise BridgeError("bad_options", f"option '{name}' must be a string, got {type(v).__name__}")
        if spec.kind is float and not math.isfinite(v):  # NaN passes every comparison below
            raise BridgeError("bad_options", f"option '{name}' must be a finite number, got {v}")
        if (spec.lo is not None and v < spec.lo) or (spec.hi is not None and v > spec.hi):
            raise BridgeError("bad_options", f"option '{name}' must be in [{spec.lo}, {spec.hi}], got {v}")
        if spec.choices is not None and v not in spec.choices:
            raise BridgeError(
                "bad_options", f"option '{name}' must be one of {', '.join(spec.choices)}, got {preview(v)}"
            )
        out[name] = v
    return out


@dataclass
class StepOut:
    obs: npt.NDArray[Any]
    rewards: npt.NDArray[np.float32]
    terminated: npt.NDArray[np.uint8]
    truncated: npt.NDArray[np.uint8]
    lives: npt.NDArray[np.int32] | None
    episodes: list[dict[str, Any]]
    final_index: npt.NDArray[np.int64]
    final_obs: npt.NDArray[Any] | None


@dataclass
class ResetOut:
    obs: npt.NDArray[Any]
    lives: npt.NDArray[np.int32] | None


@dataclass
class EpisodeTracker:
    num_envs: int
    returns: npt.NDArray[np.float64] = field(init=False)
    lengths: npt.NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.returns = np.zeros(self.num_envs, np.float64)
        self.lengths = np.zeros(self.num_envs, np.int64)

    def reset(self) -> None:
        self.returns[:] = 0
        self.lengths[:] = 0

    def add(self, rewards: npt.NDArray[np.float32]) -> None:
        self.returns += rewards
        self.lengths += 1

    def finish(
        self,
        ended: npt.NDArray[np.bool_],
        truncated: npt.NDArray[np.bool_],
        lives: npt.NDArray[np.int32] | None = None,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in np.flatnonzero(ended).tolist():
            ep: dict[str, Any] = {
                "index": i,
                "return": float(self.returns[i]),
                "length": int(self.lengths[i]),
                "truncated": bool(truncated[i]),
            }
            if lives is not None:
                ep["lives"] = int(lives[i])
            out.append(ep)
            self.returns[i] = 0
            self.lengths[i] = 0
        return out


class EnvGroup:
    """A vector of `num_envs` environments stepped together. Not thread-safe: one worker thread owns it."""

    tracker: EpisodeTracker

    kind: str
    env_name: str
    num_envs: int
    num_actions: int
    action_meanings: list[str]
    obs_shape: tuple[int, ...]  # per env, in the layout sent
    obs_dtype: str
    layout: str
    options: dict[str, Any]

    def memory(self) -> MemoryEstimate:
        """The estimate from the real observation size (known for every kind once built)."""
        obs_bytes = math.prod(self.obs_shape) * np.dtype(self.obs_dtype).itemsize
        return MemoryEstimate.of(self.kind, self.num_envs, obs_bytes)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "env": self.env_name,
            "numEnvs": self.num_envs,
            "observation": {"shape": list(self.obs_shape), "dtype": self.obs_dtype, "layout": self.layout},
            "action": {"n": self.num_actions, "meanings": self.action_meanings},
            "options": self.options,
        }

    def check_actions(self, raw: bytes, dtype: str) -> npt.NDArray[np.int32]:
        if dtype != "int32":
            raise BridgeError("bad_actions", f"actions must have dtype int32, got '{dtype}'")
        if len(raw) != 4 * self.num_envs:
            raise BridgeError(
                "bad_actions",
                f"expected {self.num_envs} int32 actions ({4 * self.num_envs} bytes), got {len(raw)} bytes",
            )
        a = np.frombuffer(raw, dtype="<i4").astype(np.int32)
        values = a.tolist()  # min/max of a short list: cheaper than two numpy reductions
        if min(values) >= 0 and max(values) < self.num_actions:
            return a
        bad = np.flatnonzero((a < 0) | (a >= self.num_actions))
        if bad.size:
            i = int(bad[0])
            raise BridgeError(
                "bad_actions",
                f"action {int(a[i])} for env {i} is out of range [0, {self.num_actions})"
                + (f" ({bad.size} out of range)" if bad.size > 1 else ""),
            )
        return a

    def _finish_step(
        self,
        obs: npt.NDArray[Any],
        rewards: npt.NDArray[np.float32],
        term: npt.NDArray[np.bool_],
        trunc: npt.NDArray[np.bool_],
        *,
        final_index: npt.NDArray[np.int64],
        final_obs: npt.NDArray[Any] | None,
    ) -> StepOut:
        """The reply of a step in a group without lives (every end is an episode end), with the
        episode statistics of `self.tracker` updated."""
        self.tracker.add(rewards)
        episodes = self.tracker.finish(term | trunc, trunc)
        return StepOut(
            obs=obs,
            rewards=rewards,
            terminated=term.view(np.uint8),
            truncated=trunc.view(np.uint8),
            lives=None,
            episodes=episodes,
            final_index=final_index,
            final_obs=final_obs,
        )

    def reset(self, seed: int | None) -> ResetOut:
        raise NotImplementedError

    def step(self, actions: npt.NDArray[np.int32]) -> StepOut:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


_NO_INDEX: npt.NDArray[np.int64] = np.zeros(0, np.int64)


def _nchw_to_nhwc(obs: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """(N, C, H, W) -> new contiguous (N, H, W, C); one strided write per channel (3-4x faster than
    np.ascontiguousarray(obs.transpose(0, 2, 3, 1)) for 84x84x4 frames)."""
    n, c, h, w = obs.shape
    out = np.empty((n, h, w, c), dtype=obs.dtype)
    for k in range(c):
        out[..., k] = obs[:, k]
    return out


# ale-py builds an AtariVectorEnv without releasing the GIL (about 80 ms per env on a busy 2-core machine),
# which would stall every other thread of the server, the control channel included. A group is therefore
# built (and stepped) as parts of at most this many envs; the GIL changes hands between parts. Env i of a
# part at offset k is seeded with seed + k + i, so frames are the same as from one vector env.
ATARI_PART_ENVS = 16


def atari_vector_env(rom: str, num_envs: int, o: Mapping[str, Any], num_threads: int | None = None) -> AtariVectorEnv:
    """One AtariVectorEnv with the bridge's settings (parsed Atari options `o`)."""
    return AtariVectorEnv(
        rom,
        num_envs,
        num_threads=int(o["numThreads"]) if num_threads is None else num_threads,
        max_num_frames_per_episode=int(o["maxNumFramesPerEpisode"]),
        repeat_action_probability=float(o["repeatActionProbability"]),
        full_action_space=bool(o["fullActionSpace"]),
        autoreset_mode=AutoresetMode.SAME_STEP,
        img_height=int(o["imgHeight"]),
        img_width=int(o["imgWidth"]),
        grayscale=bool(o["grayscale"]),
        stack_num=int(o["stackNum"]),
        frameskip=int(o["frameskip"]),
        maxpool=bool(o["maxpool"]),
        noop_max=int(o["noopMax"]),
        episodic_life=bool(o["episodicLife"]),
        life_loss_info=bool(o["lifeLossInfo"]),
        reward_clipping=False,
        use_fire_reset=bool(o["useFireReset"]),
    )


def _part_bounds(num_envs: int) -> list[tuple[int, int]]:
    return [(lo, min(num_envs, lo + ATARI_PART_ENVS)) for lo in range(0, num_envs, ATARI_PART_ENVS)]


def _concat_info(infos: list[dict[str, Any]], obs: list[npt.NDArray[Any]]) -> dict[str, Any]:
    """The infos of the parts as one vector env's (only the fields the group reads)."""
    out: dict[str, Any] = {k: np.concatenate([i[k] for i in infos]) for k in ("lives", "episode_frame_number")}
    if any("final_obs" in i for i in infos):
        out["final_obs"] = np.concatenate([np.asarray(i.get("final_obs", o)) for i, o in zip(infos, obs, strict=True)])
    return out


class AtariGroup(EnvGroup):
    def __init__(self, rom: str, num_envs: int, options: dict[str, Any]) -> None:
        o = options
        self.kind = "atari"
        self.env_name = rom
        self.num_envs = num_envs
        self.options = o
        self.layout = str(o["layout"])
        self.final_obs_wanted = bool(o["finalObs"])
        self.life_loss_info = bool(o["lifeLossInfo"])
        self.bounds = _part_bounds(num_envs)
        threads = int(o["numThreads"])  # shared among the parts (0: ale-py decides for each)
        part_threads = 0 if threads == 0 else max(1, -(-threads // len(self.bounds)))
        self.parts: list[AtariVectorEnv] = []
        try:
            for lo, hi in self.bounds:
                self.parts.append(atari_vector_env(rom, hi - lo, o, part_threads))
        except BaseException:
            self.close()
            raise
        self.env = self.parts[0]
        actions = self.env.ale.get_action_set()
        self.num_actions = len(actions)
        self.action_meanings = [a.name for a in actions]
        stack, h, w = int(o["stackNum"]), int(o["imgHeight"]), int(o["imgWidth"])
        color = 1 if o["grayscale"] else 3
        self.obs_dtype = "uint8"
        self.obs_shape = (h, w, stack * color) if self.layout == "NHWC" else (stack * color, h, w)
        self.tracker = EpisodeTracker(num_envs)
        self._paddle = np.ones(num_envs, np.float32)
        # grayscale NHWC: build each step's observation from the previous one (see _step_layout)
        self._incremental = self.layout == "NHWC" and bool(o["grayscale"])
        self._prev_nhwc: npt.NDArray[np.uint8] | None = None
        self.prev_lives = np.zeros(num_envs, np.int32)
        self.prev_frame = np.zeros(num_envs, np.int64)
        # SB3's FireResetEnv presses FIRE on every reset its EpisodicLifeEnv makes, i.e. after each lost
        # life; ale-py presses it only at a real reset, so in games like Breakout nothing happens until
        # the agent fires. ale-py cannot step one env alone, so the env's next action becomes FIRE.
        self.fire_action = self.action_meanings.index("FIRE") if "FIRE" in self.action_meanings else -1
        self.fire_on_life_loss = bool(o["fireOnLifeLoss"]) and self.fire_action >= 0
        self._fire_next = np.zeros(num_envs, np.bool_)

    def _layout(self, obs: npt.NDArray[Any]) -> npt.NDArray[Any]:
        # ale-py: (N, stack, H, W) for grayscale, (N, stack, H, W, 3) for colour.
        if obs.ndim == 5:
            n, s, h, w, c = obs.shape
            if self.layout == "NHWC":
                return np.ascontiguousarray(obs.transpose(0, 2, 3, 1, 4)).reshape(n, h, w, s * c)
            return np.ascontiguousarray(obs.transpose(0, 1, 4, 2, 3)).reshape(n, s * c, h, w)
        if self.layout == "NHWC":
            return _nchw_to_nhwc(obs)
        return np.ascontiguousarray(obs)  # fresh array per step: safe to send without copying

    def _step_layout(self, obs: npt.NDArray[np.uint8], ended: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        """NHWC for a step. Between resets each env's stack is the previous one shifted by one frame, and in
        NHWC memory (4 bytes per pixel, oldest first) that shift is a one-byte move of the whole buffer:
        copy the previous NHWC observation one byte down, write the newest frame into every 4th byte,
        and transpose in full only the envs that were reset. ~4x cheaper than a full transpose."""
        prev = self._prev_nhwc
        if prev is None:
            return self._layout(obs)
        out = np.empty_like(prev)
        flat, prev_flat = out.reshape(-1), prev.reshape(-1)
        c = prev.shape[-1]
        flat[:-1] = prev_flat[1:]
        flat[c - 1 :: c] = obs[:, c - 1].reshape(-1)
        for i in ended.tolist():
            out[i] = obs[i].transpose(1, 2, 0)
        self._prev_nhwc = out
        return out

    def _reset_parts(self, seed: int | None) -> tuple[npt.NDArray[Any], dict[str, Any]]:
        if len(self.parts) == 1:
            return self.env.reset(seed=seed)
        seeds = [None if seed is None else seed + lo for lo, _ in self.bounds]
        outs = [p.reset(seed=sd) for p, sd in zip(self.parts, seeds, strict=True)]
        obs = [o for o, _ in outs]
        return np.concatenate(obs), _concat_info([i for _, i in outs], obs)

    def _send_recv(self, actions: npt.NDArray[np.int32]) -> tuple[Any, ...]:
        if len(self.parts) == 1:
            self.env.ale.send(actions, self._paddle)
            return tuple(self.env.ale.recv())
        for p, (lo, hi) in zip(self.parts, self.bounds, strict=True):
            p.ale.send(actions[lo:hi], self._paddle[lo:hi])  # all parts step at once
        outs = [p.ale.recv() for p in self.parts]
        obs = [o[0] for o in outs]
        cat = [np.concatenate([o[k] for o in outs]) for k in (1, 2, 3)]
        return (np.concatenate(obs), *cat, _concat_info([o[4] for o in outs], obs))

    def reset(self, seed: int | None) -> ResetOut:
        obs, info = self._reset_parts(seed)
        self.tracker.reset()
        self.prev_lives = np.asarray(info["lives"], np.int32).copy()
        self.prev_frame = np.asarray(info["episode_frame_number"], np.int64).copy()
        self._fire_next[:] = False
        out = self._layout(obs)
        self._prev_nhwc = out if self._incremental else None
        return ResetOut(out, self.prev_lives.copy())

    def step(self, actions: npt.NDArray[np.int32]) -> StepOut:
        # AtariVectorEnv.step() minus its per-call asserts and allocations (hot path).
        if self.fire_on_life_loss and self._fire_next.any():
            actions = np.where(self._fire_next, np.int32(self.fire_action), actions).astype(np.int32)
        obs, rew, term, trunc, info = self._send_recv(actions)
        rewards = rew.astype(np.float32)
        lives = info["lives"]
        self.tracker.add(rewards)
        ended = term | trunc
        # A life lost while the game goes on: the lives went down and the env was not reset.
        lost_life = lives < self.prev_lives if self.fire_on_life_loss else None
        episodes: list[dict[str, Any]] = []
        final_index = _NO_INDEX
        final_obs = None
        if ended.any():
            frame = info["episode_frame_number"]
            if self.life_loss_info:
                # terminated also marks a life loss; the game (and our episode) only ended where the env was
                # reset: its frame counter went back or its lives went up.
                game_over = trunc | (term & ((frame <= self.prev_frame) | (lives > self.prev_lives)))
            else:
                game_over = ended
            episodes = self.tracker.finish(game_over, trunc, self.prev_lives)
            if lost_life is not None:
                lost_life &= ~game_over
            final_index = np.flatnonzero(ended)
            if self.final_obs_wanted and "final_obs" in info:
                fo = np.asarray(info["final_obs"])[final_index]
                if self.life_loss_info:
                    # ale-py's final_obs is only meaningful where the env was reset; after a life loss
                    # the game goes on and the returned observation is the next one.
                    goes_on = ~game_over[final_index]
                    fo[goes_on] = obs[final_index[goes_on]]
                final_obs = self._layout(fo)
        if lost_life is not None:
            self._fire_next = lost_life
        if self.life_loss_info:
            self.prev_frame = np.array(info["episode_frame_number"], np.int64)
        self.prev_lives = np.array(lives, np.int32)
        return StepOut(
            obs=self._step_layout(obs, final_index),
            rewards=rewards,
            terminated=term.view(np.uint8),
            truncated=trunc.view(np.uint8),
            lives=self.prev_lives,
            episodes=episodes,
            final_index=final_index,
            final_obs=final_obs,
        )

    def close(self) -> None:
        for p in self.parts:
            p.close()


# MinAtar's action letters in its own order (minatar.environments.*.Env.action_map).
_MINATAR_ACTIONS = ("NOOP", "LEFT", "UP", "RIGHT", "DOWN", "FIRE")


class MinAtarGroup(EnvGroup):
    """`num_envs` MinAtar games stepped one after the other (a step is microseconds of Python); same-step
    autoreset like the others. Observations: MinAtar's boolean 10x10xC grid as uint8 0/1, no frame stack
    (its trail channels carry the motion). Env i is seeded with seed + i at a seeded reset."""

    def __init__(self, game: str, num_envs: int, options: dict[str, Any]) -> None:
        try:
            from minatar import Environment
        except ImportError:
            raise BridgeError("missing_package", MINATAR_INSTALL_HINT) from None
        o = options
        self.kind = "minatar"
        self.env_name = game
        self.num_envs = num_envs
        self.options = o
        self.layout = str(o["layout"])
        self.final_obs_wanted = bool(o["finalObs"])
        self.max_steps = int(o["maxEpisodeSteps"])
        self.envs = [
            Environment(
                game, sticky_action_prob=float(o["stickyActionProb"]), difficulty_ramping=bool(o["difficultyRamping"])
            )
            for _ in range(num_envs)
        ]
        first = self.envs[0]
        full = list(range(first.num_actions()))
        self.action_set = np.asarray(full if o["fullActionSpace"] else first.minimal_action_set(), np.int64)
        self.num_actions = len(self.action_set)
        self.action_meanings = [_MINATAR_ACTIONS[int(a)] for a in self.action_set]
        h, w, c = (int(d) for d in first.state_shape())
        self.obs_dtype = "uint8"
        self.obs_shape = (h, w, c) if self.layout == "NHWC" else (c, h, w)
        self.tracker = EpisodeTracker(num_envs)
        self.steps = np.zeros(num_envs, np.int64)

    def _states(self) -> npt.NDArray[np.uint8]:
        return self._layout(np.stack([e.state() for e in self.envs]).astype(np.uint8))

    def _layout(self, nhwc: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return nhwc if self.layout == "NHWC" else np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))

    def reset(self, seed: int | None) -> ResetOut:
        for i, e in enumerate(self.envs):
            if seed is not None:
                e.seed(seed + i)
                e.last_action = 0  # sticky actions repeat the previous action: none yet
            e.reset()
        self.tracker.reset()
        self.steps[:] = 0
        return ResetOut(self._states(), None)

    def step(self, actions: npt.NDArray[np.int32]) -> StepOut:
        n = self.num_envs
        rewards = np.zeros(n, np.float32)
        term = np.zeros(n, np.bool_)
        mapped = self.action_set[actions]
        for i, e in enumerate(self.envs):
            r, done = e.act(int(mapped[i]))
            rewards[i] = r
            term[i] = done
        self.steps += 1
        trunc = ~term & (self.steps >= self.max_steps)
        final_index = np.flatnonzero(term | trunc)
        final_obs = None
        if final_index.size:
            if self.final_obs_wanted:
                final_obs = self._layout(
                    np.stack([self.envs[i].state() for i in final_index.tolist()]).astype(np.uint8)
                )
            for i in final_index.tolist():
                self.envs[i].reset()
            self.steps[final_index] = 0
        return self._finish_step(self._states(), rewards, term, trunc, final_index=final_index, final_obs=final_obs)

    def close(self) -> None:
        self.envs = []


_GYM_DTYPES = {"uint8", "float32"}


class GymGroup(EnvGroup):
    """`num_envs` Gymnasium envs stepped one after the other with same-step autoreset: what
    `SyncVectorEnv(autoreset_mode=SAME_STEP)` does (env i seeded with seed + i at a seeded reset, the
    ended episode's last observation as final_obs, the next episode's first one in obs), without its
    per-step deep copy, info dicts and array conversions: a CartPole step through the server costs about
    half as much (tests/test_step_path.py checks it step for step against SyncVectorEnv)."""

    def __init__(self, env_id: str, num_envs: int, options: dict[str, Any]) -> None:
        self.kind = "gym"
        self.env_name = env_id
        self.num_envs = num_envs
        self.options = options
        self.layout = "flat"
        self.final_obs_wanted = bool(options["finalObs"])
        self.envs: list[gym.Env[Any, Any]] = []
        try:
            for _ in range(num_envs):
                self.envs.append(gym.make(env_id))
        except Exception as e:
            self.close()
            raise BridgeError("env_error", f"cannot create Gymnasium env '{env_id}': {e}") from None
        act = self.envs[0].action_space
        if not isinstance(act, gym.spaces.Discrete) or int(act.start) != 0:
            self.close()
            raise BridgeError(
                "unsupported_env", f"'{env_id}' has action space {act}; the bridge supports Discrete(n) only"
            )
        self.num_actions = int(act.n)
        self.action_meanings = [str(i) for i in range(self.num_actions)]
        obs_space = self.envs[0].observation_space
        if isinstance(obs_space, gym.spaces.Box):
            self.obs_shape = tuple(int(d) for d in obs_space.shape)
            dt = np.dtype(obs_space.dtype).name
            self.obs_dtype = dt if dt in _GYM_DTYPES else "float32"
        elif isinstance(obs_space, gym.spaces.Discrete):
            self.obs_shape = ()
            self.obs_dtype = "float32"
        else:
            self.close()
            raise BridgeError(
                "unsupported_env",
                f"'{env_id}' has observation space {obs_space}; the bridge supports Box and Discrete",
            )
        self.tracker = EpisodeTracker(num_envs)

    def reset(self, seed: int | None) -> ResetOut:
        obs = np.empty((self.num_envs, *self.obs_shape), self.obs_dtype)
        for i, env in enumerate(self.envs):
            obs[i] = np.asarray(env.reset(seed=None if seed is None else seed + i)[0]).reshape(self.obs_shape)
        self.tracker.reset()
        return ResetOut(obs, None)

    def step(self, actions: npt.NDArray[np.int32]) -> StepOut:
        n = self.num_envs
        obs = np.empty((n, *self.obs_shape), self.obs_dtype)
        rewards = np.empty(n, np.float32)
        term = np.zeros(n, np.bool_)
        trunc = np.zeros(n, np.bool_)
        finals: list[npt.NDArray[Any]] = []
        for i, (env, a) in enumerate(zip(self.envs, actions.tolist(), strict=True)):
            o, r, te, tr, _ = env.step(a)
            rewards[i] = r
            if te or tr:
                term[i] = bool(te)
                trunc[i] = bool(tr)
                if self.final_obs_wanted:
                    finals.append(np.asarray(o).reshape(self.obs_shape))
                o, _ = env.reset()
            obs[i] = np.asarray(o).reshape(self.obs_shape)
        final_index = np.flatnonzero(term | trunc)
        final_obs = np.stack(finals).astype(self.obs_dtype, copy=False) if finals else None
        return self._finish_step(obs, rewards, term, trunc, final_index=final_index, final_obs=final_obs)

    def close(self) -> None:
        for env in self.envs:
            with contextlib.suppress(Exception):
                env.close()
        self.envs = []


# ---- memory a group needs (checked against the server's budget before anything is built) ---------------

MIB = 1 << 20
# Measured with ale-py 0.12 (Pong; make, reset, then steps): about 1.7 MB per env with 84x84x4 frames, and
# 11-14x the observation bytes per env on top (ale-py's frame stacks and output buffers, final observations,
# this server's NHWC copies and reply frames in flight). Rounded up, so an estimate errs on the safe side.
ENV_OVERHEAD_BYTES = {"atari": 2 * MIB, "minatar": 1 * MIB, "gym": 1 * MIB}
# The largest MinAtar observation (seaquest: 10 x 10 x 10 uint8): the plan is made before the game is built.
MINATAR_MAX_OBS_BYTES = 10 * 10 * 10
OBS_COPIES = 16


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class MemoryEstimate:
    bytes: int
    formula: str  # how it was computed, for the `limit` error

    @staticmethod
    def of(kind: str, num_envs: int, obs_bytes: int) -> MemoryEstimate:
        per_env = ENV_OVERHEAD_BYTES.get(kind, ENV_OVERHEAD_BYTES["gym"]) + OBS_COPIES * obs_bytes
        formula = (
            f"{num_envs} envs x ({format_bytes(ENV_OVERHEAD_BYTES.get(kind, MIB))} + {OBS_COPIES} x "
            f"{format_bytes(obs_bytes)} observation)"
        )
        return MemoryEstimate(num_envs * per_env, formula)


def atari_obs_bytes(o: Mapping[str, Any]) -> int:
    return int(o["stackNum"]) * int(o["imgHeight"]) * int(o["imgWidth"]) * (1 if o["grayscale"] else 3)


@dataclass(frozen=True)
class GroupPlan:
    """A checked `make`: what to build and the memory it will take. Cheap to compute (no env is created)."""

    resolved: ResolvedEnv
    num_envs: int
    options: dict[str, Any]  # effective options
    memory: MemoryEstimate  # for Gymnasium envs the observation size is known only once built (see EnvGroup)


def plan_group(
    resolved: ResolvedEnv,
    num_envs: int,
    raw_options: Mapping[str, Any],
    raw_atari: Mapping[str, Any] | None = None,
    raw_minatar: Mapping[str, Any] | None = None,
) -> GroupPlan:
    """Checks the options of a `make`; `raw_atari` options apply to Atari envs only, `raw_minatar` to MinAtar
    only (each ignored for other envs)."""
    common = parse_options(raw_options, COMMON_OPTIONS, "env")
    atari = parse_options(raw_atari or {}, ATARI_OPTIONS, "Atari")
    minatar = parse_options(raw_minatar or {}, MINATAR_OPTIONS, "MinAtar")
    if resolved.kind == "atari":
        opts = {**atari, **common}
        return GroupPlan(resolved, num_envs, opts, MemoryEstimate.of("atari", num_envs, atari_obs_bytes(opts)))
    if resolved.kind == "minatar":
        opts = {**minatar, **common}
        return GroupPlan(resolved, num_envs, opts, MemoryEstimate.of("minatar", num_envs, MINATAR_MAX_OBS_BYTES))
    return GroupPlan(resolved, num_envs, {"finalObs": common["finalObs"]}, MemoryEstimate.of("gym", num_envs, 0))


def build_group(plan: GroupPlan) -> EnvGroup:
    """Creates the envs of a plan (slow: ~80 ms per Atari env)."""
    kind = plan.resolved.kind
    if kind in ("atari", "minatar"):
        try:
            if kind == "minatar":
                return MinAtarGroup(plan.resolved.name, plan.num_envs, plan.options)
            return AtariGroup(plan.resolved.name, plan.num_envs, plan.options)
        except BridgeError:
            raise
        except Exception as e:
            label = "MinAtar" if kind == "minatar" else "Atari"
            raise BridgeError("env_error", f"cannot create {label} env '{plan.resolved.name}': {e}") from None
    return GymGroup(plan.resolved.name, plan.num_envs, plan.options)


def make_group(
    resolved: ResolvedEnv,
    num_envs: int,
    raw_options: Mapping[str, Any],
    raw_atari: Mapping[str, Any] | None = None,
    raw_minatar: Mapping[str, Any] | None = None,
) -> EnvGroup:
    """plan_group, then build_group (tools and tests; the server checks the plan's memory in between)."""
    return build_group(plan_group(resolved, num_envs, raw_options, raw_atari, raw_minatar))
