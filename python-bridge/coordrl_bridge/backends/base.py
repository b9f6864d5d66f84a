"""What every env group shares: the step and reset results, episode statistics and the EnvGroup interface.

All groups run in same-step autoreset mode: the step that ends an episode already returns the first
observation of the next episode; the last observation of the ended episode is available as `final_obs`.
Rewards are raw game scores (no clipping); episode returns and lengths are tracked here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from coordrl_bridge.memory import MemoryEstimate
from coordrl_bridge.protocol import BridgeError

NO_INDEX: npt.NDArray[np.int64] = np.zeros(0, np.int64)


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

    def obs_bytes(self) -> int:
        """One env's observation, in bytes (known for every kind once built)."""
        return math.prod(self.obs_shape) * np.dtype(self.obs_dtype).itemsize

    def memory(self) -> MemoryEstimate:
        """The estimate from the real observation size."""
        return MemoryEstimate.of(self.kind, self.num_envs, self.obs_bytes())

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
