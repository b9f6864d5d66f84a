"""Helpers around the server, for benchmarks and tests (`python -m coordrl_bridge.tools ...`).

bench-raw    steps the raw vector env in this process (random actions) and prints steps/s as JSON
dump-frames  replays given actions on the raw vector env and writes the observations to a file
random-scores  mean raw return of uniformly random play per MinAtar game (the random column of
             src/stats/minatar-scores.ts), as JSON
echo         answers `count` messages with `reply-bytes` bytes over a ZeroMQ ROUTER (ipc://) or a raw Unix
             socket: the transport floor of a round trip (`coordrl bench transport`)
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from coordrl_bridge.backends.atari import atari_vector_env
from coordrl_bridge.backends.base import EnvGroup
from coordrl_bridge.backends.gym import GymGroup
from coordrl_bridge.backends.minatar import MinAtarGroup
from coordrl_bridge.games import MINATAR_GAMES, ResolvedEnv, resolve_env
from coordrl_bridge.hosting import build_group, make_group, plan_group
from coordrl_bridge.options import split_options


def _options(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    obj = json.loads(raw)
    if not isinstance(obj, dict):
        raise SystemExit("--options must be a JSON object")
    return obj


def _make(resolved: ResolvedEnv, num_envs: int, options: dict[str, Any], **common: Any) -> EnvGroup:
    """One flat options map: the env-kind options go to the map of that kind (Atari or MinAtar)."""
    base, specific = split_options(options)
    base = {**base, **common}
    if resolved.kind == "minatar":
        return make_group(resolved, num_envs, base, None, specific)
    return make_group(resolved, num_envs, base, specific)


def bench_raw(env: str, num_envs: int, seconds: float, options: dict[str, Any], seed: int) -> dict[str, Any]:
    """Steps the bare vector env (AtariVectorEnv.step for Atari, same settings as the bridge) in a loop."""
    resolved = resolve_env(env)
    common, specific = split_options(options)
    common = {**common, "layout": "NCHW"}
    if resolved.kind == "minatar":
        plan = plan_group(resolved, num_envs, common, None, specific)
    else:
        plan = plan_group(resolved, num_envs, common, specific)
    # one bare vector env of all the envs (the bridge builds big Atari groups in parts)
    e: Any
    dtype: type[np.signedinteger[Any]]
    if resolved.kind == "atari":
        e = atari_vector_env(resolved.name, num_envs, plan.options)
        n, dtype = len(e.ale.get_action_set()), np.int32
    else:
        group = build_group(plan)
        assert isinstance(group, (GymGroup, MinAtarGroup))
        n, dtype = group.num_actions, np.int64
        if isinstance(group, MinAtarGroup):
            e = group  # MinAtar: the group is the env
        else:  # Gymnasium's own vector env, as an in-process user would step it
            group.close()
            e = SyncVectorEnv(
                [lambda: gym.make(resolved.name) for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP
            )
    try:
        e.reset(seed=seed)
        rng = np.random.default_rng(seed)
        actions = [rng.integers(0, n, num_envs).astype(dtype) for _ in range(64)]
        for k in range(20):  # warm-up
            e.step(actions[k % 64])
        steps = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while True:
            for k in range(16):
                e.step(actions[(steps + k) % 64])
            steps += 16
            now = time.perf_counter()
            if now >= deadline:
                break
        dt = now - t0
    finally:
        e.close()
    return {
        "env": resolved.name,
        "numEnvs": num_envs,
        "vectorSteps": steps,
        "seconds": dt,
        "stepsPerSec": steps * num_envs / dt,
    }


def dump_frames(
    *, env: str, num_envs: int, seed: int, actions_path: Path, out_path: Path, options: dict[str, Any]
) -> dict[str, Any]:
    """Resets with `seed`, then steps with the int32 actions in `actions_path` (T x num_envs, little
    endian). Writes the reset observation and each step's observation (uint8/float32 raw bytes in the
    group's layout, NCHW unless options say otherwise) to `out_path`, and the rewards to out_path.rewards."""
    resolved = resolve_env(env)
    group = _make(resolved, num_envs, {"layout": "NCHW", **options})
    raw = np.fromfile(actions_path, dtype="<i4")
    if raw.size % num_envs:
        raise SystemExit(f"{actions_path}: {raw.size} actions is not a multiple of {num_envs}")
    acts = raw.reshape(-1, num_envs).astype(np.int32)
    rewards: list[np.ndarray[Any, Any]] = []
    try:
        with open(out_path, "wb") as f:
            first = group.reset(seed)
            f.write(first.obs.tobytes())
            for a in acts:
                out = group.step(a)
                f.write(out.obs.tobytes())
                rewards.append(out.rewards)
    finally:
        group.close()
    np.asarray(rewards, np.float32).tofile(str(out_path) + ".rewards")
    return {"steps": int(acts.shape[0]), "obsShape": [num_envs, *group.obs_shape], "dtype": group.obs_dtype}


