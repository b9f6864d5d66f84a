"""MinAtar groups, via the optional `minatar` package (GPL-3.0, imported only when a MinAtar group is made)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from coordrl_bridge.backends.base import EnvGroup, EpisodeTracker, ResetOut, StepOut
from coordrl_bridge.protocol import BridgeError

MINATAR_INSTALL_HINT = (
    "MinAtar envs need the optional package minatar==1.0.15 (GPL-3.0, not installed by default): "
    "run `npm run setup -- --minatar`, or `python-bridge/.venv/bin/pip install -r "
    "python-bridge/requirements-minatar.txt`"
)


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
