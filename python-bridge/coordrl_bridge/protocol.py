"""Wire format of protocol version 1 (see PROTOCOL.md): MessagePack headers, raw array frames.

Decoding and checking requests (read_request, get_*), encoding replies (ok_header, step_reply, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgpack
import numpy as np

if TYPE_CHECKING:
    from coordrl_bridge.backends.base import ResetOut, StepOut

PROTOCOL_VERSION = 1
SERVER_NAME = "coordrl_bridge"
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20  # requests are small: actions and options
MAX_SEED = 2**31 - 1
MAX_REQUEST_ID = 2**32 - 1
MAX_NESTING = 16  # requests are flat maps with a few small maps inside; deeper is not a request


class BridgeError(Exception):
    """An error answered to the client as ``{ok: false, error: {code, message, ...}}``."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def pack(obj: Any) -> bytes:
    """Packs plain maps/lists/str/int/float/bool/bytes (never numpy objects) with bin types."""
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def unpack_header(raw: bytes, max_size: int) -> dict[str, Any]:
    """Decodes one request header; anything that is not a map with string keys is a bad message."""
    if len(raw) > max_size:
        raise BridgeError("bad_message", f"header of {len(raw)} bytes exceeds the limit of {max_size}")
    try:
        obj = msgpack.unpackb(
            raw,
            raw=False,
            strict_map_key=True,
            max_str_len=max_size,
            max_bin_len=max_size,
            max_array_len=4096,
            max_map_len=256,
            max_ext_len=0,
        )
    except Exception as e:  # msgpack raises several unrelated exception types
        raise BridgeError("bad_message", f"request header is not valid MessagePack: {e}") from None
    if not isinstance(obj, dict):
        raise BridgeError("bad_message", f"request header must be a map, got {type(obj).__name__}")
    return obj


