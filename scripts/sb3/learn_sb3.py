"""Stable-Baselines3 A2C learning run on an Atari game, as a reference curve for ours.

The same environment as coordrl's (ale-py's AtariVectorEnv: sticky actions 0.25, frame skip 4
with max-pool, 84x84 grayscale, 4-frame stack, 30 no-op starts, fire reset) and SB3's tuned A2C
Atari settings (16 envs, 5 steps, RMSpropTFLike eps 1e-5, ent 0.01, vf 0.25), so a curve of
ours can be compared with SB3's frame for frame. Writes one JSON line per --log-every frames:
frames, wall time, mean raw score of the last 100 games. Development tool, not part of the product.

usage: python learn_sb3.py --out sb3-pong.jsonl [--env pong] [--frames 10M] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from typing import Any

import numpy as np
import torch
from bench_sb3 import AleVectorAdapter, make_a2c
from stable_baselines3.common.callbacks import BaseCallback


class ScoreLog(BaseCallback):
    """Sums the (sign-clipped = raw for Pong) rewards per env and logs the mean of the last 100 games."""

    def __init__(self, out: str, log_every_frames: int, num_envs: int) -> None:
        super().__init__()
        self.out = open(out, "a", buffering=1)  # noqa: SIM115 (kept open for the run)
        self.every = log_every_frames
        self.sums = np.zeros(num_envs)
        self.scores: deque[float] = deque(maxlen=100)
        self.games = 0
        self.next_log = log_every_frames
        self.t0 = time.perf_counter()

    def _on_step(self) -> bool:
        rewards: Any = self.locals["rewards"]
        dones: Any = self.locals["dones"]
        self.sums += rewards
        for i in np.flatnonzero(dones):
            self.scores.append(float(self.sums[i]))
            self.sums[i] = 0.0
            self.games += 1
        frames = 4 * self.num_timesteps
        if frames >= self.next_log:
            self.next_log += self.every
            rec = {
                "frames": frames,
                "step": self.num_timesteps,
                "time": round(time.perf_counter() - self.t0, 1),
                "episodes": self.games,
                "score": float(np.mean(self.scores)) if self.scores else None,
            }
            self.out.write(json.dumps(rec) + "\n")
        return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--env", default="pong")
    p.add_argument("--frames", type=float, default=10e6)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-every", type=int, default=40_000, help="frames between log lines")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    env = AleVectorAdapter(a.env, 16, a.seed)
    model = make_a2c(env, a.seed)
    model.learn(total_timesteps=int(a.frames // 4), callback=ScoreLog(a.out, a.log_every, 16))
    env.close()


if __name__ == "__main__":
    main()
