"""Host and origin values: the one strict parser every host and origin check uses.

This module owns the grammar of a ``Host`` header value, of an ``Origin`` header value (and
the origin of a ``Referer``), of the ``ALLOWED_HOSTS`` and ``CSRF_TRUSTED_ORIGINS`` patterns,
their canonical form, and the same-origin comparison. The allowlist (security/hosts.py), the
CSRF provenance check (security/csrf.py), the WebSocket handshake (websocket.py) and settings
validation all call it, so they cannot disagree on what a host is.

The grammar, decided once:

- A host is a DNS name, a dotted-quad IPv4 address, or an IPv6 address in brackets, then an
  optional ``:port``; it is lower-cased.
- A name is ASCII labels of letters, digits, ``_`` and ``-`` (not first or last), 1-63
  characters each, at most 253 in all, then at most one trailing dot. Punycode (``xn--``)
  labels are ordinary labels.
- A name whose last label is a number (``127.1``, ``0x7f.1``, ``2130706433``) must be a
  canonical IPv4 address: browsers and resolvers read such names as addresses.
- An IPv6 address must be written in its canonical (compressed, RFC 5952-like) form, the one
  browsers send: ``[::1]``, not ``[0:0::1]``; zone ids are refused.
- A port is 1-65535 in ASCII digits without a leading zero.
- Anything else is refused: user information, paths, queries, fragments, backslashes,
  spaces, control characters, empty labels, bare IPv6, ``*``.
- A `Host` drops the trailing dot (``example.com.`` is ``example.com`` to the allowlist). An
  `Origin` keeps it: to a browser ``https://example.com.`` is another origin.
- An origin is ``scheme://host[:port]``; its port is the scheme's default when absent (http
  and ws 80, https and wss 443), so ``https://a.example`` and ``https://a.example:443`` are
  the same origin. ``null`` (an opaque origin) is never the same as any origin.
- Configuration entries (``config=True``, the default of the pattern parsers) are read more
  kindly: a non-ASCII name is IDNA-encoded, any spelling of an IPv6 address is accepted and
  written canonically, and a trailing dot is dropped.

Failures raise `InvalidHostError` (`InvalidOriginError` for origins), whose ``reason`` is a
short code and whose ``problem`` completes the sentence "<entry> ...". Every parser is linear
in its input and caps the length it looks at; imports nothing from flasgo but its exceptions.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from flasgo.exceptions import FlasgoError

__all__ = [
    "DEFAULT_PORTS",
    "MAX_HOST_LENGTH",
    "Host",
    "HostPattern",
    "InvalidHostError",
    "InvalidOriginError",
    "Origin",
    "OriginPattern",
    "parse_host",
    "parse_host_pattern",
    "parse_origin",
    "parse_origin_pattern",
    "parse_referer",
    "request_origin",
]

MAX_HOST_LENGTH: Final = 253 + 1 + 1 + 5
"""The longest Host value read: a 253-character name, a trailing dot, a colon, a port."""
_MAX_NAME_LENGTH: Final = 253
_MAX_SCHEME_LENGTH: Final = 32
DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
"""The port an origin has when its scheme is one of these and it names none."""
_PAGE_SCHEMES: Final = {"ws": "http", "wss": "https"}

HostKind = Literal["name", "ipv4", "ipv6"]

# NOTE: one pass for the whole value. A label backtracks only within itself (at most 63
# characters, and '.', ':' and ']' end it), so matching is linear; the value is capped first.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"(?:\[([0-9a-f:.]+)\]|({_LABEL}(?:\.{_LABEL})*\.?))(?::([0-9]+))?")
_is_loose_name = re.compile(r"[a-z0-9_.-]+").fullmatch
_is_scheme = re.compile(r"[a-z][a-z0-9+.-]*").fullmatch
_HEX_DIGITS: Final = frozenset("0123456789abcdef")
_IPV6_CHARACTERS: Final = _HEX_DIGITS | {":", "."}
_NUMBER_ENDS: Final = _HEX_DIGITS | {"x"}

_PROBLEMS: Final = {
    "empty": "is empty",
    "too-long": "is not a valid host name: it is too long",
    "character": "contains whitespace, control characters or others not allowed in a host "
    "name; use letters, digits, '-' and '.'",
    "userinfo": "must not include user information ('@')",
    "path": "must not include a path, query or fragment",
    "port": "has an invalid port (1-65535 in ASCII digits, no leading zero)",
    "label": "is not a valid host name; use labels of letters, digits and '-' joined by '.'",
    "ipv4": "is not a valid IPv4 address (a name ending in a number must be one, such as "
    "'192.0.2.1')",
    "ipv6": "is not a valid IPv6 address; write one in brackets such as '[2001:db8::1]'",
    "idna": "is not a valid host name (IDNA encoding failed)",
    "wildcard": "must not contain '*' here",
    "ip-subdomains": "names an IP address, which has no subdomains",
    "scheme": "must be an origin such as 'https://example.com'",
    "null": "is the opaque origin 'null', which matches no origin",
    "has-port": "must not include a port",
    "has-scheme": "must not include a scheme",
}
# How an origin says it (settings put "<NAME> entry '<entry>'" before these words).
_ORIGIN_PROBLEMS: Final = {
    **_PROBLEMS,
    "empty": "must be an origin such as 'https://example.com'",
    "userinfo": "must be an origin without path or user information, such as 'https://example.com'",
    "path": "must be an origin without path or user information, such as 'https://example.com'",
    "wildcard": "is not a valid host name: '*' is allowed only as 'scheme://*.domain' "
    "in CSRF_TRUSTED_ORIGINS",
}

Reason = Literal[
    "empty",
    "too-long",
    "character",
    "userinfo",
    "path",
    "port",
    "label",
    "ipv4",
    "ipv6",
    "idna",
    "wildcard",
    "ip-subdomains",
    "scheme",
    "null",
    "has-port",
    "has-scheme",
]


class InvalidHostError(FlasgoError, ValueError):
    """A value is not a valid host (or host pattern).

    Attributes:
        reason: A short code: ``empty``, ``too-long``, ``character``, ``userinfo``, ``path``,
            ``port``, ``label``, ``ipv4``, ``ipv6``, ``idna``, ``wildcard``,
            ``ip-subdomains``, ``scheme``, ``null``, ``has-port`` or ``has-scheme``.
        problem: Words that complete "<the value> ...", for configuration messages.
    """

    _problems = _PROBLEMS

    def __init__(self, value: str, reason: Reason) -> None:
        self.reason: Reason = reason
        self.problem = self._problems[reason]
        shown = value if len(value) <= 80 else value[:77] + "..."
        super().__init__(f"{shown!r} {self.problem}")


class InvalidOriginError(InvalidHostError):
    """A value is not a valid origin (or origin pattern); ``reason`` as for hosts."""

    _problems = _ORIGIN_PROBLEMS


@dataclass(frozen=True, slots=True)
class Host:
    """A parsed, canonical host: ``str(host)`` parses back to an equal `Host`.

    Attributes:
        name: Lower-case ASCII without a trailing dot; ``[ipv6]`` in canonical form.
        port: The port the value named, else None.
        kind: ``name``, ``ipv4`` or ``ipv6``.
    """

    name: str
    port: int | None = None
    kind: HostKind = "name"

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"


@dataclass(frozen=True, slots=True)
class Origin:
    """A parsed, canonical origin: equal origins are the same origin.

    Attributes:
        scheme: Lower-case scheme.
        host: The canonical host name (as `Host.name`, but a trailing dot is kept).
        port: The port, the scheme's default written out (None for a scheme without one).
    """

    scheme: str
    host: str
    port: int | None

    def __str__(self) -> str:
        if self.port is None or self.port == DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HostPattern:
    """An ``ALLOWED_HOSTS`` entry: a host, or ``.example.com`` for it and its subdomains.

    Attributes:
        name: The canonical host name.
        subdomains: The entry had a leading dot: the apex and every subdomain match.
    """

    name: str
    subdomains: bool = False

    def matches(self, host: str) -> bool:
        """Tell whether the canonical host name `host` (`Host.name`) matches."""
        if host == self.name:
            return True
        # NOTE: parse_host_pattern allows a leading dot on names only, and an IP literal never
        # ends in ".<name>" (an IPv4 address ends in a number, an IPv6 literal in "]").
        return self.subdomains and host.endswith(f".{self.name}")

    def __str__(self) -> str:
        return f".{self.name}" if self.subdomains else self.name


@dataclass(frozen=True, slots=True)
class OriginPattern:
    """A ``CSRF_TRUSTED_ORIGINS`` origin entry, exact or ``https://*.example.com``.

    Attributes:
        origin: The origin; with `subdomains`, its host is the parent domain.
        subdomains: The entry was ``scheme://*.domain``: strict subdomains match (not the
            domain itself), with the same scheme and port.
    """

    origin: Origin
    subdomains: bool = False

    def matches(self, origin: Origin) -> bool:
        """Tell whether `origin` is this origin, or a strict subdomain of a wildcard entry."""
        mine = self.origin
        if not self.subdomains:
            return origin == mine
        return (
            origin.scheme == mine.scheme
            and origin.port == mine.port
            and origin.host.endswith(f".{mine.host}")
        )

    def __str__(self) -> str:
        text = str(self.origin)
        return text.replace("://", "://*.", 1) if self.subdomains else text


def parse_host(value: str, *, config: bool = False) -> Host:
    """Parse a ``Host`` header value (or an authority) into its canonical `Host`.

    Args:
        value: The value, e.g. ``"Example.COM:8080"`` or ``"[::1]"``.
        config: Read a configuration entry: IDNA-encode a non-ASCII name, accept any spelling
            of an IPv6 address. Requests send ASCII and canonical addresses.

    Returns:
        The canonical host (trailing dot dropped) and its port.

    Raises:
        InvalidHostError: The value is not a valid host; ``reason`` says why.
    """
    name, port, kind = _split_host(value, config)
    return Host(name[:-1] if name[-1] == "." else name, port, kind)


# PERF: a site sees few distinct Host and Origin values, and every CSRF check parses two; the
# answers for the last few hundred come from this bounded cache (failures are not cached).
@lru_cache(maxsize=512)
def _split_host(value: str, config: bool) -> tuple[str, int | None, HostKind]:
    """The canonical name (trailing dot kept), the port and the kind of a host value."""
    # PERF: tuples inside, one value object at the end: a request pays for one allocation.
    if not value:
        raise InvalidHostError(value, "empty")
    if len(value) > MAX_HOST_LENGTH:
        raise InvalidHostError(value, "too-long")
    if not value.isascii():
        # SECURITY: checked before lower(): "\u212a".lower() is an ASCII "k".
        if not config:
            raise InvalidHostError(value, "character")
        value = _to_ascii(value)
    text = value.lower()
    match = _HOST.fullmatch(text)
    if match is None:
        raise InvalidHostError(value, _why_not(text))
    ipv6, name, port_text = match.groups()
    port = None if port_text is None else _port(value, port_text)
    if ipv6 is not None:
        canonical = _canonical_ipv6(ipv6)
        if canonical is None or (canonical != ipv6 and not config):
            raise InvalidHostError(value, "ipv6")
        return f"[{canonical}]", port, "ipv6"
    bare = name[:-1] if name[-1] == "." else name
    if config:
        name = bare
    if len(bare) > _MAX_NAME_LENGTH:
        raise InvalidHostError(value, "label")
    # PERF: a number ends in a hex digit or is "0x"; most names ("com", "localhost") do not.
    last = bare[bare.rfind(".") + 1 :] if bare[-1] in _NUMBER_ENDS else ""
    if last.isdigit() or (last[:2] == "0x" and _HEX_DIGITS.issuperset(last[2:])):
        # SECURITY: "127.1", "0x7f.1" and "2130706433" all reach 127.0.0.1 through a browser
        # or getaddrinfo; only the one canonical spelling of an address is accepted.
        try:
            ipaddress.IPv4Address(bare)
        except ValueError:
            raise InvalidHostError(value, "ipv4") from None
        return name, port, "ipv4"
    return name, port, "name"


def _to_ascii(value: str) -> str:
    """IDNA-encode the name part of a non-ASCII host value, keeping an ASCII ``:port``."""
    name, colon, port = value.rpartition(":")
    if not colon:
        name, port = value, ""
    elif not port.isascii():
        raise InvalidHostError(value, "character")
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidHostError(value, "idna") from None
    # SECURITY: IDNA's NFKC mapping turns a fullwidth colon, slash or '@' into ASCII ones;
    # what comes out must be a name and nothing else.
    if not _is_loose_name(ascii_name.lower()):
        raise InvalidHostError(value, "idna")
    result = f"{ascii_name}{colon}{port}"
    if len(result) > MAX_HOST_LENGTH:
        raise InvalidHostError(value, "too-long")
    return result


def _why_not(text: str) -> Reason:
    """The reason a lower-cased ASCII value does not match the host grammar (slow path)."""
    if "@" in text:
        return "userinfo"
    if any(char in text for char in "/?#\\"):
        return "path"
    if "*" in text:
        return "wildcard"
    if text.startswith("[") or (text.count(":") > 1 and _IPV6_CHARACTERS.issuperset(text)):
        return "ipv6"
    name = text.partition(":")[0]
    if not _is_loose_name(name):
        return "character"
    if _HOST.fullmatch(name) is None:
        return "label"
    return "port"


def _port(value: str, text: str) -> int:
    port = int(text) if len(text) <= 5 and text[0] != "0" else 0
    if not 0 < port < 65536:
        raise InvalidHostError(value, "port")
    return port


@lru_cache(maxsize=64)
def _canonical_ipv6(text: str) -> str | None:
    # PERF: ipaddress costs several microseconds per literal; the few a deployment sees
    # ("[::1]") are answered from this small bounded cache (at most 64 short strings).
    try:
        packed = ipaddress.IPv6Address(text).packed
    except ValueError:
        return None
    return _compress([int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)])


def _compress(hextets: list[int]) -> str:
    """RFC 5952 text of an IPv6 address, as browsers serialise it (WHATWG URL).

    NOTE: not `ipaddress`'s ``compressed``: from Python 3.13 on it writes IPv4-mapped
    addresses as ``::ffff:127.0.0.1``, so the canonical form would depend on the version.
    """
    best_start, best_length, start = -1, 1, -1
    for index, value in enumerate([*hextets, 1]):
        if value == 0 and start < 0:
            start = index
        elif value != 0 and start >= 0:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = -1
    words = [f"{value:x}" for value in hextets]
    if best_start < 0:
        return ":".join(words)
    head = ":".join(words[:best_start])
    tail = ":".join(words[best_start + best_length :])
    return f"{head}::{tail}"


def request_origin(scheme: str, host: str) -> Origin:
    """The request's own origin: its scheme and its ``Host`` header value.

    A WebSocket's ``ws``/``wss`` become ``http``/``https``: a page served over the same
    connection security has that origin.

    Raises:
        InvalidHostError: `host` is not a valid Host value.
    """
    scheme = _PAGE_SCHEMES.get(scheme, scheme)
    name, port, _ = _split_host(host, False)
    return Origin(scheme, name, port if port is not None else DEFAULT_PORTS.get(scheme))


def parse_origin(value: str, *, config: bool = False) -> Origin:
    """Parse an ``Origin`` header value (``scheme://host[:port]``, nothing more).

    Args:
        value: The value, e.g. ``"https://example.com"``.
        config: Read a configuration entry (see `parse_host`; a trailing dot is dropped).

    Returns:
        The canonical origin, the scheme's default port written out.

    Raises:
        InvalidOriginError: The value is not an origin, or is ``null``.
    """
    scheme, name, port, _ = _split_origin(value, config)
    return Origin(scheme, name, port)


def _split_origin(value: str, config: bool) -> tuple[str, str, int | None, HostKind]:
    scheme, separator, authority = value.partition("://")
    if not separator:
        raise InvalidOriginError(value, "null" if value == "null" else "scheme")
    if scheme not in DEFAULT_PORTS:  # PERF: what browsers send skips the checks
        # SECURITY: ASCII checked before lower(), as in parse_host.
        if len(scheme) > _MAX_SCHEME_LENGTH or not scheme.isascii():
            raise InvalidOriginError(value, "scheme")
        scheme = scheme.lower()
        if not _is_scheme(scheme):
            raise InvalidOriginError(value, "scheme")
    try:
        name, port, kind = _split_host(authority, config)
    except InvalidHostError as exc:
        raise InvalidOriginError(value, exc.reason) from None
    return scheme, name, port if port is not None else DEFAULT_PORTS.get(scheme), kind


def parse_referer(value: str) -> Origin:
    """The origin of a ``Referer`` value (an absolute URL): its scheme and authority.

    Raises:
        InvalidOriginError: The value is not an absolute URL with a valid host, or its
            authority carries user information or a backslash.
    """
    scheme, separator, rest = value.partition("://")
    if not separator:
        raise InvalidOriginError(value, "scheme")
    # PERF: each partition is one C-level scan, so any length is linear; the authority is then
    # capped by parse_host. A backslash stays in the authority and is refused (WHATWG reads
    # "\\" as "/" in http URLs: never guess which host a browser would see).
    authority = rest.partition("/")[0].partition("?")[0].partition("#")[0]
    if len(scheme) > _MAX_SCHEME_LENGTH:
        raise InvalidOriginError(value, "scheme")
    return parse_origin(f"{scheme}://{authority}")


def parse_host_pattern(entry: str, *, config: bool = True) -> HostPattern:
    """Parse an ``ALLOWED_HOSTS`` entry (also a bare host in ``CSRF_TRUSTED_ORIGINS``).

    ``example.com``, ``.example.com`` (the apex and its subdomains), ``192.0.2.1``,
    ``[2001:db8::1]`` or a bare ``2001:db8::1``. No scheme, port, path or ``*``.

    Args:
        entry: The entry.
        config: Read it as configuration (IDNA, any IPv6 spelling); see `parse_host`.

    Raises:
        InvalidHostError: The entry is not a valid pattern; ``reason`` says why
            (``has-port``, ``has-scheme``, ``wildcard``, or a host reason).
    """
    if "*" in entry:
        raise InvalidHostError(entry, "wildcard")
    if "://" in entry:
        raise InvalidHostError(entry, "has-scheme")
    subdomains = entry.startswith(".")
    text = entry[1:] if subdomains else entry
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address, as settings have always accepted
    try:
        name, port, kind = _split_host(text, config)
    except InvalidHostError as exc:
        raise InvalidHostError(entry, exc.reason) from None
    if port is not None:
        raise InvalidHostError(entry, "has-port")
    if subdomains and kind != "name":
        raise InvalidHostError(entry, "ip-subdomains")
    return HostPattern(name[:-1] if name[-1] == "." else name, subdomains)


def parse_origin_pattern(entry: str, *, config: bool = True) -> OriginPattern:
    """Parse a ``CSRF_TRUSTED_ORIGINS`` origin entry: ``https://example.com[:port]`` or
    ``https://*.example.com[:port]`` (strict subdomains of a name).

    Args:
        entry: The entry.
        config: Read it as configuration (IDNA, any IPv6 spelling); see `parse_host`.

    Raises:
        InvalidOriginError: The entry is not an origin or wildcard origin.
    """
    scheme, separator, authority = entry.partition("://")
    subdomains = bool(separator) and authority.startswith("*.")
    text = f"{scheme}://{authority[2:]}" if subdomains else entry
    try:
        scheme, name, port, kind = _split_origin(text, config)
    except InvalidOriginError as exc:
        raise InvalidOriginError(entry, exc.reason) from None
    if subdomains and kind != "name":
        raise InvalidOriginError(entry, "ip-subdomains")
    return OriginPattern(Origin(scheme, name, port), subdomains)
