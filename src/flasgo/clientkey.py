"""The key a client is counted under: its IPv4 address, or its IPv6 network.

One host on IPv6 commonly holds a whole /64 (SLAAC, privacy addresses) and can pick a new
address per request, so counting per IPv6 address lets it pass any per-client limit. Rate
limits and the security-failure throttle therefore count an IPv6 client by its network,
``CLIENT_IPV6_PREFIX`` bits long (64 by default); an IPv4-mapped address counts as its IPv4
address. Imports no other flasgo module.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

__all__ = ["client_key"]


@lru_cache(maxsize=4096)
def _ipv6_key(address: str, prefix: int) -> str:
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return address  # NOTE: not an address (a name from a proxy): counted as given
    mapped = parsed.ipv4_mapped
    if mapped is not None:
        return str(mapped)
    network = ipaddress.IPv6Network((int(parsed) >> (128 - prefix) << (128 - prefix), prefix))
    return str(network)


def client_key(address: str, ipv6_prefix: int = 64) -> str:
    """The key `address` is counted under.

    Args:
        address: The client's IP address as the server (or a trusted proxy) gave it.
        ipv6_prefix: How many leading bits of an IPv6 address name one client (1-128).

    Returns:
        An IPv4 address unchanged; an IPv6 address as its network (``2001:db8::/64``), or
        as the IPv4 address it maps.
    """
    # PERF: IPv4, the common case, is one substring test; IPv6 keys are cached.
    if ":" not in address:
        return address
    return _ipv6_key(address, ipv6_prefix)
