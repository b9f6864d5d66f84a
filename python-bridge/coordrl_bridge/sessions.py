"""Clients and their env groups: who holds what, how long each has been silent, and whose groups the
server takes back when it is short of groups, envs or memory.

A client is a control connection (a ROUTER identity). Clients that vanish without closing (a killed
learner, a dropped connection) leave their groups behind; ZeroMQ does not tell the server. So liveness
is the time since a client's last request on any of its channels: `--session-timeout` closes the groups of
clients silent that long in any case, and under pressure (a `make` past a cap) the server reclaims the
groups of the clients idle longest, down to `--reclaim-idle` seconds of silence, never a client that
is active (see PROTOCOL.md, "Vanished clients").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

# Long enough for a learner's pauses on one connection (a checkpoint save, a garbage collection), far
# shorter than the hour of --session-timeout that 256 vanished clients used to lock everyone out for.
DEFAULT_RECLAIM_IDLE = 30.0


@dataclass
class Session:
    """A client connection (ROUTER identity) that made env groups."""

    last_seen: float  # its last request on the control channel
    handles: set[int] = field(default_factory=set)
    pending: int = 0  # makes being built


@dataclass(frozen=True)
class Holding:
    """What closing a client's groups would give back."""

    groups: int
    envs: int
    memory: int

    def covers(self, need: Holding) -> bool:
        return self.groups >= need.groups and self.envs >= need.envs and self.memory >= need.memory

    def __add__(self, other: Holding) -> Holding:
        return Holding(self.groups + other.groups, self.envs + other.envs, self.memory + other.memory)


NOTHING = Holding(0, 0, 0)


def last_activity(session: Session, group_activity: Iterable[float | None]) -> float | None:
    """A client's last request on any of its channels; None while one of its groups is serving one."""
    latest = session.last_seen
    for t in group_activity:
        if t is None:
            return None
        latest = max(latest, t)
    return latest


def reclaim_victims(
    sessions: Mapping[bytes, Session],
    activity: Callable[[Session], float | None],
    holding: Callable[[Session], Holding],
    need: Holding,
    *,
    now: float,
    min_idle: float,
    spare: bytes,
) -> list[tuple[bytes, float]]:
    """The clients whose groups to reclaim to free `need`, the longest idle first, with their idle seconds:
    only clients silent for at least `min_idle` seconds with no make being built, never `spare` (the one
    asking). Empty when reclaiming every such client would still not free enough: nobody loses their
    envs for a make that fails anyway."""
    idle: list[tuple[float, bytes]] = []
    for ident, s in sessions.items():
        if ident == spare or s.pending or not s.handles:
            continue
        last = activity(s)
        if last is not None and now - last >= min_idle:
            idle.append((now - last, ident))
    idle.sort(reverse=True)
    freed = NOTHING
    victims: list[tuple[bytes, float]] = []
    for seconds, ident in idle:
        if freed.covers(need):
            break
        victims.append((ident, seconds))
        freed = freed + holding(sessions[ident])
    return victims if freed.covers(need) else []
