"""Fuzzing the env server with malformed messages (issue #15).

Every message below is invalid by construction (of many kinds: random bytes, wrong types, binary keys,
extension types, deep nesting, wrong versions, bad actions, huge declared sizes, extra frames, bad
options taken from the option tables). The server must answer each one that fits the size cap with an
error reply, answer none with an internal error, never die, keep its memory bounded, and serve a valid
client afterwards. Oversized frames get no reply (libzmq drops that connection) and must not hurt
anyone else. Loopback/ipc only; counts are fixed and the random generator is seeded.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from coordrl_bridge.options import ATARI_OPTIONS, COMMON_OPTIONS, OptionSpec
from coordrl_bridge.protocol import DEFAULT_MAX_MESSAGE_SIZE
from tests.conftest import Client, ServerProc, pack

SEED = 15
KNOWN_CODES = {
    "bad_message",
    "version_mismatch",
    "unknown_op",
    "wrong_channel",
    "unknown_env",
    "bad_options",
    "unsupported_env",
    "bad_handle",
    "bad_token",
    "bad_actions",
    "limit",
    "not_allowed",
}
# (frames, id the reply must carry or None when the envelope cannot be read, kind)
Case = tuple[list[bytes], int | None, str]


def _junk(rng: random.Random, depth: int = 0) -> Any:
    """A random MessagePack value (never a valid request by itself)."""
    kinds = ["int", "neg", "float", "str", "bin", "nil", "bool", "list", "map", "bigint"]
    k = rng.choice(kinds if depth < 3 else kinds[:7])
    if k == "int":
        return rng.randrange(0, 2**16)
    if k == "neg":
        return -rng.randrange(1, 2**40)
    if k == "bigint":
        return rng.randrange(2**32, 2**64)
    if k == "float":
        return rng.choice([rng.uniform(-1e9, 1e9), float("nan"), float("inf"), -0.0])
    if k == "str":
        return "".join(rng.choice("abcXYZ_-/\u00e9\u4e2d ") for _ in range(rng.randrange(0, 12)))
    if k == "bin":
        return rng.randbytes(rng.randrange(0, 24))
    if k == "nil":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "list":
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {f"k{i}": _junk(rng, depth + 1) for i in range(rng.randrange(0, 4))}


def _nested(depth: int, as_map: bool) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = {"x": v} if as_map else [v]
    return v


def _wrong_values(spec: OptionSpec) -> list[Any]:
    """Values an option table entry must refuse (table-driven: new options get fuzzed too)."""
    out: list[Any] = ["x", [1], {"a": 1}, b"\x01"]
    if spec.kind is bool:
        out += [0, 1, 1.0]
    elif spec.kind is int:
        out += [1.5, True, float("nan")]
        if spec.lo is not None:
            out.append(int(spec.lo) - 1)
        if spec.hi is not None:
            out.append(int(spec.hi) + 1)
    elif spec.kind is float:
        out += [float("nan"), float("inf"), -float("inf"), True]
        if spec.lo is not None:
            out.append(spec.lo - 0.5)
        if spec.hi is not None:
            out.append(spec.hi + 0.5)
    elif spec.kind is str:
        out += [1, True, "not-a-choice"]
    return out


def control_cases(rng: random.Random) -> Iterator[Case]:
    ids = iter(range(1, 10**6))

    def req(kind: str, **fields: Any) -> Case:
        rid = next(ids)
        return [pack({"v": 1, "id": rid, **fields})], rid, kind

    for _ in range(400):
        yield [rng.randbytes(rng.randrange(0, 200))], None, "random bytes"
    for _ in range(60):
        value = _junk(rng)
        yield [pack(value if not isinstance(value, dict) else [value])], None, "not a map"
    for v in [1.0, True, False, "1", b"\x01", 0, 2, -1, 2**63, None, [1], {"v": 1}, float("nan")]:
        rid = next(ids)
        fields = {"id": rid, "op": "hello"} if v is None else {"v": v, "id": rid, "op": "hello"}
        yield [pack(fields)], rid, "wrong version"
    for bad_id in ["1", -1, 2**33, 1.0, True, None, [1], b"\x00"]:
        yield [pack({"v": 1, "id": bad_id, "op": "ping"})], None, "wrong id"
    for _ in range(60):
        yield req("unknown op", op=_junk(rng))
    yield req("unknown op", op="y" * 600_000)
    for key in [b"op", b"v", b"\xff\xfe", b""]:
        rid = next(ids)
        yield [pack({"v": 1, "id": rid, "op": "ping", key: 1})], rid, "binary key"
    for where in ["options", "atari"]:
        for key in [b"finalObs", b"layout", b"frameskip", b"\x00" * 8]:
            yield req("binary key", op="make", env="pong", numEnvs=1, **{where: {key: True}})
            yield req("binary key", op="make", env="CartPole-v1", numEnvs=1, **{where: {"layout": "NHWC", key: 1}})
    for depth in [17, 40, 200]:
        yield req("deep nesting", op="make", env="pong", numEnvs=1, options=_nested(depth, True))
        yield req("deep nesting", op="hello", client=_nested(depth, False))
    yield [b"\x91" * 5000 + b"\x01"], None, "deep nesting"  # 5,000 nested one-element arrays
    yield [b"\x81\xa1x" * 3000 + b"\x01"], None, "deep nesting"
    # extension types anywhere, and declared sizes far past the bytes that follow
    base = pack({"v": 1, "id": 77, "op": "ping"})  # a fixmap of 3: grows to 4 with an ext value under "x"
    for code in [-1, -128, 0, 1, 42, 127]:  # -1: the timestamp type msgpack would decode
        ext = b"\xd6" + struct.pack(">b", code) + b"\x00" * 4  # fixext 4
        yield [ext], None, "ext type"
        yield [bytes([base[0] + 1]) + base[1:] + pack("x") + ext], None, "ext type"
        nested = {"v": 1, "id": 78, "op": "ping", "x": [msgpack.ExtType(code & 0x7F, b"abcdefgh")]}
        yield [pack(nested)], None, "ext type"
    for marker in [b"\xdb", b"\xc6", b"\xdd", b"\xdf", b"\xc9"]:
        huge = marker + struct.pack(">I", 0xFFFFFFFF) + b"\x00" * 16
        yield [huge], None, "huge declared size"
        yield [b"\x83\xa1v\x01\xa2id\x05\xa2op" + huge], None, "huge declared size"
    yield [b"\xdc\xff\xff" + b"\xc0" * 10], None, "huge declared size"
    # make: each field wrong in turn, and every option of the tables with wrong values
    for env in [5, b"pong", "", "p" * 300, ["pong"], None, "pongg", "zzqqxx-v9"]:
        yield req("bad make", op="make", env=env, numEnvs=1)
    for n in ["2", 0, -1, 2**40, 1.5, True, None, [1], 10**6]:
        yield req("bad make", op="make", env="CartPole-v1", numEnvs=n)
    for m in [[], "x", 1, True, b"\x80"]:
        yield req("bad make", op="make", env="pong", numEnvs=1, options=m)
        yield req("bad make", op="make", env="pong", numEnvs=1, atari=m)
    for table, where in [(COMMON_OPTIONS, "options"), (ATARI_OPTIONS, "atari")]:
        for name, spec in table.items():
            for value in _wrong_values(spec):
                yield req("bad option", op="make", env="pong", numEnvs=1, **{where: {name: value}})
    for _ in range(40):
        name = "".join(rng.choice("abcdefgh") for _ in range(8))
        yield req("bad option", op="make", env="pong", numEnvs=1, atari={name: _junk(rng)})
    for handle in [0, 9999, -1, "1", 2**40, None, 1.0]:
        yield req("bad close", op="close", handle=handle)
    for op in ["reset", "step"]:
        yield req("wrong channel", op=op, handle=1, actions=b"\x00" * 4, dtype="int32")
    yield req("not allowed", op="shutdown")  # this server is not --managed
    ok_header = pack({"v": 1, "id": 1, "op": "ping"})
    for extra in range(1, 4):
        yield [ok_header] + [rng.randbytes(8) for _ in range(extra)], None, "extra frames"
    for _ in range(300):  # random mutations of a real make request
        # invalid twice over (unknown game, no envs), so that no mutation makes it valid
        raw = bytearray(pack({"v": 1, "id": 5, "op": "make", "env": "pongg", "numEnvs": 0, "atari": {"stackNum": 4}}))
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        yield [bytes(raw)], -1, "mutated make"


def data_cases(rng: random.Random, token: bytes, num_envs: int) -> Iterator[Case]:
    ids = iter(range(10**6, 2 * 10**6))

    def req(kind: str, **fields: Any) -> Case:
        rid = next(ids)
        return [pack({"v": 1, "id": rid, **fields})], rid, kind

    ok_actions = b"\x00" * (4 * num_envs)
    for tok in [None, b"", b"x" * 16, token[:8], token + b"\x00", "t" * 16, 5, [token]]:
        yield req("bad token", op="step", token=tok, actions=ok_actions, dtype="int32")
    for _ in range(60):
        yield req("bad token", op="reset", token=rng.randbytes(16))
    for actions, dtype in [
        (b"", "int32"),
        (b"\x00" * 3, "int32"),
        (b"\x00" * (4 * num_envs + 4), "int32"),
        (b"\x00" * (8 * num_envs), "int64"),
        (ok_actions, "float32"),
        (ok_actions, 5),
        (ok_actions, None),
        ([0] * num_envs, "int32"),
        ("0000", "int32"),
        (b"\x00" * 900_000, "int32"),
        (struct.pack(f"<{num_envs}i", *([2] * num_envs)), "int32"),
        (struct.pack(f"<{num_envs}i", *([-1] * num_envs)), "int32"),
        (struct.pack(f"<{num_envs}i", *([2**31 - 1] * num_envs)), "int32"),
    ]:
        yield req("bad actions", op="step", token=token, actions=actions, dtype=dtype)
    for _ in range(80):
        a = [rng.choice([-(2**31), -7, 2, 3, 99, 2**31 - 1]) for _ in range(num_envs)]
        yield req("bad actions", op="step", token=token, actions=struct.pack(f"<{num_envs}i", *a), dtype="int32")
    for seed in [-1, 2**31, "0", 1.5, True, [0], 2**40]:
        yield req("bad seed", op="reset", token=token, seed=seed)
    for _ in range(40):
        yield req("unknown op", op=_junk(rng), token=token)
    for op in ["make", "close", "hello", "shutdown"]:
        yield req("unknown op", op=op, token=token)
    for _ in range(80):
        yield [rng.randbytes(rng.randrange(0, 100))], None, "random bytes"
    for v in [1.0, True, 2, None]:
        rid = next(ids)
        yield [pack({"v": v, "id": rid, "op": "step", "token": token})], rid, "wrong version"
    yield [pack({"v": 1, "id": 1, "op": "step", "token": token, b"actions": ok_actions})], 1, "binary key"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProc, Path]]:
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    s = ServerProc(
        "--exit-on-stdin-eof",
        "--max-groups",
        "12",
        "--max-groups-per-client",
        "4",
        "--max-envs",
        "64",
        "--max-env-memory",
        "512M",
        "--session-timeout",
        "0",
        stderr_path=log,
    )
    yield s, log
    s.stop()


def _check_reply(client: Client, case: Case, handle: int | None, codes: Counter[str]) -> str | None:
    frames, rid, kind = case
    client.send_raw(frames, handle)
    try:
        hdr, extra = client.recv(timeout_ms=5_000, handle=handle)
    except TimeoutError:
        return f"{kind}: no reply"
    if hdr.get("ok") is not False or extra:
        return f"{kind}: not an error reply: {hdr}"
    err = hdr.get("error", {})
    code = err.get("code")
    codes[str(code)] += 1
    if code not in KNOWN_CODES or not isinstance(err.get("message"), str) or not err["message"]:
        return f"{kind}: unexpected error {err}"
    if rid is not None and rid >= 0 and hdr.get("id") != rid:
        return f"{kind}: reply id {hdr.get('id')} for request {rid}"
    return None


def test_fuzz_messages_all_get_error_replies(ctx: zmq.Context[Any], fuzz_server: tuple[ServerProc, Path]) -> None:
    server, log = fuzz_server
    rng = random.Random(SEED)
    fuzzer = Client(ctx, server.endpoint)
    owner = Client(ctx, server.endpoint)  # owns the group whose data channel is fuzzed
    problems: list[str] = []
    codes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    try:
        made = owner.make("CartPole-v1", 3)
        handle = made["handle"]
        owner.reset(handle, seed=0)
        fuzzer.groups[handle] = (fuzzer._socket(made["endpoint"]), made["token"])
        rss = [server.rss()]
        sent = 0
        cases = [(c, None) for c in control_cases(rng)] + [(c, handle) for c in data_cases(rng, made["token"], 3)]
        for case, channel in cases:
            problem = _check_reply(fuzzer, case, channel, codes)
            kinds[case[2]] += 1
            sent += 1
            if problem:
                problems.append(problem)
                assert server.proc.poll() is None, f"the server died after {sent} messages, at: {problem}"
                if len(problems) >= 10:
                    break
            if sent == 100:
                rss.append(server.rss())  # after warm-up: allocator pools, lazily imported modules
        rss.append(server.rss())
        assert server.proc.poll() is None, "the server died"
        assert not problems, problems[:10]
        assert sent >= 1000 and len(kinds) >= 18, (sent, kinds)
        assert {"bad_message", "bad_options", "bad_actions", "bad_token", "unknown_op", "version_mismatch"} <= set(
            codes
        ), codes
        # bounded memory: the fuzzing grew the server by less than 64 MiB after warm-up
        assert rss[-1] - rss[1] < 64 << 20, [r >> 20 for r in rss]
        # the fuzzed group still steps for its owner
        assert owner.step(handle, [0, 1, 0])["obs"].shape == (3, 4)
    finally:
        fuzzer.close()
        owner.close()
    text = log.read_text()
    assert "Traceback" not in text and "internal error" not in text, text[-3000:]


def test_oversized_frames_drop_only_that_connection(
    ctx: zmq.Context[Any], fuzz_server: tuple[ServerProc, Path]
) -> None:
    server, _ = fuzz_server
    bystander = Client(ctx, server.endpoint)
    try:
        for size in [DEFAULT_MAX_MESSAGE_SIZE + 1, 4 * DEFAULT_MAX_MESSAGE_SIZE]:
            for body in [b"\x00" * size, pack({"v": 1, "id": 1, "op": "ping", "pad": b"\x00" * size})]:
                big = Client(ctx, server.endpoint)
                try:
                    big.send_raw([body])
                    with pytest.raises(TimeoutError):
                        big.recv(timeout_ms=300)
                finally:
                    big.close()
                hdr, _ = bystander.request("ping")
                assert hdr["ok"]
        assert server.proc.poll() is None
    finally:
        bystander.close()


def test_more_makes_than_the_caps_and_memory_heavy_makes(
    ctx: zmq.Context[Any], fuzz_server: tuple[ServerProc, Path]
) -> None:
    server, _ = fuzz_server
    rss0 = server.rss()
    clients = [Client(ctx, server.endpoint) for _ in range(5)]
    heavy: list[dict[str, Any]] = [
        {"stackNum": 64, "imgHeight": 1024, "imgWidth": 1024, "grayscale": False},
        {"stackNum": 16, "imgHeight": 1024, "imgWidth": 1024},
        {"stackNum": 64, "imgHeight": 512, "imgWidth": 512, "grayscale": False},
    ]
    try:
        codes: Counter[str] = Counter()
        made: list[tuple[Client, int]] = []
        for c in clients:
            for _ in range(6):  # 30 makes against 4 per client and 12 per server (1 already in use or not)
                hdr, _ = c.request("make", env="CartPole-v1", numEnvs=1)
                codes["ok" if hdr["ok"] else hdr["error"]["code"]] += 1
                if hdr["ok"]:
                    made.append((c, hdr["handle"]))
            for atari in heavy:
                for n in (1, 8, 64):
                    hdr, _ = c.request("make", env="pong", numEnvs=n, atari=atari)
                    assert not hdr["ok"] and hdr["error"]["code"] == "limit", hdr
                    codes["heavy"] += 1
        assert codes["ok"] <= 12 and codes["limit"] == 30 - codes["ok"], codes
        hello, _ = clients[0].ok("hello")
        assert hello["groupsInUse"] <= hello["maxGroups"] == 12
        assert server.rss() - rss0 < 128 << 20  # the refused makes allocated nothing
        assert server.proc.poll() is None
        for c, handle in made:
            c.ok("close", handle=handle)
    finally:
        for c in clients:
            c.close()


def test_a_valid_client_works_after_the_fuzzing(ctx: zmq.Context[Any], fuzz_server: tuple[ServerProc, Path]) -> None:
    server, _ = fuzz_server
    c = Client(ctx, server.endpoint)
    try:
        c.ok("hello", client="after-fuzz")
        for env, n in [("CartPole-v1", 2), ("pong", 2)]:
            h = c.make(env, n)["handle"]
            assert c.reset(h, seed=1).shape[0] == n
            assert c.step(h, [1, 0])["obs"].shape[0] == n
            c.ok("close", handle=h)
    finally:
        c.close()
    assert server.proc.poll() is None
