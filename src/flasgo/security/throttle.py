"""The security-failure throttle: clients that keep failing security checks get 429s.

Every refused security check (a bad Host, and the CSRF and auth refusals) is counted per
client IP in a sliding window: at most ``SECURITY_FAILURE_RATE_LIMIT`` failures per
``SECURITY_FAILURE_WINDOW_SECONDS`` (0 switches the throttle off). The failure that goes over
the limit is answered 429 instead of its 400/401/403, and from then on the client's requests
are refused at screening, before routing or any auth work, until the window has room again
(``Retry-After`` says when). Clients without an IP are never throttled; an IPv6 client is
counted by its network (``CLIENT_IPV6_PREFIX``, a /64 by default: see `flasgo.clientkey`).

Counters are the sliding-window counters of `flasgo.ratelimit`: O(1) per failure, in memory
for at most `max_clients` clients (the least recently seen is forgotten when full, so the
throttle fails open rather than locking everyone out), or in Redis when ``REDIS_URL`` is set,
shared by every worker. A Redis failure lets the request through and logs
``shared-storage-unavailable``. The pre-check is per process: a dict of the clients this
process saw go over the limit, empty (and skipped) in normal traffic. With a shared store the
block itself is shared too: a process that blocks a client writes it to the store, and every
process merges the store's blocks into its dict every `sync_interval` seconds (a task started
at lifespan startup), so a blocked client is refused by every worker, not only by the one that
counted last. At most `MAX_SHARED_BLOCKS` blocks are shared (the latest); past that, other
workers block a client at its first failure there, as the counters are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flasgo.clientkey import client_key
from flasgo.exceptions import BadRequest, ConfigurationError, TooManyRequests
from flasgo.jsonenc import decode_json, encode_json
from flasgo.ratelimit import Quota, RateLimitBackend, RateLimiter, RedisRateLimiter, seconds
from flasgo.security.events import log_security_event
from flasgo.security.refusal import Refusal
from flasgo.stores import Store, StoreUnavailable

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.settings import Settings

__all__ = ["MAX_SHARED_BLOCKS", "THROTTLED", "SecurityFailureThrottle"]

MAX_SHARED_BLOCKS = 1000
_BLOCKS_KEY = "security-failure-blocks"
_log = logging.getLogger("flasgo.security")

THROTTLED = "security-failure-rate-limit-exceeded"
_DETAIL = "Too many failed security checks from this client. Wait a moment before retrying."


def _refusal(wait: float) -> TooManyRequests:
    return TooManyRequests(_DETAIL, {"retry-after": str(max(1, seconds(wait)))})


class SecurityFailureThrottle:
    """Counts security failures per client IP and refuses clients over the limit.

    Args:
        limit: Failures allowed per window, at least 1.
        window: The sliding window in seconds (> 0).
        backend: Where the counters live; a `RateLimiter` of `max_clients` keys by default.
        max_clients: The most clients tracked in memory (counters and refusals).
        clock: Monotonic seconds for the refusal deadlines (tests pass a fake clock).
        ipv6_prefix: Leading bits of an IPv6 address that name one client (1-128).

    Raises:
        ConfigurationError: A value is out of range.
    """

    __slots__ = (
        "_backend",
        "_clock",
        "_sync",
        "blocked",
        "ipv6_prefix",
        "limit",
        "max_clients",
        "shared_store",
        "sync_interval",
        "window",
    )

    def __init__(
        self,
        limit: int = 50,
        window: float = 60.0,
        *,
        backend: RateLimitBackend | None = None,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        shared_store: Store | None = None,
        sync_interval: float = 1.0,
        ipv6_prefix: int = 64,
    ) -> None:
        if type(limit) is not int or limit < 1:
            raise ConfigurationError(
                f"The security-failure limit must be a positive int, got {limit!r}; set "
                "SECURITY_FAILURE_RATE_LIMIT to 0 to switch the throttle off"
            )
        if type(window) not in (int, float) or not 0 < window < math.inf:
            raise ConfigurationError(
                f"The security-failure window must be a positive number of seconds, got {window!r}"
            )
        if type(max_clients) is not int or max_clients < 1:
            raise ConfigurationError(f"max_clients must be a positive int, got {max_clients!r}")
        if type(ipv6_prefix) is not int or not 1 <= ipv6_prefix <= 128:
            raise ConfigurationError(f"ipv6_prefix must be 1 to 128, got {ipv6_prefix!r}")
        self.ipv6_prefix = ipv6_prefix
        self.limit = limit
        self.window = float(window)
        self.max_clients = max_clients
        self._clock = clock
        self._backend = backend if backend is not None else RateLimiter(max_clients, clock=clock)
        # Client IP -> the clock time until which it is refused at screening (LRU order).
        self.blocked: OrderedDict[str, float] = OrderedDict()
        # Where blocks are shared between processes (the Redis store of the counters).
        self.shared_store = shared_store
        self.sync_interval = float(sync_interval)
        self._sync: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecurityFailureThrottle | None:
        """The throttle the settings ask for (Redis-backed with ``REDIS_URL``), or None when
        ``SECURITY_FAILURE_RATE_LIMIT`` is 0."""
        limit = settings.SECURITY_FAILURE_RATE_LIMIT
        if not limit:
            return None
        url = settings.REDIS_URL
        if not url:
            return cls(
                limit,
                settings.SECURITY_FAILURE_WINDOW_SECONDS,
                ipv6_prefix=settings.CLIENT_IPV6_PREFIX,
            )
        backend = RedisRateLimiter.from_url(
            url, namespace="flasgo.throttle", timeout=settings.REDIS_TIMEOUT_SECONDS
        )
        return cls(
            limit,
            settings.SECURITY_FAILURE_WINDOW_SECONDS,
            backend=backend,
            ipv6_prefix=settings.CLIENT_IPV6_PREFIX,
            shared_store=backend.store,
        )

    async def start(self) -> None:
        """Start merging the shared blocks every `sync_interval` seconds (a lifespan startup
        hook; nothing to do without a shared store)."""
        if self.shared_store is not None and self._sync is None:
            self._sync = asyncio.get_running_loop().create_task(self._sync_forever())

    async def _sync_forever(self) -> None:
        while True:
            try:
                await self.sync()
            except StoreUnavailable as exc:
                # SECURITY: fail open, as the counters do; the next round tries again.
                _log.error("shared-storage-unavailable throttle-sync %s", exc.reason)
            await asyncio.sleep(self.sync_interval)

    async def sync(self) -> None:
        """Merge the shared blocks into this process's pre-check now.

        Raises:
            StoreUnavailable: The shared store failed.
        """
        if self.shared_store is None:
            return
        now, clock = time.time(), self._clock()
        for client, until in _decode_blocks(await self.shared_store.get(_BLOCKS_KEY)).items():
            local = clock + (until - now)
            if until > now and self.blocked.get(client, 0.0) < local:
                self._block(client, until - now)

    async def _share(self, client: str, wait: float) -> None:
        store = self.shared_store
        if store is None:
            return
        until = time.time() + wait
        for _ in range(5):  # compare-and-set: another process may write at the same time
            raw = await store.get(_BLOCKS_KEY)
            now = time.time()
            blocks = {c: u for c, u in _decode_blocks(raw).items() if u > now}
            if blocks.get(client, 0.0) >= until:
                return
            blocks[client] = until
            latest = sorted(blocks.items(), key=lambda item: item[1])[-MAX_SHARED_BLOCKS:]
            ttl = max(1, math.ceil(max(u for _, u in latest) - now))
            value = encode_json(dict(latest))
            if await store.compare_and_set(_BLOCKS_KEY, raw, value, ttl=ttl):
                return

    async def close(self) -> None:
        """Stop the block sync; close the backend's connections (a Redis client), if any."""
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sync
        close = getattr(self._backend, "close", None)
        if close is not None:
            await close()

    def retry_after(self, client: str) -> float | None:
        """Seconds `client` is still refused for, or None when it is not refused."""
        until = self.blocked.get(client)
        if until is None:
            return None
        wait = until - self._clock()
        if wait <= 0:
            del self.blocked[client]
            return None
        return wait

    def screen(self, scope: dict[str, Any]) -> Refusal | None:
        """The pre-check: the 429 for a client that is refused now (not counted again)."""
        client = scope.get("client")
        if not client:
            return None
        wait = self.retry_after(client_key(client[0], self.ipv6_prefix))
        return None if wait is None else Refusal(_refusal(wait), THROTTLED, counted=False)

    def _block(self, client: str, wait: float) -> None:
        blocked = self.blocked
        blocked[client] = self._clock() + wait
        blocked.move_to_end(client)
        if len(blocked) > self.max_clients:
            blocked.popitem(last=False)

    async def register(self, request: Request) -> TooManyRequests | None:
        """Count one failed security check for `request`'s client.

        Returns:
            The 429 to answer instead of the refusal when this failure is over the limit,
            else None.
        """
        address = request.remote_addr
        if address is None:
            return None
        client = client_key(address, self.ipv6_prefix)
        quota = Quota(f"security-failure|{client}", self.limit, self.window)
        try:
            (usage,) = await self._backend.hit([quota], force=True)
            if usage.retry_after > 0:
                self._block(client, usage.retry_after)
                await self._share(client, usage.retry_after)
        except StoreUnavailable as exc:
            # SECURITY: fail open; an outage of the shared store must not become a 500.
            log_security_event(
                "shared-storage-unavailable", request, level=logging.ERROR, reason=exc.reason
            )
            return None
        if usage.allowed:
            return None
        log_security_event(THROTTLED, request, status=429)
        return _refusal(usage.retry_after)


def _decode_blocks(raw: bytes | None) -> dict[str, float]:
    if raw is None:
        return {}
    try:
        decoded = decode_json(raw, max_depth=2)
    except BadRequest:  # a value that is not ours: treat it as no blocks
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {
        str(client): float(until)
        for client, until in decoded.items()
        if isinstance(until, int | float) and not isinstance(until, bool)
    }
