"""MinAtar for the Stable-Baselines3 baseline of `npm run bench:sb3`: the same envs and network as coordrl's.

Envs: our bridge's own MinAtarGroup (python-bridge/coordrl_bridge/backends/minatar.py, imported from the source
tree, so name resolution, sticky actions 0.1, difficulty ramping, the minimal action set, same-step autoreset and
seeding are exactly coordrl's) behind SB3's VecEnv interface, in SB3's process instead of behind ZeroMQ.
Network: the MinAtar paper's (Young & Tian 2019), coordrl's `--arch minatar`: conv 16 filters 3x3 stride 1
(valid: 10x10 -> 8x8x16), relu, dense 128, relu; SB3 puts its heads on top (net_arch=[]). The 0/1 grids
are not scaled. Needs the optional minatar==1.0.15 (GPL-3.0; scripts/sb3/requirements-minatar.txt).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python-bridge"))
from coordrl_bridge.backends.base import EnvGroup
from coordrl_bridge.games import resolve_env
from coordrl_bridge.hosting import make_group
from vec_env_base import WholeVecEnv


class MinAtarNet(BaseFeaturesExtractor):
    """conv 16@3x3/1 -> relu -> dense 128 -> relu on NCHW 0/1 grids (coordrl's `--arch minatar` torso)."""

    def __init__(self, observation_space: spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        c, h, w = observation_space.shape
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(c, 16, kernel_size=3, stride=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(16 * (h - 2) * (w - 2), features_dim),
            torch.nn.ReLU(),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


# SB3 policy options for this network: no MLP between the features and the heads, no /255 of 0/1 grids.
POLICY_KWARGS: dict[str, Any] = {
    "features_extractor_class": MinAtarNet,
    "features_extractor_kwargs": {"features_dim": 128},
    "net_arch": [],
    "normalize_images": False,
}


class MinAtarVecEnv(WholeVecEnv):
    """`num_envs` MinAtar games of the bridge's MinAtarGroup (NCHW uint8 0/1, raw rewards) as an SB3 VecEnv."""

    def __init__(self, env: str, num_envs: int, seed: int) -> None:
        resolved = resolve_env(env)
        if resolved.kind != "minatar":
            raise ValueError(f"'{env}' is not a MinAtar env")
        self.group: EnvGroup = make_group(resolved, num_envs, {"layout": "NCHW", "finalObs": True})
        self.seed_value = seed
        self._actions: np.ndarray | None = None
        obs_space = spaces.Box(0, 1, tuple(self.group.obs_shape), np.uint8)
        super().__init__(num_envs, obs_space, spaces.Discrete(int(self.group.num_actions)))

    def reset(self) -> np.ndarray:
        return self.group.reset(self.seed_value).obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int32).reshape(self.num_envs)

    def step_wait(self) -> Any:
        assert self._actions is not None
        out = self.group.step(self._actions)
        term = out.terminated.astype(np.bool_)
        trunc = out.truncated.astype(np.bool_)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        final_obs = out.final_obs if out.final_obs is not None else out.obs[out.final_index]
        for j, i in enumerate(out.final_index.tolist()):
            infos[i]["terminal_observation"] = final_obs[j]
            infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
        return out.obs, out.rewards, np.logical_or(term, trunc), infos

    def close(self) -> None:
        self.group.close()


def minatar_epsilon(learning_starts: int, exploration_steps: int, total_timesteps: int) -> Any:
    """coordrl's MinAtar schedule as an SB3 schedule of progress_remaining: epsilon 1.0 until learning
    starts, then linear to 0.1 over `exploration_steps` transitions (src/algorithms/dqn.ts MINATAR_DQN)."""

    def schedule(progress_remaining: float) -> float:
        t = (1.0 - progress_remaining) * total_timesteps
        f = min(1.0, max(0.0, t - learning_starts) / exploration_steps)
        return 1.0 + f * (0.1 - 1.0)

    return schedule
