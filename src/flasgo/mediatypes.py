"""Media types: parsing ``Content-Type``-style headers with parameters, and JSON detection.

The parameter parser makes one left-to-right pass. It finds separators with `str.find`
bounded to the current parameter and reads quoted strings with a single character class, so
no input can make it backtrack (CVE-2024-24762, CVE-2026-28356, CVE-2025-67726).
"""

from __future__ import annotations

import re

from flasgo.exceptions import BadRequest

__all__ = ["accepted_codings", "is_json_media_type", "parse_options_header"]

_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
# PERF: one character class each, matched from a position; linear and C-level.
_search_special = re.compile(r'["\\]').search
_search_non_space = re.compile(r"[^ \t]").search


def _qtext_end(value: str, start: int) -> int:
    found = _search_special(value, start)
    return len(value) if found is None else found.start()


def _read_quoted(value: str, start: int) -> tuple[str | None, int]:
    """Read a quoted-string body from `start` (after the DQUOTE).

    Returns:
        The unescaped text (None when unterminated) and the index after the closing DQUOTE.
    """
    end = len(value)
    stop = _qtext_end(value, start)
    if stop < end and value[stop] == '"':
        return value[start:stop], stop + 1
    parts = [value[start:stop]]
    while stop + 1 < end and value[stop] == "\\":
        # NOTE: quoted-pair: the backslash is dropped and the next character kept as is.
        parts.append(value[stop + 1])
        start = stop + 2
        stop = _qtext_end(value, start)
        parts.append(value[start:stop])
        if stop < end and value[stop] == '"':
            return "".join(parts), stop + 1
    return None, end


def _parse_params(value: str, pos: int) -> dict[str, str]:
    params: dict[str, str] = {}
    length = len(value)
    while pos < length:
        end = value.find(";", pos)
        if end < 0:
            end = length
        eq = value.find("=", pos, end)
        if eq < 0:
            pos = end + 1
            continue
        key = value[pos:eq].strip(" \t").lower()
        found = _search_non_space(value, eq + 1, end)
        start = end if found is None else found.start()
        text: str | None
        if start < end and value[start] == '"':
            # A quoted value may hold ";" so it decides where the parameter ends.
            text, pos = _read_quoted(value, start + 1)
            next_semi = value.find(";", pos)
            pos = length if next_semi < 0 else next_semi + 1
        else:
            text = value[start:end].rstrip(" \t")
            pos = end + 1
        if text is not None and _is_token(key):
            if key in params:
                # SECURITY: a repeated "boundary" or "filename" is read as the first by one
                # parser and the last by another; an ambiguous header is refused.
                raise BadRequest(f"The {key!r} parameter is repeated in a header.")
            params[key] = text
    return params


def parse_options_header(value: str, *, max_length: int = 4096) -> tuple[str, dict[str, str]]:
    """Split a header like ``Content-Type`` into its main value and parameters.

    ``text/HTML; Charset="utf-8"`` becomes ``("text/html", {"charset": "utf-8"})``.
    Parameter names are lower-cased, values keep their case; quoted values lose their
    DQUOTEs and backslash escapes. Malformed parameters (no ``=``, a name that is not a
    token, an unterminated quote) are skipped; a repeated name is refused.

    Args:
        value: The header value.
        max_length: The longest value accepted.

    Returns:
        The lower-cased main value and the parameters.

    Raises:
        BadRequest: The value is longer than `max_length`, or a parameter is repeated.
    """
    if len(value) > max_length:
        raise BadRequest("Header value too long.")
    semi = value.find(";")
    if semi < 0:
        return value.strip().lower(), {}
    return value[:semi].strip().lower(), _parse_params(value, semi + 1)


def is_json_media_type(mime: str) -> bool:
    """Tell whether `mime` is ``application/json`` or an ``application/*+json`` type.

    Args:
        mime: A media type, parameters allowed (``application/json; charset=utf-8``).

    Returns:
        True for JSON media types; ``text/plain`` and friends are not JSON (CVE-2021-32677).
    """
    if mime == "application/json":
        return True
    main = mime.partition(";")[0].strip().lower()
    if main == "application/json":
        return True
    kind, _, subtype = main.partition("/")
    return (
        kind == "application"
        and len(subtype) > 5
        and subtype.endswith("+json")
        and _is_token(subtype) is not None
    )


def accepted_codings(value: str) -> dict[str, float]:
    """The codings of an ``Accept-Encoding`` value with their quality (``q``), lower-cased.

    At most 32 items are read; a malformed or out-of-range ``q`` counts as 0 (not acceptable).
    """
    accepted: dict[str, float] = {}
    # PERF: a hostile header with many commas is split only as far as the items read.
    for item in value.split(",", 32)[:32]:
        name, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        accepted[name.strip().lower()] = quality
    return accepted
