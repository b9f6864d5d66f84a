"""The options of a `make`, checked against tables (name, type, range, choices): `options` for every env,
`atari` for Atari envs, `minatar` for MinAtar envs (camelCase on the wire; see PROTOCOL.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coordrl_bridge.protocol import BridgeError, preview


@dataclass(frozen=True)
class OptionSpec:
    kind: type
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""


# Options for every env (camelCase on the wire, in make's `options` map).
COMMON_OPTIONS: dict[str, OptionSpec] = {
    "finalObs": OptionSpec(bool, True, help="send the last observation of ended episodes"),
    "layout": OptionSpec(str, "NHWC", choices=("NHWC", "NCHW"), help="image layout (Atari)"),
}

# Every AtariVectorEnv option the bridge exposes (make's `atari` map; ignored for other envs).
# reward_clipping is always off (raw game scores), autoreset is always same-step, continuous actions
# are not supported.
ATARI_OPTIONS: dict[str, OptionSpec] = {
    "repeatActionProbability": OptionSpec(float, 0.25, 0.0, 1.0, help="sticky actions (ALE/*-v5: 0.25)"),
    "fullActionSpace": OptionSpec(bool, False, help="all 18 actions instead of the game's minimal set"),
    "episodicLife": OptionSpec(bool, False, help="ale-py: reset the game on every life loss"),
    "lifeLossInfo": OptionSpec(bool, False, help="terminated=1 on a life loss, the game goes on"),
    "maxNumFramesPerEpisode": OptionSpec(int, 108000, 1, 2**31 - 1, help="truncate after this many frames"),
    "noopMax": OptionSpec(int, 30, 0, 10000, help="up to this many no-ops after a reset"),
    "useFireReset": OptionSpec(bool, True, help="press FIRE after a reset where the game needs it"),
    "fireOnLifeLoss": OptionSpec(
        bool, False, help="play FIRE on the step after a lost life, in games with FIRE (SB3's FireResetEnv)"
    ),
    "frameskip": OptionSpec(int, 4, 1, 64),
    "maxpool": OptionSpec(bool, True, help="max over the last two frames of a frame skip"),
    "stackNum": OptionSpec(int, 4, 1, 64),
    "imgHeight": OptionSpec(int, 84, 1, 1024),
    "imgWidth": OptionSpec(int, 84, 1, 1024),
    "grayscale": OptionSpec(bool, True),
    "numThreads": OptionSpec(int, 0, 0, 1024, help="ALE worker threads (0: ale-py decides)"),
}


# MinAtar options (make's `minatar` map; ignored for other envs). Defaults are MinAtar's own.
MINATAR_OPTIONS: dict[str, OptionSpec] = {
    "stickyActionProb": OptionSpec(float, 0.1, 0.0, 1.0, help="repeat the previous action with this probability"),
    "difficultyRamping": OptionSpec(bool, True, help="games speed up as they go on (MinAtar's default)"),
    "fullActionSpace": OptionSpec(bool, False, help="all 6 actions instead of the game's minimal set (-v1)"),
    "maxEpisodeSteps": OptionSpec(int, 108000, 1, 2**31 - 1, help="truncate after this many steps"),
}


def split_options(merged: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One flat map (tools, tests) -> (common options, Atari options)."""
    common = {k: v for k, v in merged.items() if k in COMMON_OPTIONS}
    return common, {k: v for k, v in merged.items() if k not in COMMON_OPTIONS}


def parse_options(raw: Mapping[str, Any], specs: Mapping[str, OptionSpec], kind: str) -> dict[str, Any]:
    unknown = sorted(preview(k) if not isinstance(k, str) else k for k in set(raw) - set(specs))
    if unknown:
        raise BridgeError(
            "bad_options",
            f"unknown {kind} option(s) {', '.join(unknown)}; known: {', '.join(sorted(specs))}",
        )
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        v = raw.get(name)
        if v is None:
            out[name] = spec.default
            continue
        if spec.kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if spec.kind is bool and not isinstance(v, bool):
            raise BridgeError("bad_options", f"option '{name}' must be a boolean, got {type(v).__name__}")
        if spec.kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise BridgeError("bad_options", f"option '{name}' must be an integer, got {type(v).__name__}")
        if spec.kind is float and not isinstance(v, float):
            raise BridgeError("bad_options", f"option '{name}' must be a number, got {type(v).__name__}")
        if spec.kind is str and not isinstance(v, str):
            raise BridgeError("bad_options", f"option '{name}' must be a string, got {type(v).__name__}")
        if spec.kind is float and not math.isfinite(v):  # NaN passes every comparison below
            raise BridgeError("bad_options", f"option '{name}' must be a finite number, got {v}")
        if (spec.lo is not None and v < spec.lo) or (spec.hi is not None and v > spec.hi):
            raise BridgeError("bad_options", f"option '{name}' must be in [{spec.lo}, {spec.hi}], got {v}")
        if spec.choices is not None and v not in spec.choices:
            raise BridgeError(
                "bad_options", f"option '{name}' must be one of {', '.join(spec.choices)}, got {preview(v)}"
            )
        out[name] = v
    return out
