"""The SSRF guard: decide whether an outbound URL may be fetched, and pin the address to use.

A URL is parsed once, with `urllib.parse.urlsplit` (the parser `security.outbound` also uses to
build its request), and refused on anything another parser could read differently: backslashes,
whitespace, control characters, a second ``@``, an unencoded ``@`` after the authority,
bracketed hosts that are not IPv6, numeric hosts that are not canonical dotted IPv4. The host
is IDNA-encoded and checked as a DNS name; loopback names (``localhost``, ``*.localhost``,
RFC 6761, and the usual ``/etc/hosts`` aliases) are refused by name; the host is matched against
the allowlist.

Two kinds of API, and only one of them looks at DNS:

- `SSRFGuard.validate_url` does **not** resolve. It judges IP literals and loopback names; any
  other name passes if the syntax and allowlist rules do, whatever it resolves to. Use it to
  check input early, never as the last check before connecting.
- `SSRFGuard.resolve_url` / `SSRFGuard.aresolve_url` (and `security.outbound.SafeHTTPClient`,
  which calls `aresolve_url` for every hop) resolve the name: a name that does not resolve is
  refused, every address it resolves to must pass the address rules (one bad address refuses
  the URL), and the lowest one is pinned into the URL so the connection goes to the address that
  was checked (no DNS rebinding between check and connect). `aresolve_url` resolves off the
  event loop (the loop's ``getaddrinfo`` runs in its executor; an injected resolver runs in a
  worker thread) within ``resolution_timeout_seconds``.

Address rules (our own tables, not only `ipaddress` flags, whose answers differ between Python
releases): loopback, link-local, multicast, reserved and unspecified are always refused;
private networks (RFC 1918, CGNAT, ULA, site-local, local-use NAT64) unless
``allow_private_networks``; IPv4 addresses carried inside IPv6 (mapped, compatible, NAT64,
6to4, Teredo) are judged by the IPv4 address they carry; anything else must be global.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

from flasgo.exceptions import ConfigurationError, FlasgoError

if TYPE_CHECKING:
    from flasgo.settings import Settings

__all__ = [
    "SETTING_KEYS",
    "Resolver",
    "SSRFConfig",
    "SSRFGuard",
    "SSRFResolvedURL",
    "SSRFViolation",
    "ViolationReason",
    "is_loopback_name",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str, int], Iterable[str]]
"""Return the addresses (as text) that a host name resolves to; raise `OSError` if none."""

ViolationReason = Literal[
    "syntax", "scheme", "userinfo", "host", "port", "host_not_allowed", "address",
    "unresolvable", "timeout", "localhost",
]  # fmt: skip

SETTING_KEYS: Final = (
    "SSRF_ENABLED",
    "SSRF_ALLOWED_SCHEMES",
    "SSRF_ALLOWED_HOSTS",
    "SSRF_ALLOW_PRIVATE_NETWORKS",
    "SSRF_ALLOW_USERINFO",
    "SSRF_ALLOW_UNRESOLVABLE_HOSTS",
    "SSRF_RESOLUTION_TIMEOUT_SECONDS",
)
"""The settings `SSRFConfig.from_settings` reads: when one changes, rebuild the guard."""

# SECURITY: RFC 6761 §6.3 reserves `localhost` and every name under it for loopback, and
# resolvers answer them from /etc/hosts without DNS; the other names are the loopback aliases
# common Linux distributions ship in /etc/hosts. Refused by name so that even `validate_url`,
# which never resolves, cannot pass them.
_LOOPBACK_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6",
     "ip6-localhost", "ip6-loopback"}
)  # fmt: skip

DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_MAX_HOST = 253
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_HEX_LABEL = re.compile(r"0x[0-9a-f]*")
# Printable ASCII: `quote` with this as `safe` only escapes what is not ASCII.
_ASCII_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))

_V4_BLOCKED: Final = tuple(
    (ipaddress.IPv4Network(network), category)
    for network, category in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("192.88.99.0/24", "reserved"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
    )
)
_V4_PRIVATE: Final = tuple(
    ipaddress.IPv4Network(network)
    for network in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")
)
_V6_BLOCKED: Final = tuple(
    (ipaddress.IPv6Network(network), category)
    for network, category in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
        ("100::/64", "reserved"),
        ("2001:db8::/32", "reserved"),
    )
)
_V6_PRIVATE: Final = tuple(
    ipaddress.IPv6Network(network) for network in ("fc00::/7", "fec0::/10", "64:ff9b:1::/48")
)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


class SSRFViolation(FlasgoError, ValueError):
    """An outbound URL was refused; `reason` says which rule refused it.

    The message names only what the caller passed (never a resolved address), so it is safe to
    log or to show to the user who supplied the URL.
    """

    def __init__(self, message: str, *, reason: ViolationReason) -> None:
        super().__init__(message)
        self.reason: ViolationReason = reason


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


@dataclass(frozen=True, slots=True)
class SSRFConfig:
    """What outbound URLs may point at. Defaults match the ``SSRF_*`` settings.

    Args:
        enabled: False turns the guard into a pass-through.
        allowed_schemes: URL schemes that may be fetched.
        allowed_hosts: Empty allows any host; else exact names, ``.example.com`` (the apex
            and its subdomains), ``*.example.com`` (subdomains only) or ``*``.
        allow_private_networks: Allow RFC 1918, CGNAT, ULA and site-local addresses.
        allow_userinfo: Allow ``user:password@`` in the URL.
        allow_unresolvable_hosts: Return an unpinned result for hosts that do not resolve.
        resolution_timeout_seconds: Limit for the asynchronous DNS lookup (None: no limit).
        allowed_ports: Ports that may be used; None allows 1-65535.
        allowed_networks: CIDR blocks exempt from every address rule (for example a sidecar on
            ``127.0.0.1/32``). Keep them as narrow as possible.
    """

    enabled: bool = True
    allowed_schemes: frozenset[str] = frozenset({"http", "https"})
    allowed_hosts: frozenset[str] = frozenset()
    allow_private_networks: bool = False
    allow_userinfo: bool = False
    allow_unresolvable_hosts: bool = False
    resolution_timeout_seconds: float | None = 5.0
    allowed_ports: frozenset[int] | None = None
    allowed_networks: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        schemes = frozenset(scheme.lower() for scheme in self.allowed_schemes)
        if not schemes or not all(_SCHEME.fullmatch(scheme) for scheme in schemes):
            raise ConfigurationError(
                "SSRFConfig.allowed_schemes must list URL schemes such as 'https'"
            )
        timeout = self.resolution_timeout_seconds
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(
                "SSRFConfig.resolution_timeout_seconds must be above 0 (or None for no limit)"
            )
        if self.allowed_ports is not None and not all(
            1 <= port <= 65535 for port in self.allowed_ports
        ):
            raise ConfigurationError("SSRFConfig.allowed_ports must be in 1-65535")
        object.__setattr__(self, "allowed_schemes", schemes)
        hosts = frozenset(_host_pattern(entry) for entry in self.allowed_hosts)
        object.__setattr__(self, "allowed_hosts", hosts)
        object.__setattr__(self, "networks", tuple(_network(n) for n in self.allowed_networks))

    @classmethod
    def from_settings(cls, settings: Settings) -> SSRFConfig:
        """Build the config from the ``SSRF_*`` keys of `settings`."""
        return cls(
            enabled=settings.SSRF_ENABLED,
            allowed_schemes=settings.SSRF_ALLOWED_SCHEMES,
            allowed_hosts=settings.SSRF_ALLOWED_HOSTS,
            allow_private_networks=settings.SSRF_ALLOW_PRIVATE_NETWORKS,
            allow_userinfo=settings.SSRF_ALLOW_USERINFO,
            allow_unresolvable_hosts=settings.SSRF_ALLOW_UNRESOLVABLE_HOSTS,
            resolution_timeout_seconds=settings.SSRF_RESOLUTION_TIMEOUT_SECONDS,
        )


def _host_pattern(entry: str) -> str:
    if entry == "*":
        return entry
    prefix = next((p for p in ("*.", ".") if entry.startswith(p)), "")
    try:
        host, address = _canonical_host(entry[len(prefix) :].strip("[]"))
    except SSRFViolation as exc:
        raise ConfigurationError(
            f"SSRFConfig.allowed_hosts entry {_shown(entry)} is not a host name or address; "
            f"use 'api.example.com', '.example.com' or '*.example.com'"
        ) from exc
    if address is not None and prefix:
        raise ConfigurationError(
            f"SSRFConfig.allowed_hosts entry {_shown(entry)}: a prefix needs a host name"
        )
    if address is None and is_loopback_name(host):
        # NOTE: loopback names are refused before the allowlist is read, so such an entry could
        # never match; say so now rather than let it look like an exemption.
        raise ConfigurationError(
            f"SSRFConfig.allowed_hosts entry {_shown(entry)} is a loopback name, which the guard "
            f"always refuses; to reach a local service, use its address (http://127.0.0.1:PORT/) "
            f"and exempt it with allowed_networks={{'127.0.0.1/32'}}"
        )
    return prefix + _display(host, address)


def _network(entry: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(entry)
    except ValueError as exc:
        raise ConfigurationError(
            f"SSRFConfig.allowed_networks entry {_shown(entry)} must be a CIDR block such as "
            f"'127.0.0.1/32' with no host bits set"
        ) from exc


@dataclass(frozen=True, slots=True)
class SSRFResolvedURL:
    """A URL the guard accepted.

    Attributes:
        original_url: The URL as given.
        url: The URL with its host replaced by the pinned address (unchanged when the guard is
            disabled or the host was unresolvable and that is allowed).
        hostname: The canonical host (lower-case, IDNA-encoded; IPv6 without brackets).
        port: The explicit or default port.
        address: The pinned address, or None when nothing was resolved.
        host_header: The ``Host`` header to send (the port only when it is not the default).
    """

    original_url: str
    url: str
    hostname: str
    port: int | None
    address: str | None
    host_header: str


class _Target(NamedTuple):
    scheme: str
    userinfo: str | None
    host: str
    address: IPAddress | None
    port: int
    explicit_port: bool
    rest: tuple[str, str, str]

    def url(self, host: str) -> str:
        netloc = host if self.userinfo is None else f"{self.userinfo}@{host}"
        if self.explicit_port:
            netloc = f"{netloc}:{self.port}"
        return urlunsplit((self.scheme, netloc, *self.rest))

    @property
    def host_header(self) -> str:
        shown = _display(self.host, self.address)
        return shown if DEFAULT_PORTS.get(self.scheme) == self.port else f"{shown}:{self.port}"


def _display(host: str, address: IPAddress | None) -> str:
    return f"[{host}]" if isinstance(address, ipaddress.IPv6Address) else host


class SSRFGuard:
    """Validate outbound URLs and resolve them to a checked, pinned address.

    Args:
        config: The rules; `SSRFConfig()` (the secure defaults) when omitted.
        resolver: Replaces DNS (``socket.getaddrinfo``); tests inject a mapping here.
    """

    def __init__(self, config: SSRFConfig | None = None, *, resolver: Resolver | None = None):
        self.config = config if config is not None else SSRFConfig()
        self._resolver = resolver

    def validate_url(self, url: str) -> str:
        """Check `url` against the syntax and policy rules. This does **not** resolve the host.

        IP literals are judged by the address rules and loopback names (``localhost``,
        ``*.localhost``, ``localhost.``, in any case or IDNA form) are refused by name; any
        other name is not looked up, so what it resolves to is only checked by `resolve_url`,
        `aresolve_url` and `SafeHTTPClient`. Returns the URL normalised (lower-case scheme and
        host, IDNA host, non-ASCII path characters percent-encoded): send that, not the input.

        Raises:
            SSRFViolation: The URL breaks a rule; `SSRFViolation.reason` says which.
        """
        if not self.config.enabled:
            return url
        target = self._target(url)
        return target.url(_display(target.host, target.address))

    def resolve_url(self, url: str) -> SSRFResolvedURL:
        """Validate `url`, resolve its host and check every address; pin the lowest.

        This resolves: a name that does not resolve is refused (unless
        ``allow_unresolvable_hosts``), and one address that breaks the rules refuses the URL.
        Connect to `SSRFResolvedURL.url` / `SSRFResolvedURL.address` (the checked address),
        never to the name, or DNS could answer differently the second time. It blocks on DNS
        (``socket.getaddrinfo`` has no timeout): do not call it on the event loop; use
        `aresolve_url` in async code.

        Raises:
            SSRFViolation: The URL breaks a rule, the host does not resolve, or an address
                it resolves to is not allowed.
            RuntimeError: Called on a running event loop with a name to look up in DNS.
        """
        if not self.config.enabled:
            return _passthrough(url)
        target = self._target(url)
        if target.address is not None:
            return self._pin(url, target, [target.address])
        if self._resolver is None and _on_event_loop():
            # PERF: a blocking lookup here would stall every request this loop serves.
            raise RuntimeError(
                "resolve_url blocks on DNS; in async code use 'await aresolve_url(url)'"
            )
        try:
            found = list(self._resolve(target.host, target.port))
        except (OSError, UnicodeError):
            found = []
        return self._pin(url, target, self._addresses(target, found))

    async def aresolve_url(self, url: str) -> SSRFResolvedURL:
        """Like `resolve_url`, resolving off the event loop within ``resolution_timeout_seconds``.

        The default lookup is the loop's ``getaddrinfo`` (which runs in the loop's executor); an
        injected resolver runs in a worker thread. Either way the loop keeps serving.

        Raises:
            SSRFViolation: As `resolve_url`; also when the lookup times out (always, even
                with ``allow_unresolvable_hosts``).
        """
        if not self.config.enabled:
            return _passthrough(url)
        target = self._target(url)
        if target.address is not None:
            return self._pin(url, target, [target.address])
        try:
            async with asyncio.timeout(self.config.resolution_timeout_seconds):
                found = await self._aresolve(target.host, target.port)
        except TimeoutError:
            raise SSRFViolation(
                f"Resolving host {_shown(target.host)} timed out", reason="timeout"
            ) from None
        except (OSError, UnicodeError):
            found = []
        return self._pin(url, target, self._addresses(target, found))

    # -- resolution --------------------------------------------------------------------------

    def _resolve(self, host: str, port: int) -> Iterable[str]:
        if self._resolver is not None:
            return self._resolver(host, port)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]

    async def _aresolve(self, host: str, port: int) -> list[str]:
        if self._resolver is not None:
            resolver = self._resolver
            return await asyncio.to_thread(lambda: list(resolver(host, port)))
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]

    def _addresses(self, target: _Target, found: list[str]) -> list[IPAddress]:
        addresses = []
        for text in found:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                address = None
            if address is None or getattr(address, "scope_id", None):
                raise SSRFViolation(
                    f"Host {_shown(target.host)} resolved to something that is not a usable "
                    f"address",
                    reason="address",
                )
            addresses.append(address)
        return addresses

    def _pin(self, url: str, target: _Target, addresses: list[IPAddress]) -> SSRFResolvedURL:
        if not addresses:
            if not self.config.allow_unresolvable_hosts:
                raise SSRFViolation(
                    f"Host {_shown(target.host)} does not resolve", reason="unresolvable"
                )
            shown = _display(target.host, None)
            return SSRFResolvedURL(
                url, target.url(shown), target.host, target.port, None, target.host_header
            )
        for address in addresses:
            problem = self._judge(address)
            if problem:
                raise SSRFViolation(
                    f"Host {_shown(target.host)} resolves to {problem}, which outbound "
                    f"requests may not reach",
                    reason="address",
                )
        pinned = min(addresses, key=lambda address: (address.version, address.packed))
        return SSRFResolvedURL(
            original_url=url,
            url=target.url(_display(str(pinned), pinned)),
            hostname=target.host,
            port=target.port,
            address=str(pinned),
            host_header=target.host_header,
        )

    def _judge(self, address: IPAddress) -> str | None:
        if any(address in network for network in self.config.networks):
            return None
        return address_problem(address, allow_private=self.config.allow_private_networks)

    # -- parsing -----------------------------------------------------------------------------

    def _target(self, url: str) -> _Target:
        target = _parse(url, self.config)
        if target.address is None and is_loopback_name(target.host):
            raise SSRFViolation(
                f"Host {_shown(target.host)} names the local machine (localhost, RFC 6761), "
                f"which outbound requests may not reach",
                reason="localhost",
            )
        hosts = self.config.allowed_hosts
        if hosts and not _host_allowed(_display(target.host, target.address), target, hosts):
            raise SSRFViolation(
                f"Host {_shown(target.host)} is not in the outbound allowlist",
                reason="host_not_allowed",
            )
        if target.address is not None:
            problem = self._judge(target.address)
            if problem:
                raise SSRFViolation(
                    f"Address {_shown(target.host)} is {problem}, which outbound requests may "
                    f"not reach",
                    reason="address",
                )
        return target


def is_loopback_name(host: str) -> bool:
    """Whether the canonical `host` (lower-case, IDNA, no trailing dot) names the local machine.

    True for ``localhost`` and every name under it (RFC 6761 §6.3) and for the loopback aliases
    of common ``/etc/hosts`` files (``localhost.localdomain``, ``ip6-localhost``, ...).
    """
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    # SECURITY: a lax IDNA consumer decodes `xn--` labels and maps them again, so the
    # punycode of `ℓocalhost` would reach localhost there; judge that reading too.
    if "xn--" not in host:
        return False
    reading = _lax_reading(host)
    return reading != host and is_loopback_name(reading)


def _lax_reading(host: str) -> str:
    """`host` with each ``xn--`` label decoded and IDNA-mapped again (lower-case, NFKC)."""
    return ".".join(map(_lax_label, host.split("."))).removesuffix(".")


def _lax_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label
    try:
        return decoded.encode("idna").decode("ascii")
    except UnicodeError:
        return unicodedata.normalize("NFKC", decoded).casefold()


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _passthrough(url: str) -> SSRFResolvedURL:
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        hostname, port = "", None
    return SSRFResolvedURL(url, url, hostname, port, None, hostname)


def _host_allowed(shown: str, target: _Target, patterns: frozenset[str]) -> bool:
    if "*" in patterns or shown in patterns:
        return True
    if target.address is not None:
        return False
    host = target.host
    labels = host.split(".")
    for index in range(len(labels)):
        suffix = ".".join(labels[index:])
        if f".{suffix}" in patterns or (index and f"*.{suffix}" in patterns):
            return True
    return False


def _violation(message: str, reason: ViolationReason = "syntax") -> SSRFViolation:
    return SSRFViolation(message, reason=reason)


def _parse(url: object, config: SSRFConfig) -> _Target:
    if not isinstance(url, str):
        raise _violation("The outbound URL must be a string")
    # SECURITY: parsers disagree on backslashes, blanks and control characters (urllib reads
    # `http://127.0.0.1\@public.example/` as public.example, urllib3 as 127.0.0.1): refuse them.
    if not url.isprintable() or " " in url or "\\" in url:
        raise _violation("URL contains whitespace, control characters or a backslash")
    _check_bracket_tail(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _violation("URL cannot be parsed") from None
    if parts.scheme not in config.allowed_schemes:
        raise _violation(f"URL scheme {_shown(parts.scheme)} is not allowed", "scheme")
    if not parts.netloc:
        raise _violation("URL has no host", "host")
    # SECURITY: an `@` after the authority is read as userinfo by lax parsers.
    if "@" in parts.query or "@" in parts.fragment:
        raise _violation("URL has an unencoded '@' in its query or fragment (write %40)")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and not config.allow_userinfo:
        raise _violation("URL must not contain user information", "userinfo")
    if "@" in userinfo:
        raise _violation("URL has more than one '@' in its authority", "userinfo")
    host_text, port_text, bracketed = _split_hostport(hostport)
    if not host_text:
        raise _violation("URL has no host", "host")
    if parts.hostname != host_text.lower():  # pragma: no cover - defence in depth
        # NOTE: the checks above leave no known input here; kept in case urllib changes.
        raise _violation("URL host is ambiguous", "host")
    host, address = _canonical_host(host_text, bracketed=bracketed)
    port = _port(port_text, parts.scheme, config)
    rest = tuple(
        quote(part, safe=_ASCII_SAFE) for part in (parts.path, parts.query, parts.fragment)
    )
    return _Target(
        scheme=parts.scheme,
        userinfo=quote(userinfo, safe=_ASCII_SAFE) if at else None,
        host=host,
        address=address,
        port=port,
        explicit_port=port_text is not None,
        rest=(rest[0], rest[1], rest[2]),
    )


def _check_bracket_tail(url: str) -> None:
    """Refuse text after a bracketed host that is not ``:port``, before urllib sees it.

    NOTE: Python 3.14's urlsplit raises for ``http://[::1]x/`` where 3.11 splits it; checking
    first keeps the reason ("host") the same on every version.
    """
    _, slashes, after = url.partition("//")
    if not slashes:
        return
    authority = re.split(r"[/?#]", after, maxsplit=1)[0]
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        _, bracket, rest = hostport[1:].partition("]")
        if bracket and rest and not rest.startswith(":"):
            raise _violation("URL host has unbalanced brackets", "host")


def _split_hostport(hostport: str) -> tuple[str, str | None, bool]:
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _violation("URL host has unbalanced brackets", "host")
        return host, (rest[1:] if rest else None), True
    host, colon, port = hostport.partition(":")
    if "[" in host or "]" in host or ":" in port:
        raise _violation("URL host has stray brackets or colons (bracket IPv6 hosts)", "host")
    return host, (port if colon else None), False


def _port(text: str | None, scheme: str, config: SSRFConfig) -> int:
    if text is None:
        default = DEFAULT_PORTS.get(scheme)
        if default is None:
            raise _violation(f"URL scheme {_shown(scheme)} needs an explicit port", "port")
        port = default
    else:
        # SECURITY: int() would accept '+80', ' 80' and non-ASCII digits.
        if not (text.isascii() and text.isdigit() and len(text) <= 5):
            raise _violation("URL port must be 1-65535 in ASCII digits", "port")
        port = int(text)
        if not 1 <= port <= 65535:
            raise _violation("URL port must be 1-65535 in ASCII digits", "port")
    if config.allowed_ports is not None and port not in config.allowed_ports:
        raise _violation(f"URL port {port} is not allowed", "port")
    return port


def _canonical_host(text: str, *, bracketed: bool = False) -> tuple[str, IPAddress | None]:
    """Return the canonical host and, for IP literals, its address; raise SSRFViolation."""
    if bracketed or ":" in text:
        try:
            v6 = ipaddress.IPv6Address(text)
        except ValueError:
            v6 = None
        if v6 is None or v6.scope_id:
            raise _violation("URL host in brackets must be an IPv6 address without a zone", "host")
        return v6.compressed, v6
    # SECURITY: length is capped before IDNA or any regex sees the text.
    if not text or len(text) > _MAX_HOST:
        raise _violation("URL host is empty or longer than 253 characters", "host")
    host = text.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _violation("URL host is not a valid internationalised name", "host") from None
    stripped = host.removesuffix(".")
    labels = stripped.split(".")
    if _is_numeric(labels[-1]):
        return _ipv4_literal(text, host)
    if not stripped or len(stripped) > _MAX_HOST or not all(map(_LABEL.fullmatch, labels)):
        raise _violation(f"URL host {_shown(text)} is not a valid DNS name", "host")
    return stripped, None


def _is_numeric(label: str) -> bool:
    return label.isdigit() or _HEX_LABEL.fullmatch(label) is not None


def _ipv4_literal(text: str, host: str) -> tuple[str, IPAddress]:
    """Read `host` the way ``inet_aton``/WHATWG do; only canonical dotted-quad is accepted.

    The address is judged before the form: `127.1` is refused as loopback, `0x8.8.8.8` as
    non-canonical (a consumer with another reading could otherwise reach something else).
    """
    value = _inet_aton(host.removesuffix("."))
    if value is None:
        raise _violation(f"URL host {_shown(text)} is not a valid IPv4 address", "host")
    address = ipaddress.IPv4Address(value)
    problem = address_problem(address, allow_private=False)
    if str(address) != host:
        if problem and problem != "a private address":
            raise _violation(f"Address {_shown(text)} is {problem}", "address")
        raise _violation(
            f"URL host {_shown(text)} is a non-canonical IPv4 address; write it as a.b.c.d",
            "host",
        )
    return host, address


def _inet_aton(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        if part[:2] == "0x":
            digits, base = part[2:], 16
        elif len(part) > 1 and part[0] == "0":
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        if digits == "" and base == 16:
            digits = "0"
        try:
            numbers.append(int(digits, base) if digits.isascii() and digits.isalnum() else -1)
        except ValueError:
            return None
    *head, last = numbers
    if any(not 0 <= number <= 255 for number in head) or not 0 <= last < 256 ** (5 - len(parts)):
        return None
    value = last
    for shift, number in enumerate(head):
        value |= number << (8 * (3 - shift))
    return value


def address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    """Say why `address` may not be reached (e.g. ``"a loopback address"``), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return _v4_problem(address, allow_private)
    embedded = _embedded(address)
    if embedded:
        for inner in embedded:
            problem = _v4_problem(inner, allow_private)
            if problem:
                return f"{problem} (carried in IPv6)"
        if address in _COMPATIBLE:
            return "a deprecated IPv4-compatible address"
        if address not in _NAT64_LOCAL:
            return None
    for network, category in _V6_BLOCKED:
        if address in network:
            return f"a {category} address"
    if any(address in network for network in _V6_PRIVATE):
        return None if allow_private else "a private address"
    if address.is_reserved or address.is_multicast or address.is_link_local:
        return "a reserved address"
    return None if address.is_global else "a non-global address"


def _v4_problem(address: ipaddress.IPv4Address, allow_private: bool) -> str | None:
    for network, category in _V4_BLOCKED:
        if address in network:
            return f"a {category} address"
    if any(address in network for network in _V4_PRIVATE):
        return None if allow_private else "a private address"
    return None if address.is_global else "a non-global address"


def _embedded(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    value = int(address)
    low = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _MAPPED or address in _NAT64:
        return [low]
    if address in _COMPATIBLE and value > 1:
        return [low]
    if address in _NAT64_LOCAL:
        # RFC 6052 /48 layout (bits 48-63 and 72-87), and the /96 layout inside the block.
        split = ((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF
        return [ipaddress.IPv4Address(split), low]
    if address in _SIX_TO_FOUR:
        return [ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)]
    if address in _TEREDO:
        server, client = address.teredo or (low, low)
        return [server, client]
    return []
