"""Runs the MinAtar paper's own DQN (examples/dqn.py of a kenjyoung/MinAtar checkout, unmodified and
not copied here: it is GPL-3.0) for a shorter budget, and prints the paper's training measure, the
100-episode moving average of training returns (as its plot_return.py computes it), at fixed frames.

For checking coordrl's DQN against the reference implementation on the same machine and env
(docs/minatar.md, "The paper's own code on the same machine"). Needs PyTorch and minatar, e.g. the
SB3 baseline venv of `npm run bench:sb3` (.cache/sb3-venv). Not part of the tests.

    .cache/sb3-venv/bin/python scripts/minatar/reference_dqn.py --checkout ../MinAtar \\
        --game breakout --frames 400000 --seed 1 --out /tmp/ref-breakout-s1
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

import numpy as np
import torch


def moving_average_at(returns: list[float], stamps: list[int], frames: list[int], window: int = 100) -> dict[int, float]:
    """The moving average over `window` episodes of the last window ending at or before each frame count."""
    if len(returns) < window:
        raise SystemExit(f"only {len(returns)} episodes finished: fewer than the window of {window}")
    mv = np.convolve(returns, np.ones(window) / window, mode="valid")
    ends = np.asarray(stamps[window - 1 :])
    out: dict[int, float] = {}
    for x in frames:
        i = int(np.searchsorted(ends, x, side="right")) - 1
        if i >= 0:
            out[x] = round(float(mv[i]), 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkout", required=True, help="a kenjyoung/MinAtar checkout (its examples/dqn.py is run)")
    p.add_argument("--game", default="breakout")
    p.add_argument("--frames", type=int, default=400_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--step-size", type=float, default=None, help="dqn.py's --alpha (default: its STEP_SIZE)")
    p.add_argument("--every", type=int, default=50_000, help="frames between printed points")
    p.add_argument("--out", required=True, help="path prefix of dqn.py's data file")
    a = p.parse_args()

    examples = Path(a.checkout) / "examples"
    if not (examples / "dqn.py").is_file():
        raise SystemExit(f"no examples/dqn.py under {a.checkout}: pass a kenjyoung/MinAtar checkout")
    sys.path.insert(0, str(examples))
    import dqn  # type: ignore[import-not-found]  # the paper's script, from the checkout
    from minatar import Environment

    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    dqn.NUM_FRAMES = a.frames
    env = Environment(a.game)
    env.seed(a.seed)
    dqn.dqn(env, False, False, a.out, step_size=a.step_size if a.step_size is not None else dqn.STEP_SIZE)
    data = torch.load(a.out + "_data_and_weights", weights_only=False)
    points = list(range(a.every, a.frames + 1, a.every))
    result = {
        "game": a.game,
        "seed": a.seed,
        "frames": a.frames,
        "episodes": len(data["returns"]),
        "movingAverage100": moving_average_at(data["returns"], data["frame_stamps"], points),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
