"""The part of SB3's VecEnv interface that the benchmark's vector envs leave empty.

The adapters (bench_sb3.AleVectorAdapter, minatar_sb3.MinAtarVecEnv) wrap a vector env that steps all
its envs at once and has no per-env attributes or wrappers to reach; SB3's algorithms never call these
during A2C/DQN training, but VecEnv declares them abstract.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.vec_env import VecEnv


class WholeVecEnv(VecEnv):
    """A VecEnv without per-env attribute access: get/set_attr and env_method answer None, nothing is wrapped."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [None] * self.num_envs

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        return None

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        return [None] * self.num_envs

    def env_is_wrapped(self, wrapper_class: Any, indices: Any = None) -> list[bool]:
        return [False] * self.num_envs