def random_scores(games: list[str], episodes: int, seed: int, num_envs: int = 8) -> dict[str, Any]:
    """Uniformly random actions with the env's defaults (MinAtar: sticky 0.1, ramping, minimal actions) until
    `episodes` games ended; mean and standard error of their raw returns per game."""
    out: dict[str, Any] = {}
    for env in games:
        resolved = resolve_env(env)
        group = _make(resolved, num_envs, {"finalObs": False})
        try:
            group.reset(seed)
            rng = np.random.default_rng(seed)
            scores: list[float] = []
            while len(scores) < episodes:
                step = group.step(rng.integers(0, group.num_actions, num_envs).astype(np.int32))
                scores += [float(e["return"]) for e in step.episodes]
        finally:
            group.close()
        s = np.asarray(scores[:episodes])
        out[env] = {"mean": float(s.mean()), "sem": float(s.std(ddof=1) / np.sqrt(s.size)), "episodes": int(s.size)}
    return out


MAX_ECHO_BYTES = 1 << 20
MAX_ECHO_COUNT = 10_000_000


def _recv_exactly(conn: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def echo(transport: str, endpoint: str, reply_bytes: int, count: int) -> dict[str, Any]:
    """Answers `count` requests (or until the peer goes) with `reply_bytes` bytes, doing nothing else: what a
    round trip costs without the env, msgpack or checks. zmq: ROUTER bound at `endpoint` (ipc://...), one
    frame back per request, as the server's data socket; unix: a stream socket at the path `endpoint`, each
    message a 4-byte little-endian length and its bytes."""
    if not 0 <= reply_bytes <= MAX_ECHO_BYTES or not 0 < count <= MAX_ECHO_COUNT:
        raise SystemExit(f"--reply-bytes must be in [0, {MAX_ECHO_BYTES}] and --count in [1, {MAX_ECHO_COUNT}]")
    reply = bytes(reply_bytes)
    served = 0
    if transport == "zmq":
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_ECHO_BYTES)
        sock.bind(endpoint)
        print("ready", flush=True)
        try:
            while served < count:
                frames = sock.recv_multipart()
                sock.send_multipart([frames[0], reply], copy=False)
                served += 1
        finally:
            sock.close(linger=0)
            ctx.term()
    elif transport == "unix":
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(endpoint)
        srv.listen(1)
        print("ready", flush=True)
        conn, _ = srv.accept()
        framed = struct.pack("<I", reply_bytes) + reply
        try:
            while served < count:
                head = _recv_exactly(conn, 4)
                if head is None:
                    break
                (n,) = struct.unpack("<I", head)
                if n > MAX_ECHO_BYTES or _recv_exactly(conn, n) is None:
                    break
                conn.sendall(framed)
                served += 1
        finally:
            conn.close()
            srv.close()
    else:
        raise SystemExit(f"--transport must be zmq or unix, got {transport!r}")
    return {"transport": transport, "served": served}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coordrl_bridge.tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench-raw", help="raw vector env steps/s with random actions")
    b.add_argument("--env", default="pong")
    b.add_argument("--num-envs", type=int, default=8)
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--options", help="JSON map of env options (names as in make's options and atari maps)")
    d = sub.add_parser("dump-frames", help="replay actions on the raw vector env, write observations")
    d.add_argument("--env", default="pong")
    d.add_argument("--num-envs", type=int, required=True)
    d.add_argument("--seed", type=int, required=True)
    d.add_argument("--actions", type=Path, required=True)
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--options")
    r = sub.add_parser("random-scores", help="mean raw return of random play (MinAtar games by default)")
    r.add_argument("--env", action="append", help="env name (repeatable; default: the five MinAtar games)")
    r.add_argument("--episodes", type=int, default=1000)
    r.add_argument("--seed", type=int, default=12345)
    e = sub.add_parser("echo", help="answer messages over zmq or a Unix socket (transport floor)")
    e.add_argument("--transport", choices=["zmq", "unix"], required=True)
    e.add_argument("--endpoint", required=True, help="ipc://PATH for zmq, a socket path for unix")
    e.add_argument("--reply-bytes", type=int, default=200)
    e.add_argument("--count", type=int, default=100_000)
    args = p.parse_args(argv)
    if args.cmd == "echo":
        res = echo(args.transport, args.endpoint, args.reply_bytes, args.count)
    elif args.cmd == "random-scores":
        games = args.env or [f"minatar/{g}" for g in MINATAR_GAMES]
        res = random_scores(games, args.episodes, args.seed)
    elif args.cmd == "bench-raw":
        res = bench_raw(args.env, args.num_envs, args.seconds, _options(args.options), args.seed)
    else:
        res = dump_frames(
            env=args.env,
            num_envs=args.num_envs,
            seed=args.seed,
            actions_path=args.actions,
            out_path=args.out,
            options=_options(args.options),
        )
    sys.stdout.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
