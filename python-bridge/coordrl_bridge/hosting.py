"""Hosting a `make`: plan it (options checked, memory estimated, nothing built), then build the group of
the env's kind (backends/: Atari via ale-py's AtariVectorEnv, MinAtar via the optional `minatar` package,
others via Gymnasium)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coordrl_bridge.backends.atari import AtariGroup
from coordrl_bridge.backends.base import EnvGroup
from coordrl_bridge.backends.gym import GymGroup
from coordrl_bridge.backends.minatar import MinAtarGroup
from coordrl_bridge.games import ResolvedEnv
from coordrl_bridge.memory import MINATAR_MAX_OBS_BYTES, MemoryEstimate, atari_obs_bytes
from coordrl_bridge.options import ATARI_OPTIONS, COMMON_OPTIONS, MINATAR_OPTIONS, parse_options
from coordrl_bridge.protocol import BridgeError


@dataclass(frozen=True)
class GroupPlan:
    """A checked `make`: what to build and the memory it will take. Cheap to compute (no env is created)."""

    resolved: ResolvedEnv
    num_envs: int
    options: dict[str, Any]  # effective options
    obs_bytes: int  # one env's observation; 0 for Gymnasium envs: known only once built (see EnvGroup)
    memory: MemoryEstimate


def plan_group(
    resolved: ResolvedEnv,
    num_envs: int,
    raw_options: Mapping[str, Any],
    raw_atari: Mapping[str, Any] | None = None,
    raw_minatar: Mapping[str, Any] | None = None,
) -> GroupPlan:
    """Checks the options of a `make`; `raw_atari` options apply to Atari envs only, `raw_minatar` to MinAtar
    only (each ignored for other envs)."""
    common = parse_options(raw_options, COMMON_OPTIONS, "env")
    atari = parse_options(raw_atari or {}, ATARI_OPTIONS, "Atari")
    minatar = parse_options(raw_minatar or {}, MINATAR_OPTIONS, "MinAtar")
    if resolved.kind == "atari":
        opts = {**atari, **common}
        obs = atari_obs_bytes(opts)
        return GroupPlan(resolved, num_envs, opts, obs, MemoryEstimate.of("atari", num_envs, obs))
    if resolved.kind == "minatar":
        opts = {**minatar, **common}
        obs = MINATAR_MAX_OBS_BYTES
        return GroupPlan(resolved, num_envs, opts, obs, MemoryEstimate.of("minatar", num_envs, obs))
    opts = {"finalObs": common["finalObs"]}
    return GroupPlan(resolved, num_envs, opts, 0, MemoryEstimate.of("gym", num_envs, 0))


def build_group(plan: GroupPlan) -> EnvGroup:
    """Creates the envs of a plan (slow: ~80 ms per Atari env)."""
    kind = plan.resolved.kind
    if kind in ("atari", "minatar"):
        try:
            if kind == "minatar":
                return MinAtarGroup(plan.resolved.name, plan.num_envs, plan.options)
            return AtariGroup(plan.resolved.name, plan.num_envs, plan.options)
        except BridgeError:
            raise
        except Exception as e:
            label = "MinAtar" if kind == "minatar" else "Atari"
            raise BridgeError("env_error", f"cannot create {label} env '{plan.resolved.name}': {e}") from None
    return GymGroup(plan.resolved.name, plan.num_envs, plan.options)


def make_group(
    resolved: ResolvedEnv,
    num_envs: int,
    raw_options: Mapping[str, Any],
    raw_atari: Mapping[str, Any] | None = None,
    raw_minatar: Mapping[str, Any] | None = None,
) -> EnvGroup:
    """plan_group, then build_group (tools and tests; the server checks the plan's memory in between)."""
    return build_group(plan_group(resolved, num_envs, raw_options, raw_atari, raw_minatar))
