"""Resolves environment names: Atari game names to ale-py ROM ids, anything else to Gymnasium ids."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import ale_py
import ale_py.roms
import gymnasium as gym

from coordrl_bridge.protocol import BridgeError

gym.register_envs(ale_py)

ALE_ENTRY_POINT = "ale_py.env:AtariEnv"


@dataclass(frozen=True)
class ResolvedEnv:
    kind: Literal["atari", "gym"]
    name: str  # ROM id (e.g. "ms_pacman") or Gymnasium id (e.g. "CartPole-v1")


@lru_cache(maxsize=1)
def rom_ids() -> tuple[str, ...]:
    return tuple(sorted(ale_py.roms.get_all_rom_ids()))


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@lru_cache(maxsize=1)
def _rom_by_key() -> dict[str, str]:
    return {_squash(r): r for r in rom_ids()}


def _strip_gym_decorations(name: str) -> str:
    """`ALE/MsPacman-v5`, `MsPacmanNoFrameskip-v4` -> `MsPacman`."""
    s = name.strip()
    if s.upper().startswith("ALE/"):
        s = s[4:]
    s = re.sub(r"-v\d+$", "", s)
    s = re.sub(r"(NoFrameskip|Deterministic)$", "", s)
    s = re.sub(r"-ram$", "", s)
    return s


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")


def _gym_ids() -> list[str]:
    return [
        k
        for k, spec in gym.envs.registry.items()
        if not (isinstance(spec.entry_point, str) and spec.entry_point == ALE_ENTRY_POINT)
    ]


def resolve_env(name: str) -> ResolvedEnv:
    """`pong`, `Pong`, `ALE/Pong-v5`, `PongNoFrameskip-v4`, `ms_pacman`, `mspacman`, `MsPacman` -> ROM id;
    other registered Gymnasium ids (e.g. `CartPole-v1`) -> themselves. Unknown -> BridgeError with suggestions."""
    s = name.strip()
    spec = gym.envs.registry.get(s)
    if spec is not None:
        if isinstance(spec.entry_point, str) and spec.entry_point == ALE_ENTRY_POINT:
            game = spec.kwargs.get("game")
            if isinstance(game, str) and game in rom_ids():
                return ResolvedEnv("atari", game)
        else:
            return ResolvedEnv("gym", s)
    rom = _rom_by_key().get(_squash(_strip_gym_decorations(s)))
    if rom is not None:
        return ResolvedEnv("atari", rom)
    raise BridgeError(
        "unknown_env",
        _unknown_message(s, suggestions := suggest(s)),
        suggestions=suggestions,
    )


def suggest(name: str, n: int = 5) -> list[str]:
    base = _strip_gym_decorations(name)
    out = difflib.get_close_matches(_snake(base), list(rom_ids()), n=n, cutoff=0.6)
    if len(out) < n:
        squashed = {_squash(r): r for r in rom_ids()}
        for k in difflib.get_close_matches(_squash(base), list(squashed), n=n, cutoff=0.6):
            if squashed[k] not in out:
                out.append(squashed[k])
    if len(out) < n:
        out += difflib.get_close_matches(name.strip(), _gym_ids(), n=n - len(out), cutoff=0.6)
    return out[:n]


def _unknown_message(name: str, suggestions: list[str]) -> str:
    hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
    return (
        f"unknown environment '{name}'{hint} (Atari games are ale-py ROM ids such as 'pong', 'breakout', "
        "'ms_pacman', also written 'Pong', 'ALE/Pong-v5' or 'PongNoFrameskip-v4'; anything else must be a "
        "registered Gymnasium id such as 'CartPole-v1')"
    )
