"""Memory planning: what an env group will take, estimated before anything is built.

The server reserves a group's estimate in its env memory budget from `make` until `close` (see limits.py
for the budget itself, PROTOCOL.md "Limits" for the numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIB = 1 << 20
# Measured with ale-py 0.12 (Pong; make, reset, then steps): about 1.7 MB per env with 84x84x4 frames, and
# 11-14x the observation bytes per env on top (ale-py's frame stacks and output buffers, final observations,
# this server's NHWC copies and reply frames in flight). Rounded up, so an estimate errs on the safe side.
ENV_OVERHEAD_BYTES = {"atari": 2 * MIB, "minatar": 1 * MIB, "gym": 1 * MIB}
# The largest MinAtar observation (seaquest: 10 x 10 x 10 uint8): the plan is made before the game is built.
MINATAR_MAX_OBS_BYTES = 10 * 10 * 10
OBS_COPIES = 16
# A step reply's header besides the frames: rewards, ends and lives (10 bytes per env), an `episodes` entry
# per ended env (about 70 bytes packed), the frame descriptions. Rounded up.
REPLY_HEADER_BYTES_PER_ENV = 128
REPLY_HEADER_BYTES = 4096


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


def largest_reply_bytes(num_envs: int, obs_bytes: int, final_obs: bool) -> int:
    """The largest step reply of a group: every env's observation, and as many final observations when
    every env ends at once (with `finalObs` on), plus the header."""
    frames = num_envs * obs_bytes * (2 if final_obs else 1)
    return frames + num_envs * REPLY_HEADER_BYTES_PER_ENV + REPLY_HEADER_BYTES
