"""`python -m coordrl_bridge`: run the environment server (or create CURVE keys with --gen-keys)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from coordrl_bridge import __version__
from coordrl_bridge.limits import (
    DEFAULT_MAX_GROUPS,
    DEFAULT_MAX_GROUPS_PER_CLIENT,
    DEFAULT_MAX_OBS_BYTES,
    DEFAULT_MAX_REPLY_BYTES,
    cgroup_memory_limit,
    default_max_env_memory,
)
from coordrl_bridge.memory import format_bytes
from coordrl_bridge.protocol import DEFAULT_MAX_MESSAGE_SIZE, PROTOCOL_VERSION
from coordrl_bridge.security import generate_keys
from coordrl_bridge.server import ServerConfig, run_server
from coordrl_bridge.sessions import DEFAULT_RECLAIM_IDLE

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """`8G`, `512M`, `1.5g`, `1048576` (bytes) -> bytes."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1:] if t[-1:] in _SIZE_UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a size such as 8G, 512M or a number of bytes, got {text!r}"
        ) from None
    if not value > 0 or value * _SIZE_UNITS[unit] > 1 << 60:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return int(value * _SIZE_UNITS[unit])


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def non_negative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return v


def _cgroup_note() -> str:
    limit = cgroup_memory_limit()
    return "" if limit is None else f", here {format_bytes(limit)}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m coordrl_bridge",
        description=(
            "Environment server for coordconv-rl: hosts vectorized Atari (ale-py) and Gymnasium environments "
            f"over ZeroMQ + MessagePack (protocol {PROTOCOL_VERSION}). Prints one JSON ready line on stdout."
        ),
    )
    p.add_argument(
        "--bind",
        metavar="ENDPOINT",
        help="ipc://PATH, tcp://127.0.0.1:PORT (PORT 0: any free port), or tcp://HOST:PORT beyond loopback "
        "(needs --keys). Default: a private ipc:// socket in a fresh 0700 temp dir.",
    )
    p.add_argument("--keys", metavar="DIR", type=Path, help="serve with CURVE using the keys in DIR (--gen-keys)")
    p.add_argument("--gen-keys", metavar="DIR", type=Path, help="create server and client CURVE keys in DIR, exit")
    p.add_argument("--max-message-size", type=int, default=DEFAULT_MAX_MESSAGE_SIZE, metavar="BYTES")
    p.add_argument("--max-envs", type=positive_int, default=1024, metavar="N", help="environments hosted at most")
    p.add_argument(
        "--max-groups",
        type=positive_int,
        default=DEFAULT_MAX_GROUPS,
        metavar="N",
        help=f"env groups (makes) hosted at most, lowered to what the open-files limit allows "
        f"(default {DEFAULT_MAX_GROUPS})",
    )
    p.add_argument(
        "--max-groups-per-client",
        type=positive_int,
        default=DEFAULT_MAX_GROUPS_PER_CLIENT,
        metavar="N",
        help=f"env groups one client connection may hold (default {DEFAULT_MAX_GROUPS_PER_CLIENT})",
    )
    p.add_argument(
        "--max-env-memory",
        type=parse_size,
        metavar="SIZE",
        help="memory the hosted envs may take by estimate (e.g. 8G); a make past it fails with 'limit' "
        f"(default: half the machine's memory, here {format_bytes(default_max_env_memory())}; never more than "
        f"the cgroup's memory limit{_cgroup_note()})",
    )
    p.add_argument(
        "--max-obs-bytes",
        type=parse_size,
        default=DEFAULT_MAX_OBS_BYTES,
        metavar="SIZE",
        help=f"one env's observation at most; a make past it fails with 'limit' "
        f"(default {format_bytes(DEFAULT_MAX_OBS_BYTES)})",
    )
    p.add_argument(
        "--max-reply-bytes",
        type=parse_size,
        default=DEFAULT_MAX_REPLY_BYTES,
        metavar="SIZE",
        help=f"one step reply at most (every env's observation, and final observations with finalObs); a make "
        f"past it fails with 'limit' (default {format_bytes(DEFAULT_MAX_REPLY_BYTES)})",
    )
    p.add_argument(
        "--session-timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="close the envs of a client silent this long (0: never; default 3600)",
    )
    p.add_argument(
        "--reclaim-idle",
        type=non_negative_float,
        default=DEFAULT_RECLAIM_IDLE,
        metavar="SECONDS",
        help="when a make would pass a cap (groups, envs, memory), close the groups of clients silent at least "
        f"this long, the longest silent first (0: never; default {DEFAULT_RECLAIM_IDLE:g}; off when managed)",
    )
    p.add_argument("--managed", action="store_true", help="started by a learner: ignore SIGINT, allow 'shutdown'")
    p.add_argument("--parent-pid", type=int, metavar="PID", help="exit when this process exits")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin is closed")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.add_argument("--version", action="version", version=f"coordrl_bridge {__version__} (protocol {PROTOCOL_VERSION})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if sys.byteorder != "little":  # arrays travel as little-endian bytes without conversion
        print("coordrl_bridge: big-endian machines are not supported", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        stream=sys.stderr,
        format="[coordrl_bridge %(levelname)s] %(message)s",
    )
    if args.gen_keys is not None:
        try:
            paths = generate_keys(args.gen_keys)
        except (OSError, FileExistsError) as e:
            print(f"coordrl_bridge: {e}", file=sys.stderr)
            return 1
        print(json.dumps({"event": "keys", **paths}))
        return 0
    if args.max_message_size < 1024:
        print("coordrl_bridge: --max-message-size must be at least 1024", file=sys.stderr)
        return 2
    cfg = ServerConfig(
        bind=args.bind,
        keys_dir=args.keys,
        max_message_size=args.max_message_size,
        max_envs=args.max_envs,
        max_groups=args.max_groups,
        max_groups_per_client=args.max_groups_per_client,
        max_env_memory=args.max_env_memory,
        max_obs_bytes=args.max_obs_bytes,
        max_reply_bytes=args.max_reply_bytes,
        session_timeout=0.0 if args.managed else args.session_timeout,
        # A managed server has one learner: nobody to reclaim for (its own connections could be idle)
        reclaim_idle=0.0 if args.managed else args.reclaim_idle,
        managed=args.managed,
        parent_pid=args.parent_pid,
        exit_on_stdin_eof=args.exit_on_stdin_eof,
    )
    return run_server(cfg)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Worker threads may sit in ale-py's C++ code; do not wait for interpreter teardown.
    os._exit(code)