def check_keys(obj: dict[Any, Any]) -> None:
    """Every map in a request has string keys (msgpack also decodes bin keys, as bytes) and nests at most
    MAX_NESTING levels deep; handlers can then treat keys as text."""
    stack: list[tuple[Any, int, str]] = [(obj, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_NESTING:
            raise BridgeError("bad_message", f"request nests deeper than {MAX_NESTING} levels (at {path or 'top'})")
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    where = f" in '{path}'" if path else ""
                    raise BridgeError(
                        "bad_message", f"map keys must be strings, got {type(k).__name__} key {preview(k)}{where}"
                    )
                if isinstance(v, (dict, list)):
                    stack.append((v, depth + 1, f"{path}.{k}" if path else k))
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{path}[]") for v in value if isinstance(v, (dict, list)))


def preview(value: Any, limit: int = 60) -> str:
    """repr() for error messages, cut to `limit` characters (a request may carry a megabyte string)."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        value = value[:limit]
    try:
        text = repr(value) if not isinstance(value, (dict, list)) else f"<{type(value).__name__} of {len(value)}>"
    except Exception:  # e.g. RecursionError; never let an error message fail
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return "nil" if value is None else type(value).__name__


def get_int(h: Mapping[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    if key not in h or h[key] is None:
        if default is None:
            raise BridgeError("bad_message", f"missing field '{key}' (an integer)")
        return default
    v = h[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise BridgeError("bad_message", f"field '{key}' must be an integer, got {_type_name(v)}")
    if not lo <= v <= hi:
        raise BridgeError("bad_message", f"field '{key}' must be in [{lo}, {hi}], got {v}")
    return v


def get_opt_int(h: Mapping[str, Any], key: str, lo: int, hi: int) -> int | None:
    if h.get(key) is None:
        return None
    return get_int(h, key, lo, hi)


def get_str(h: Mapping[str, Any], key: str, max_len: int = 256) -> str:
    v = h.get(key)
    if not isinstance(v, str):
        raise BridgeError("bad_message", f"field '{key}' must be a string, got {_type_name(v)}")
    if not 0 < len(v) <= max_len:
        raise BridgeError("bad_message", f"field '{key}' must have 1 to {max_len} characters")
    return v


def get_bytes(h: Mapping[str, Any], key: str) -> bytes:
    v = h.get(key)
    if not isinstance(v, (bytes, bytearray)):
        raise BridgeError("bad_message", f"field '{key}' must be binary (MessagePack bin), got {_type_name(v)}")
    return bytes(v)


def get_map(h: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = h.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise BridgeError("bad_message", f"field '{key}' must be a map, got {_type_name(v)}")
    return v


# ---- requests ------------------------------------------------------------------------------------------


def check_version(h: dict[str, Any]) -> None:
    v = h.get("v")
    if v is None:
        raise BridgeError(
            "bad_message", f"missing field 'v' (the protocol version; this server speaks {PROTOCOL_VERSION})"
        )
    if type(v) is not int:  # 1.0 == 1 and True == 1 in Python: neither is protocol 1
        raise BridgeError(
            "bad_message",
            f"field 'v' (the protocol version) must be an integer, got {type(v).__name__} {preview(v)}; "
            f"this server speaks {PROTOCOL_VERSION}",
        )
    if v != PROTOCOL_VERSION:
        from coordrl_bridge import __version__  # the package imports this module first

        raise BridgeError(
            "version_mismatch",
            f"protocol version mismatch: the client speaks {v}, this server ({SERVER_NAME} {__version__}) "
            f"speaks {PROTOCOL_VERSION}; use a client and server from the same coordconv-rl release",
            serverProtocol=PROTOCOL_VERSION,
        )


def read_request(frames: list[bytes], max_size: int) -> tuple[int | None, dict[str, Any]]:
    """Decodes and checks a request's envelope. Returns (request id, header); raises BridgeError with the
    id (when it could be read) in `extra['id']`."""
    if len(frames) != 2:
        raise BridgeError("bad_message", f"a request is exactly one MessagePack frame, got {len(frames) - 1} frames")
    h = unpack_header(frames[1], max_size)
    raw_id = h.get("id")
    req_id = (
        raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 <= raw_id <= MAX_REQUEST_ID else None
    )
    try:
        check_keys(h)
        check_version(h)
        get_int(h, "id", 0, MAX_REQUEST_ID)
    except BridgeError as e:
        e.extra.setdefault("id", req_id)
        raise
    return req_id, h


# ---- replies -------------------------------------------------------------------------------------------


def ok_header(req_id: int, op: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": True, "op": op, **fields}


def error_header(req_id: int | None, err: BridgeError) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": False, "error": err.to_wire()}


def error_reply(e: BridgeError, req_id: int | None) -> list[Any]:
    """The reply to a failed request; the id comes from the error when the envelope check failed."""
    rid = e.extra.pop("id", req_id)
    return [pack(error_header(rid, e))]


_DTYPE_NAMES = {np.dtype(np.uint8): "uint8", np.dtype(np.float32): "float32"}  # dtype.name is slow


def _frame_desc(name: str, arr: np.ndarray[Any, Any], **extra: Any) -> dict[str, Any]:
    dtype = _DTYPE_NAMES.get(arr.dtype) or arr.dtype.name
    return {"name": name, "dtype": dtype, "shape": list(arr.shape), **extra}


def step_reply(req_id: int, handle: int, out: StepOut, step_us: int = 0) -> list[Any]:
    frames: list[Any] = [out.obs]
    descs = [_frame_desc("obs", out.obs)]
    if out.final_obs is not None:
        descs.append(_frame_desc("final_obs", out.final_obs, indices=out.final_index.tolist()))
        frames.append(out.final_obs)
    hdr = ok_header(
        req_id,
        "step",
        handle=handle,
        rewards=out.rewards.tobytes(),
        terminated=out.terminated.tobytes(),
        truncated=out.truncated.tobytes(),
        lives=None if out.lives is None else out.lives.tobytes(),
        episodes=out.episodes,
        frames=descs,
        step_us=step_us,
    )
    return [pack(hdr), *frames]


def reset_reply(req_id: int, handle: int, out: ResetOut) -> list[Any]:
    hdr = ok_header(
        req_id,
        "reset",
        handle=handle,
        lives=None if out.lives is None else out.lives.astype("<i4").tobytes(),
        frames=[_frame_desc("obs", out.obs)],
    )
    return [pack(hdr), out.obs]
