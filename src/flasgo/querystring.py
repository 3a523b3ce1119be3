"""The ``application/x-www-form-urlencoded`` grammar: query strings and urlencoded bodies.

Fields are separated by ``&`` only, ``+`` means a space, ``%XX`` escapes are bytes in the
charset (UTF-8 for query strings). Fields are counted before anything is decoded, and every
step is a C-level string method or a loop over fields or escapes, never over characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import TypeAlias

from flasgo.datastructures import MultiDict
from flasgo.exceptions import BadRequest, PayloadTooLarge

__all__ = ["QueryValue", "encode_query", "parse_query_string", "parse_urlencoded_form"]

_Scalar: TypeAlias = str | int | float
QueryValue: TypeAlias = _Scalar | Iterable[_Scalar | None] | None

_HEX_DIGITS = "0123456789abcdefABCDEF"
_ESCAPE_TO_BYTE: dict[bytes, bytes] = {
    f"%{high}{low}".encode("ascii"): bytes([int(high + low, 16)])
    for high in _HEX_DIGITS
    for low in _HEX_DIGITS
}
# One literal "%" per repetition, so the match cannot backtrack; a stray "%" stays literal.
_ESCAPE_RUN = re.compile(rb"(?:%[0-9A-Fa-f]{2})+")

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# PERF: percent-encoding is one str.translate over the UTF-8 bytes seen as latin-1 text.
_QUOTE_TABLE: dict[int, str] = {
    byte: "+" if byte == 0x20 else f"%{byte:02X}" for byte in range(256) if byte not in _UNRESERVED
}

# SECURITY: only ASCII-compatible charsets in which the bytes of "&", "=", "+" and "%" never
# occur inside a multi-byte character, so splitting raw bytes is sound. A fixed table also
# keeps attacker-chosen names away from the codec registry, which caches every name it sees.
_FORM_CHARSETS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-8859-1": "latin-1",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    **{f"iso-8859-{n}": f"iso8859_{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)},
    **{f"windows-{n}": f"cp{n}" for n in range(1250, 1259)},
    **{f"cp{n}": f"cp{n}" for n in range(1250, 1259)},
    "koi8-r": "koi8_r",
    "koi8-u": "koi8_u",
    "shift_jis": "shift_jis",
    "euc-jp": "euc_jp",
    "euc-kr": "euc_kr",
    "gbk": "gbk",
    "gb2312": "gb2312",
    "gb18030": "gb18030",
    "big5": "big5",
}


def _enforce_field_limit(data: bytes, max_fields: int, what: str) -> None:
    pieces = data.split(b"&")
    if len(pieces) - pieces.count(b"") > max_fields:
        raise PayloadTooLarge(f"Too many {what} fields (limit {max_fields}).")


def _decode_escape_run(match: re.Match[bytes]) -> bytes:
    run = match[0]
    if len(run) == 3:
        return _ESCAPE_TO_BYTE[run]
    # PERF: a run such as "%E2%82%AC" (non-ASCII text) decodes in one C call.
    return bytes.fromhex(run.replace(b"%", b" ").decode("ascii"))


def _unquote(data: bytes) -> bytes:
    return _ESCAPE_RUN.sub(_decode_escape_run, data)


def _parse(data: bytes, max_fields: int, what: str, encoding: str, errors: str) -> MultiDict:
    """Parse urlencoded `data`; UnicodeDecodeError escapes when `errors` is "strict"."""
    # PERF: one C-level count settles the common case without splitting anything.
    if data.count(b"&") >= max_fields:
        _enforce_field_limit(data, max_fields, what)
    if b"+" in data:
        data = data.replace(b"+", b" ")
    if b"%" not in data:
        # PERF: no escapes, so decoding the whole input once equals decoding each piece
        # (ASCII bytes always stand alone in the supported charsets).
        text = data.decode(encoding, errors)
        parts = map(str.partition, filter(None, text.split("&")), repeat("="))
        return MultiDict._from_list([(key, value) for key, _, value in parts])
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    for piece in data.split(b"&"):
        if not piece:
            continue
        raw_key, _, raw_value = piece.partition(b"=")
        if b"%" in raw_key:
            raw_key = _unquote(raw_key)
        if b"%" in raw_value:
            raw_value = _unquote(raw_value)
        append((raw_key.decode(encoding, errors), raw_value.decode(encoding, errors)))
    return MultiDict._from_list(pairs)


def parse_query_string(qs: bytes | str, *, max_fields: int) -> MultiDict:
    """Parse a URL query string into a `MultiDict`.

    Percent-escapes decode as UTF-8 with replacement characters, so no query string is ever
    rejected for its encoding. Blank values are kept, a key without ``=`` has the value
    ``""`` and empty pieces (``a=1&&b=2``) are skipped.

    Args:
        qs: The raw query string (ASGI gives bytes), without the leading ``?``.
        max_fields: The most fields allowed.

    Returns:
        The fields in order.

    Raises:
        PayloadTooLarge: More than `max_fields` fields.
    """
    if isinstance(qs, str):
        qs = qs.encode("utf-8", "surrogatepass")
    if not qs:
        return MultiDict._from_list([])
    return _parse(qs, max_fields, "query string", "utf-8", "replace")


def parse_urlencoded_form(body: bytes, *, max_fields: int, charset: str = "utf-8") -> MultiDict:
    """Parse an ``application/x-www-form-urlencoded`` body into a `MultiDict`.

    Args:
        body: The whole request body.
        max_fields: The most fields allowed.
        charset: The ``charset`` parameter of the Content-Type, if any.

    Returns:
        The fields in order.

    Raises:
        PayloadTooLarge: More than `max_fields` fields.
        BadRequest: The charset is not supported or the body does not decode in it.
    """
    encoding = _FORM_CHARSETS.get(charset.strip().lower())
    if encoding is None:
        raise BadRequest("Unsupported form charset.")
    if not body:
        return MultiDict._from_list([])
    try:
        return _parse(body, max_fields, "form", encoding, "strict")
    except UnicodeDecodeError:
        label = "UTF-8" if encoding == "utf-8" else charset.strip()
        raise BadRequest(f"Form body is not valid {label}.") from None


def _quote(text: str) -> str:
    return text.encode("utf-8").decode("latin-1").translate(_QUOTE_TABLE)


def _iter_pairs(
    values: Mapping[str, QueryValue] | Iterable[tuple[str, QueryValue]],
) -> Iterable[tuple[str, QueryValue]]:
    if isinstance(values, Mapping):
        return values.items()
    return values


def encode_query(
    values: Mapping[str, QueryValue] | Iterable[tuple[str, QueryValue]],
) -> str:
    """Build a query string (without ``?``) that `parse_query_string` reads back exactly.

    Args:
        values: A mapping or ``(key, value)`` pairs. A value of None is left out; a list or
            tuple repeats the key once per item; numbers are written with `str`.

    Returns:
        The encoded query string, spaces as ``+`` and everything but unreserved
        characters percent-encoded as UTF-8.

    Raises:
        UnicodeEncodeError: A key or value holds a lone surrogate.
    """
    out: list[str] = []
    for key, value in _iter_pairs(values):
        if value is None:
            continue
        quoted_key = _quote(key) + "="
        if isinstance(value, str):
            out.append(quoted_key + _quote(value))
        elif isinstance(value, int | float):
            out.append(quoted_key + _quote(str(value)))
        else:
            out.extend(quoted_key + _quote(str(item)) for item in value if item is not None)
    return "&".join(out)
