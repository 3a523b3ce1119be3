"""Host header validation against ``ALLOWED_HOSTS`` (Django's semantics, stricter parsing).

A pattern is a host name, an IP address, ``[ipv6]``, or ``.example.com`` which matches
``example.com`` itself and every subdomain. The Host value is parsed by `flasgo.origin`
(the one host grammar every check shares): lower-cased, an optional port, one trailing dot
dropped; userinfo, paths, spaces, zone ids and anything outside the DNS/IP alphabet are
refused. Matching is an exact set lookup or a suffix compare, never a regex built from config.
"""

from __future__ import annotations

from collections.abc import Iterable

from flasgo.exceptions import ConfigurationError
from flasgo.origin import InvalidHostError, parse_host, parse_host_pattern

__all__ = ["HostValidator"]

_CACHE_LIMIT = 1024


class HostValidator:
    """Decides whether a Host header value is one the app answers to.

    Args:
        patterns: ``ALLOWED_HOSTS`` entries (`flasgo.origin.parse_host_pattern` grammar).

    Raises:
        ConfigurationError: An entry is not a valid host pattern.
    """

    __slots__ = ("_exact", "_suffixes", "seen")

    def __init__(self, patterns: Iterable[str]) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        for entry in patterns:
            try:
                pattern = parse_host_pattern(entry)
            except InvalidHostError as exc:
                raise ConfigurationError(
                    f"ALLOWED_HOSTS entry {entry!r} {exc.problem}; list host names such as "
                    "'example.com', '.example.com' (its subdomains), '192.0.2.1' or '[::1]'"
                ) from None
            exact.add(pattern.name)
            if pattern.subdomains:
                suffixes.append(f".{pattern.name}")
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        # PERF: allowed raw values seen before answer with one dict lookup (`seen`); only
        # values that passed are cached, and it is bounded, so hostile Hosts cannot grow it.
        self.seen: dict[bytes, bool] = {}

    def is_allowed(self, raw: bytes) -> bool:
        """Tell whether the raw Host header value is allowed."""
        if raw in self.seen:
            return True
        try:
            host = parse_host(raw.decode("latin-1"))
        except InvalidHostError:
            return False
        name = host.name
        # NOTE: an IP literal never ends in ".<name>" (suffix patterns are names only).
        allowed = name in self._exact or name.endswith(self._suffixes)
        if allowed and len(self.seen) < _CACHE_LIMIT:
            self.seen[raw] = True
        return allowed
