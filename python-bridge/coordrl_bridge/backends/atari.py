"""Atari groups: ale-py's AtariVectorEnv (C++ threads emulate; the GIL is released while they do)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from coordrl_bridge.backends.base import NO_INDEX, EnvGroup, EpisodeTracker, ResetOut, StepOut


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
        final_index = NO_INDEX
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
