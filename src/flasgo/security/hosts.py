"""Host header validation against ``ALLOWED_HOSTS`` (Django's semantics, stricter parsing).

A pattern is a host name, an IP address, ``[ipv6]``, or ``.example.com`` which matches
``example.com`` itself and every subdomain. The Host value is parsed strictly: lower-cased,
an optional ASCII-digit port, an optional trailing dot; userinfo, paths, spaces, zone ids and
anything outside the DNS/IP alphabet are refused. Parsing is linear and capped in length.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

__all__ = ["HostValidator", "split_host"]

MAX_HOST_LENGTH = 253 + 1 + 5 + 2  # name, colon, port, brackets
_NAME = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*"
)
_CACHE_LIMIT = 1024


def split_host(value: str) -> tuple[str, str] | None:
    """Split a Host header value into (host, port); None when it is not a valid Host.

    The host is lower-case, without a trailing dot; IPv6 keeps its brackets.
    """
    if not value or len(value) > MAX_HOST_LENGTH or not value.isascii():
        return None
    value = value.lower()
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
        if "%" in host:  # SECURITY: zone ids ("%eth0") name a local interface, never a site
            return None
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
    else:
        host, _, port_part = value.partition(":")
        rest = f":{port_part}" if _ else ""
        host = host[:-1] if host.endswith(".") else host
        if not host or len(host) > 253 or not _NAME.fullmatch(host):
            return None
    if rest:
        port = rest[1:]
        if not rest.startswith(":") or not (port.isdigit() and len(port) <= 5):
            return None
        return host, port
    return host, ""


class HostValidator:
    """Decides whether a Host header value is one the app answers to.

    Args:
        patterns: Normalised ``ALLOWED_HOSTS`` entries.
    """

    __slots__ = ("_exact", "_suffixes", "seen")

    def __init__(self, patterns: Iterable[str]) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in patterns:
            if pattern.startswith("."):
                exact.add(pattern[1:])
                suffixes.append(pattern)
            else:
                exact.add(pattern)
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        # PERF: allowed raw values seen before answer with one dict lookup (`seen`); only
        # values that passed are cached, and it is bounded, so hostile Hosts cannot grow it.
        self.seen: dict[bytes, bool] = {}

    def is_allowed(self, raw: bytes) -> bool:
        """Tell whether the raw Host header value is allowed."""
        if raw in self.seen:
            return True
        parts = split_host(raw.decode("latin-1"))
        if parts is None:
            return False
        host = parts[0]
        allowed = host in self._exact or (
            not host.startswith("[") and host.endswith(self._suffixes) if self._suffixes else False
        )
        if allowed and len(self.seen) < _CACHE_LIMIT:
            self.seen[raw] = True
        return allowed
