"""Wire format of protocol version 1 (see PROTOCOL.md): MessagePack headers, raw array frames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack

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
