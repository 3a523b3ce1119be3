"""The one JSON codec: msgspec from bytes to bytes, with the types handlers commonly return.

datetime, date, time, UUID, Decimal, Enum, sets, dataclasses and msgspec Structs are handled
natively by msgspec; pydantic models and objects with ``__json__`` go through `_encode_extra`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from flasgo.exceptions import BadRequest

__all__ = ["decode_json", "encode_json", "json_depth_exceeds"]


def _encode_extra(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic v2, without importing pydantic
    if dump is not None:
        return dump(mode="json")
    to_json = getattr(value, "__json__", None)
    if to_json is not None:
        return to_json()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(
        f"Object of type {type(value).__name__} is not JSON serialisable; return a dict, "
        "list, dataclass or msgspec Struct, or give the class a __json__() method."
    )


_encoder = msgspec.json.Encoder(enc_hook=_encode_extra, decimal_format="string")
_decoder = msgspec.json.Decoder()

encode_json = _encoder.encode
"""Encode `value` to JSON bytes (raises TypeError for unsupported types)."""

MALFORMED_JSON = (
    "Malformed JSON request body. Send valid JSON and set Content-Type: application/json."
)


def json_depth_exceeds(value: object, limit: int) -> bool:
    """Tell whether a decoded JSON value nests deeper than `limit` (iterative, linear)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def decode_json(body: bytes, *, max_depth: int = 64) -> Any:
    """Decode a JSON request body.

    Args:
        body: The raw bytes.
        max_depth: Deepest nesting of arrays/objects accepted.

    Raises:
        BadRequest: Malformed JSON, NaN/Infinity, out-of-range numbers or too deep nesting.
    """
    try:
        value = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
        raise BadRequest(MALFORMED_JSON) from None
    # PERF: only bodies with more brackets than the limit can be too deep.
    if body.count(b"[") + body.count(b"{") > max_depth and json_depth_exceeds(value, max_depth):
        raise BadRequest(f"JSON nesting is deeper than {max_depth} levels.")
    return value
