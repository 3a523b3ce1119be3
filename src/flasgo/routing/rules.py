"""Route rule parsing: turn ``/users/<int:user_id>`` into segments of literals and placeholders.

This module owns the rule grammar and its error messages. It knows nothing about which
converters exist; the router checks converter names, and where path-like ones may appear,
when a parsed rule is added.

Grammar: a rule starts with ``/`` and is split on ``/`` into segments. A segment is a mix of
literal text and placeholders ``<name>`` or ``<converter:name>``, where both parts are
Python identifiers (names must not be keywords). Two placeholders in one segment must be
separated by literal text. Only the last segment may be empty (a trailing slash).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from flasgo.exceptions import RoutingError

__all__ = ["ParsedRule", "Placeholder", "parse_rule"]

_PLACEHOLDER_HINT = "placeholders look like <name> or <converter:name>"
_FORBIDDEN = {"?": "'?' starts a query string", "#": "'#' starts a fragment"}


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A ``<converter:name>`` part of a rule.

    Attributes:
        name: The parameter name handed to the handler.
        converter: The converter's registered name (``str`` when none was written).
        position: Index of the ``<`` in the rule text, for error messages.
    """

    name: str
    converter: str
    position: int


Piece = str | Placeholder
"""One part of a segment: literal text or a placeholder."""


@dataclass(frozen=True, slots=True)
class ParsedRule:
    """A rule split into segments, each a tuple of literal and placeholder pieces.

    Attributes:
        rule: The rule text as written.
        segments: One tuple of pieces per ``/``-separated segment after the leading ``/``;
            a trailing slash shows as a last segment ``("",)``.
    """

    rule: str
    segments: tuple[tuple[Piece, ...], ...]

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        """Every placeholder, in the order written."""
        return tuple(
            piece
            for segment in self.segments
            for piece in segment
            if isinstance(piece, Placeholder)
        )

    @property
    def is_static(self) -> bool:
        """Whether the rule has no placeholder at all."""
        return not self.placeholders


def _malformed(rule: str, position: int, reason: str) -> RoutingError:
    return RoutingError(f"Route rule {rule!r} is malformed at position {position}: {reason}")


def _check_characters(rule: str) -> None:
    for position, char in enumerate(rule):
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise _malformed(rule, position, "control characters are not allowed in a rule")
        if char in _FORBIDDEN:
            raise _malformed(rule, position, f"{_FORBIDDEN[char]}; a rule matches the path only")
        if 0xD800 <= code <= 0xDFFF:
            raise _malformed(rule, position, "lone surrogates are not valid text; fix the rule")


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _parse_placeholder(rule: str, start: int, segment_end: int) -> tuple[Placeholder, int]:
    end = rule.find(">", start + 1, segment_end)
    if end < 0:
        raise _malformed(
            rule, start, f"'<' is never closed in its segment; {_PLACEHOLDER_HINT}, without '/'"
        )
    body = rule[start + 1 : end]
    converter, sep, name = body.partition(":")
    if not sep:
        converter, name = "str", body
    if not (_is_name(converter) and _is_name(name)):
        raise _malformed(rule, start, f"{_PLACEHOLDER_HINT}, both Python identifiers")
    return Placeholder(name, converter, start), end + 1


def _parse_segment(rule: str, start: int, end: int) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    position = start
    while position < end:
        opening = rule.find("<", position, end)
        closing = rule.find(">", position, end if opening < 0 else opening)
        if closing >= 0:
            raise _malformed(rule, closing, f"'>' without '<'; {_PLACEHOLDER_HINT}")
        if opening < 0:
            pieces.append(rule[position:end])
            break
        if opening > position:
            pieces.append(rule[position:opening])
        elif pieces:
            raise _malformed(
                rule, opening, "two placeholders touch; separate them with literal text"
            )
        placeholder, position = _parse_placeholder(rule, opening, end)
        pieces.append(placeholder)
    return tuple(pieces)


def parse_rule(rule: str) -> ParsedRule:
    """Parse a rule string into segments.

    Args:
        rule: The rule, e.g. ``/files/<name>.<ext>``.

    Returns:
        The parsed rule.

    Raises:
        TypeError: ``rule`` is not a str.
        RoutingError: The rule is malformed; the message gives the position and the fix.
    """
    if not isinstance(rule, str):
        raise TypeError(f"a route rule must be a str, got {type(rule).__name__}")
    if not rule.startswith("/"):
        raise RoutingError(f"Route rule {rule!r} must start with '/', e.g. '/{rule}'")
    _check_characters(rule)
    segments: list[tuple[Piece, ...]] = []
    start = 1
    length = len(rule)
    while True:
        end = rule.find("/", start)
        end = length if end < 0 else end
        if end == start and end != length:
            raise _malformed(rule, start, "empty segment ('//'); remove the doubled '/'")
        if rule[start:end] in {".", ".."}:
            raise _malformed(rule, start, "'.' and '..' segments are not allowed; remove them")
        segments.append(_parse_segment(rule, start, end) or ("",))
        if end == length:
            break
        start = end + 1
    names: set[str] = set()
    for segment in segments:
        for piece in segment:
            if isinstance(piece, Placeholder):
                if piece.name in names:
                    raise _malformed(
                        rule,
                        piece.position,
                        f"placeholder name {piece.name!r} is used twice; give each a new name",
                    )
                names.add(piece.name)
    return ParsedRule(rule, tuple(segments))
