"""Trusted reverse proxies: take client, scheme and host from forwarding headers, safely.

Off by default (``TRUSTED_PROXIES`` empty). When the connecting peer is in one of the
configured networks, ``Forwarded`` (RFC 7239) or else ``X-Forwarded-For`` /
``X-Forwarded-Proto`` / ``X-Forwarded-Host`` are read. The client is the right-most address
that is not itself a trusted proxy (left-most entries are client-supplied and can be forged);
the scheme and host come from the hop the nearest trusted proxy reported.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

__all__ = ["ProxyResolver"]

_MAX_HOPS = 32
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("["):  # "[2001:db8::1]:4711"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # "192.0.2.1:4711"
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _forwarded_elements(value: str) -> list[dict[str, str]]:
    elements: list[dict[str, str]] = []
    for element in value.split(",")[-_MAX_HOPS:]:
        pairs: dict[str, str] = {}
        for part in element.split(";"):
            key, sep, val = part.partition("=")
            if sep:
                pairs[key.strip().lower()] = val.strip().strip('"')
        elements.append(pairs)
    return elements


class ProxyResolver:
    """Rewrites a scope's client, scheme and Host when the peer is a trusted proxy.

    Args:
        trusted: CIDRs or addresses (``TRUSTED_PROXIES``).
    """

    __slots__ = ("_networks",)

    def __init__(self, trusted: Iterable[str]) -> None:
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted
        )

    def is_trusted(self, address: str) -> bool:
        """Whether `address` belongs to a trusted proxy."""
        ip = _parse_ip(address)
        return ip is not None and any(ip in network for network in self._networks)

    def apply(self, scope: dict[str, Any]) -> dict[str, Any]:
        """Return `scope`, or a copy reflecting what the trusted proxies forwarded."""
        client = scope.get("client")
        if not client or not self.is_trusted(str(client[0])):
            return scope
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        values: dict[bytes, list[str]] = {}
        for name, value in headers:
            if name in (
                b"forwarded",
                b"x-forwarded-for",
                b"x-forwarded-proto",
                b"x-forwarded-host",
            ):
                values.setdefault(name, []).append(value.decode("latin-1"))
        if b"forwarded" in values:
            hops = [
                (e.get("for", ""), e.get("proto", ""), e.get("host", ""))
                for e in _forwarded_elements(",".join(values[b"forwarded"]))
            ]
        elif b"x-forwarded-for" in values:
            addresses = ",".join(values[b"x-forwarded-for"]).split(",")[-_MAX_HOPS:]
            proto = ",".join(values.get(b"x-forwarded-proto", [])).split(",")[-1].strip()
            host = ",".join(values.get(b"x-forwarded-host", [])).split(",")[-1].strip()
            hops = [(address, "", "") for address in addresses]
            if hops:
                hops[-1] = (hops[-1][0], proto, host)
        else:
            return scope
        return self._rewrite(scope, hops)

    def _rewrite(self, scope: dict[str, Any], hops: list[tuple[str, str, str]]) -> dict[str, Any]:
        # Walk from the nearest hop outwards; stop at the first address we do not trust.
        client_ip: str | None = None
        scheme, host = "", ""
        for address, proto, forwarded_host in reversed(hops):
            scheme = scheme or proto
            host = host or forwarded_host
            ip = _parse_ip(address)
            if ip is None:
                break
            client_ip = str(ip)
            if not any(ip in network for network in self._networks):
                break
        if client_ip is None:
            return scope
        new = dict(scope)
        new["client"] = (client_ip, 0)
        scheme = scheme.lower()
        if scheme in ("http", "https"):
            new["scheme"] = (
                "wss" if scope.get("type") == "websocket" and scheme == "https" else scheme
            )
        if host:
            new["headers"] = [(n, v) for n, v in scope["headers"] if n != b"host"]
            new["headers"].append((b"host", host.encode("latin-1", "replace")))
        return new
