"""Resolves environment names: Atari game names to ale-py ROM ids, MinAtar game names to MinAtar games,
anything else to Gymnasium ids."""

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
    kind: Literal["atari", "gym", "minatar"]
    name: str  # ROM id (e.g. "ms_pacman"), MinAtar game (e.g. "space_invaders") or Gymnasium id ("CartPole-v1")


# MinAtar's five games (Young & Tian 2019). Resolving a name needs no import of the optional,
# GPL-3.0 `minatar` package; only hosting one does (see hosting.MinAtarGroup).
MINATAR_GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")
_MINATAR_FORMS = (
    re.compile(r"^minatar/(?P<game>[a-z_ -]+?)(?:-v(?P<v>\d+))?$", re.IGNORECASE),
    re.compile(r"^(?P<game>[a-z_ -]+?)-minatar$", re.IGNORECASE),
)


def _minatar_name(name: str) -> tuple[str, str | None] | None:
    """`minatar/breakout`, `MinAtar/Breakout-v1`, `breakout-minatar` -> ("breakout", version or None);
    names of another form -> None. The game part is returned as given (squashed), known or not."""
    for form in _MINATAR_FORMS:
        m = form.match(name.strip())
        if m:
            return _squash(m.group("game")), m.group("v") if "v" in m.groupdict() else None
    return None


def _resolve_minatar(name: str) -> ResolvedEnv | None:
    parsed = _minatar_name(name)
    if parsed is None:
        return None
    key, version = parsed
    game = next((g for g in MINATAR_GAMES if _squash(g) == key), None)
    if game is None:
        suggestions = suggest(name)
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise BridgeError(
            "unknown_env",
            f"unknown MinAtar game in '{name.strip()}'{hint} (MinAtar games: "
            + ", ".join(f"minatar/{g}" for g in MINATAR_GAMES)
            + ")",
            suggestions=suggestions,
        )
    if version not in (None, "1"):
        raise BridgeError(
            "unknown_env",
            f"'{name.strip()}': only MinAtar's -v1 (minimal action set) is a name here; for all 6 actions "
            f"(-v0) use 'minatar/{game}' with the fullActionSpace option (--full-action-space)",
        )
    return ResolvedEnv("minatar", game)


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
    minatar = _resolve_minatar(s)
    if minatar is not None:
        return minatar
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
    parsed = _minatar_name(name)
    if parsed is not None or "minatar" in name.lower():
        # MinAtar names get MinAtar suggestions: the game part against the five games.
        key = parsed[0] if parsed else _squash(name.lower().replace("minatar", ""))
        by_key = {_squash(g): g for g in MINATAR_GAMES}
        close = difflib.get_close_matches(key, list(by_key), n=n, cutoff=0.5)
        return [f"minatar/{by_key[k]}" for k in close]
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
        "'ms_pacman', also written 'Pong', 'ALE/Pong-v5' or 'PongNoFrameskip-v4'; MinAtar games are "
        "'minatar/breakout', 'MinAtar/Breakout-v1' or 'breakout-minatar'; anything else must be a "
        "registered Gymnasium id such as 'CartPole-v1')"
    )
