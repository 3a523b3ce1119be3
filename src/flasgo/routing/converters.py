"""Path converters: how a placeholder's text becomes a Python value and back.

A converter owns three things for one placeholder kind: the regular expression its text
must match, the conversion to a Python value when a request comes in (``to_python``), and
the conversion back to text when a URL is built (``to_url``). Built-ins are registered under
the names ``str``, ``int``, ``float``, ``path`` and ``uuid``; custom ones are added with
``Router.add_converter``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar

__all__ = [
    "DEFAULT_CONVERTERS",
    "Converter",
    "FloatConverter",
    "IntConverter",
    "PathConverter",
    "StringConverter",
    "UUIDConverter",
]

_MAX_INT_DIGITS = 30
_FLOAT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DOT_SEGMENTS = frozenset({".", ".."})


class Converter:
    """Base class of placeholder converters.

    Subclasses set ``regex`` (what one placeholder's text looks like, without anchors or
    capturing groups) and override ``to_python``/``to_url``. A converter is instantiated
    once per router and shared between rules, so it must not keep per-request state.

    Attributes:
        regex: Pattern the placeholder text must fully match; ``[^/]+`` by default.
        spans_segments: True for path-like converters whose text may contain ``/``;
            such a placeholder must be the last one in its rule.
        priority: Matching precedence among dynamic segments at the same position; lower
            is tried first (int/uuid 10, float 15, custom 25, str 50, path 100).
    """

    regex: ClassVar[str] = "[^/]+"
    spans_segments: ClassVar[bool] = False
    priority: ClassVar[int] = 25
    # PERF: built-ins whose ``to_python`` fully validates the text skip the regex check.
    validates_itself: ClassVar[bool] = False

    def to_python(self, value: str) -> object:
        """Convert the matched text to the value passed to the handler.

        Args:
            value: The placeholder's text, already percent-decoded.

        Returns:
            The converted value; the text itself by default.

        Raises:
            ValueError: The text is not acceptable; the rule then does not match.
        """
        return value

    def to_url(self, value: object) -> str:
        """Convert a value to the placeholder's text when building a URL.

        Args:
            value: The value given to ``Router.build``.

        Returns:
            The text, not yet percent-encoded.

        Raises:
            TypeError: The value has a type this converter cannot render.
            ValueError: The value cannot be rendered by this converter.
        """
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float | uuid.UUID):
            raise TypeError(f"expected a str, got {type(value).__name__}")
        return str(value)


class StringConverter(Converter):
    """One non-empty path segment (no ``/``); the default converter."""

    priority: ClassVar[int] = 50
    validates_itself: ClassVar[bool] = True

    def to_python(self, value: str) -> object:
        """Return the segment unchanged, refusing empty text or text with ``/``."""
        if not value or "/" in value:
            raise ValueError("a str placeholder is one non-empty segment")
        return value

    def to_url(self, value: object) -> str:
        """Render a str (or a number/UUID via ``str``) as one non-empty segment."""
        text = super().to_url(value)
        if not text or "/" in text:
            raise ValueError("a str placeholder must be non-empty and must not contain '/'")
        return text


class IntConverter(Converter):
    """A non-negative integer written with 1 to 30 ASCII digits."""

    regex: ClassVar[str] = "[0-9]+"
    priority: ClassVar[int] = 10
    validates_itself: ClassVar[bool] = True

    def to_python(self, value: str) -> object:
        """Return the int, refusing signs, non-ASCII digits and more than 30 digits."""
        # SECURITY: str.isdigit alone accepts other scripts' digits and int() then parses
        # them; the length cap keeps int() away from huge-number conversion costs.
        if len(value) > _MAX_INT_DIGITS or not (value.isascii() and value.isdigit()):
            raise ValueError("an int placeholder is 1 to 30 ASCII digits")
        return int(value)

    def to_url(self, value: object) -> str:
        """Render a non-negative int (bool refused)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an int placeholder needs an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError("an int placeholder cannot be negative")
        return str(value)


class FloatConverter(Converter):
    """A non-negative decimal number: ASCII digits with an optional fraction (``3.14``)."""

    regex: ClassVar[str] = r"[0-9]+(?:\.[0-9]+)?"
    priority: ClassVar[int] = 15
    validates_itself: ClassVar[bool] = True

    def to_python(self, value: str) -> object:
        """Return the float, refusing signs, exponents and anything but ASCII digits."""
        if _FLOAT_RE.fullmatch(value) is None:
            raise ValueError("a float placeholder looks like 12 or 12.5")
        return float(value)

    def to_url(self, value: object) -> str:
        """Render a finite non-negative float or int without an exponent."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"a float placeholder needs a float, got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a float placeholder must be finite")
        if value < 0:
            raise ValueError("a float placeholder cannot be negative")
        # NOTE: repr is the shortest text that round-trips; Decimal spells it without
        # an exponent so it stays inside the placeholder's grammar.
        return format(Decimal(repr(value)), "f")


class PathConverter(Converter):
    """One or more non-empty segments, ``/`` included; never empty, no dot segments."""

    regex: ClassVar[str] = "[^/]+(?:/[^/]+)*"
    spans_segments: ClassVar[bool] = True
    priority: ClassVar[int] = 100

    def to_python(self, value: str) -> object:
        """Return the text, refusing ``.`` and ``..`` segments."""
        # SECURITY: a decoded ``%2e%2e`` arrives as ``..``; refusing dot segments keeps a
        # path placeholder from walking out of the directory a handler serves.
        # SECURITY: Windows paths (and some storage APIs) split on "\\" too: "..\\..\\x"
        # walks up there, so backslash-separated dot segments are refused as well.
        if not value or not _DOT_SEGMENTS.isdisjoint(value.replace("\\", "/").split("/")):
            raise ValueError("a path placeholder must not contain '.' or '..' segments")
        return value

    def to_url(self, value: object) -> str:
        """Render a str of non-empty segments joined by ``/``."""
        if not isinstance(value, str):
            raise TypeError(f"a path placeholder needs a str, got {type(value).__name__}")
        parts = value.split("/")
        if "" in parts:
            raise ValueError("a path placeholder must not be empty or have empty segments")
        return value


class UUIDConverter(Converter):
    """A canonical 8-4-4-4-12 hexadecimal UUID (any case), converted to ``uuid.UUID``."""

    regex: ClassVar[str] = _UUID_RE.pattern
    priority: ClassVar[int] = 10
    validates_itself: ClassVar[bool] = True

    def to_python(self, value: str) -> object:
        """Return the ``uuid.UUID``; other spellings (braces, no dashes) are refused."""
        if _UUID_RE.fullmatch(value) is None:
            raise ValueError("a uuid placeholder looks like 12345678-1234-1234-1234-123456789abc")
        return uuid.UUID(value)

    def to_url(self, value: object) -> str:
        """Render a ``uuid.UUID`` (or a str holding one) in canonical lower-case form."""
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, str):
            return str(uuid.UUID(value))
        raise TypeError(f"a uuid placeholder needs a uuid.UUID, got {type(value).__name__}")


DEFAULT_CONVERTERS: Mapping[str, type[Converter]] = MappingProxyType(
    {
        "str": StringConverter,
        "int": IntConverter,
        "float": FloatConverter,
        "path": PathConverter,
        "uuid": UUIDConverter,
    }
)
"""The converters every router starts with, by name."""
