"""Stable-Baselines3 (PyTorch, CPU) baseline for `coordrl bench train`.

Runs SB3's A2C or DQN with the same network (Nature CNN), settings and environment
(ale-py's AtariVectorEnv: same preprocessing in C++ threads) for a fixed wall time and prints
environment steps per second as JSON. Gymnasium ids (e.g. CartPole-v1) run SB3's MlpPolicy with
a 64-64 tanh MLP (coordrl's mlp torso) on SB3's DummyVecEnv. MinAtar names (minatar/breakout) run the
MinAtar network on our bridge's MinAtarGroup with coordrl's MinAtar presets (src/algorithms/<name>.ts; see
minatar_sb3.py; needs the optional, GPL-3.0 minatar package). Used by `npm run bench:sb3`; not part of
the product.

usage: python bench_sb3.py --algo a2c|dqn [--env pong] [--seconds 60] [--num-envs 16]
       [--learning-starts 1000] [--envs-impl ale-vector|sb3]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ale_py.vector_env import AtariVectorEnv
from stable_baselines3 import A2C, DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from vec_env_base import WholeVecEnv


class AleVectorAdapter(WholeVecEnv):
    """ale-py's AtariVectorEnv behind SB3's VecEnv interface (same-step autoreset)."""

    def __init__(self, game: str, num_envs: int, seed: int) -> None:
        self.env = AtariVectorEnv(
            game=game,
            num_envs=num_envs,
            num_threads=2,
            repeat_action_probability=0.25,
            reward_clipping=False,
            autoreset_mode="SameStep",
        )
        self.seed_value = seed
        self._actions: np.ndarray | None = None
        super().__init__(num_envs, self.env.single_observation_space, self.env.single_action_space)

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self.seed_value)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64)

    def step_wait(self) -> Any:
        assert self._actions is not None
        obs, rew, term, trunc, _ = self.env.step(self._actions)
        done = np.logical_or(term, trunc)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done):
            infos[i]["terminal_observation"] = obs[i]  # approximation: next episode's first frame
            infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
        return obs, np.sign(rew).astype(np.float32), done, infos

    def close(self) -> None:
        self.env.close()


class StopAfter(BaseCallback):
    """Counts env steps after a warm-up (at least `warmup` seconds and `min_steps` env steps, as
    `coordrl bench train` waits for DQN's learning_starts) and stops the run after `seconds`."""

    def __init__(self, seconds: float, warmup: float, min_steps: int = 0) -> None:
        super().__init__()
        self.seconds, self.warmup, self.min_steps = seconds, warmup, min_steps
        self.t0 = 0.0
        self.start_steps = -1
        self.t_start = 0.0
        self.steps = 0

    def _on_training_start(self) -> None:
        self.t0 = time.perf_counter()

    def _on_step(self) -> bool:
        now = time.perf_counter()
        if self.start_steps < 0 and now - self.t0 >= self.warmup and self.num_timesteps >= self.min_steps:
            self.start_steps, self.t_start = self.num_timesteps, now
        if self.start_steps >= 0 and now - self.t_start >= self.seconds:
            self.steps = self.num_timesteps - self.start_steps
            self.elapsed = now - self.t_start
            return False
        return True


def is_gym_id(env: str) -> bool:
    """Gymnasium ids look like `CartPole-v1` (as coordrl's config decides); anything else is Atari."""
    return re.search(r"-v\d+$", env) is not None and not env.startswith("ALE/")


def is_minatar(env: str) -> bool:
    """The forms coordrl's config calls MinAtar (src/config.ts isMinAtar); the bridge then checks the game."""
    s = env.strip().lower()
    return s.startswith("minatar/") or s.endswith("-minatar")


def make_a2c(
    env: Any,
    seed: int,
    policy: str = "CnnPolicy",
    policy_kwargs: dict[str, Any] | None = None,
    learning_rate: float = 7e-4,
    rms_eps: float = 1e-5,
) -> A2C:
    """SB3's tuned A2C Atari settings (rl-baselines3-zoo a2c.yml), the defaults of coordrl's A2C."""
    return A2C(
        policy,
        env,
        learning_rate=learning_rate,
        n_steps=5,
        ent_coef=0.01,
        vf_coef=0.25,
        policy_kwargs={"optimizer_class": RMSpropTFLike, "optimizer_kwargs": {"eps": rms_eps}, **(policy_kwargs or {})},
        seed=seed,
        device="cpu",
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=["a2c", "dqn"], required=True)
    p.add_argument("--env", default="pong")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--warmup", type=float, default=10.0)
    p.add_argument("--num-envs", type=int, default=None)
    p.add_argument("--learning-starts", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--envs-impl", choices=["ale-vector", "sb3"], default="ale-vector")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    a = p.parse_args()
    if a.threads is not None:
        torch.set_num_threads(a.threads)

    num_envs = a.num_envs or (16 if a.algo == "a2c" else 1)
    torch.manual_seed(a.seed)
    # coordrl's mlp torso: 64-64 tanh (SB3 2.x gives A2C's policy and value separate MLPs).
    minatar = is_minatar(a.env)
    mlp = is_gym_id(a.env) and not minatar  # MinAtar/Breakout-v1 is MinAtar's name, not a Gymnasium id
    policy = "MlpPolicy" if mlp else "CnnPolicy"
    policy_kwargs: dict[str, Any] = {"net_arch": [64, 64], "activation_fn": torch.nn.Tanh} if mlp else {}
    if minatar:
        # Imported only here: it needs the optional minatar package and the bridge's sources.
        from minatar_sb3 import POLICY_KWARGS, MinAtarVecEnv, minatar_epsilon

        policy_kwargs = dict(POLICY_KWARGS)
        env: Any = MinAtarVecEnv(a.env, num_envs, a.seed)
    elif mlp:
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env(a.env, n_envs=num_envs, seed=a.seed)
    elif a.envs_impl == "ale-vector":
        env = AleVectorAdapter(a.env, num_envs, a.seed)
    else:
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack

        gym.register_envs(__import__("ale_py"))
        name = "".join(w.capitalize() for w in a.env.split("_"))
        env = VecFrameStack(make_atari_env(f"ALE/{name}-v5", n_envs=num_envs, seed=a.seed), n_stack=4)

    total_timesteps = 10**9
    if a.algo == "a2c":
        # MinAtar: coordrl's MINATAR_A2C preset (16 envs x 5 steps, lr 3e-3, RMSprop eps 1e-8, raw rewards:
        # the adapter does not clip); the rest is SB3's Atari A2C, as coordrl's defaults.
        model: Any = make_a2c(
            env,
            a.seed,
            policy,
            policy_kwargs,
            learning_rate=3e-3 if minatar else 7e-4,
            rms_eps=1e-8 if minatar else 1e-5,
        )
    elif minatar:
        # coordrl's MINATAR_DQN preset (the MinAtar paper's DQN): one update of batch 32 per step, centered
        # RMSprop in PyTorch's form, replay 100k, target every 1,000 steps, gamma 0.99, Huber loss, no
        # gradient clipping (SB3 always calls clip_grad_norm_: an infinite bound computes the norm, clips
        # nothing). learning_starts is the bench's (as `coordrl bench train --learning-starts`).
        model = DQN(
            policy,
            env,
            policy_kwargs={
                **policy_kwargs,
                "optimizer_class": torch.optim.RMSprop,
                "optimizer_kwargs": {"alpha": 0.95, "momentum": 0.0, "eps": 0.01, "centered": True},
            },
            buffer_size=100_000,
            learning_rate=2.5e-4,
            batch_size=32,
            learning_starts=a.learning_starts,
            target_update_interval=1000,
            train_freq=1,
            gradient_steps=1,
            gamma=0.99,
            max_grad_norm=float("inf"),
            optimize_memory_usage=False,
            seed=a.seed,
            device="cpu",
        )
        model.exploration_schedule = minatar_epsilon(a.learning_starts, 100_000, total_timesteps)
    else:
        model = DQN(
            policy,
            env,
            policy_kwargs=policy_kwargs,
            buffer_size=100_000,
            learning_rate=1e-4,
            batch_size=32,
            learning_starts=a.learning_starts,
            target_update_interval=1000,
            train_freq=4,
            gradient_steps=1,
            exploration_fraction=0.1,
            exploration_final_eps=0.01,
            optimize_memory_usage=False,
            seed=a.seed,
            device="cpu",
        )
    cb = StopAfter(a.seconds, a.warmup, a.learning_starts if a.algo == "dqn" else 0)
    model.learn(total_timesteps=total_timesteps, callback=cb)
    env.close()
    print(
        json.dumps(
            {
                "impl": "stable-baselines3",
                "sb3": __import__("stable_baselines3").__version__,
                "torch": torch.__version__,
                "torchThreads": torch.get_num_threads(),
                "algo": a.algo,
                "env": a.env,
                "envsImpl": "sb3-dummy" if mlp else "coordrl-minatar-group" if minatar else a.envs_impl,
                "policy": "MinAtarNet" if minatar else policy,
                "numEnvs": num_envs,
                "seconds": round(cb.elapsed, 2),
                "envSteps": cb.steps,
                "envStepsPerSec": cb.steps / cb.elapsed,
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads",
            }
        )
    )


if __name__ == "__main__":
    main()
