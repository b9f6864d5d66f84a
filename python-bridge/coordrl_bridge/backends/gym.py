"""Gymnasium groups: any registered env with a Discrete action space and a Box or Discrete observation."""

from __future__ import annotations

import contextlib
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from coordrl_bridge.backends.base import EnvGroup, EpisodeTracker, ResetOut, StepOut
from coordrl_bridge.protocol import BridgeError

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
