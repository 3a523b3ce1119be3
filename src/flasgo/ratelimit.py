"""Rate limiting: `rate_limit` rules on handlers, and sliding-window counters to enforce them.

A rule allows `requests` per `window_seconds` for each key: the client IP (an IPv6 client by
its network, see `flasgo.clientkey`), or what the rule's
`key_func` returns. Counting uses a sliding-window counter: two fixed buckets per key (the
current window-long bucket and the one before it), the previous one weighted by how much of
it the sliding window still covers. A check is O(1) in time and memory whatever the quota (no
list of timestamps), at the price of assuming the previous bucket's requests were spread
evenly over it. `RateLimiter` keeps the counters in memory (bounded, LRU), `RedisRateLimiter`
in Redis (one atomic Lua script, shared by every worker).

The compiler gathers each endpoint's rules once, at startup (`route_rules`, then
`EndpointLimits`); routes without rules pay nothing per request.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from flasgo.clientkey import client_key
from flasgo.concurrency import is_async_callable
from flasgo.exceptions import ConfigurationError, TooManyRequests
from flasgo.jsonenc import encode_json
from flasgo.security.events import log_security_event
from flasgo.stores import StoreUnavailable

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.response import Response
    from flasgo.stores.redis import RedisStore

__all__ = [
    "EndpointLimits",
    "Quota",
    "RateLimitBackend",
    "RateLimitExceeded",
    "RateLimitRule",
    "RateLimiter",
    "RedisRateLimiter",
    "Usage",
    "default_backend",
    "rate_limit",
    "route_rules",
    "rules_of",
    "seconds",
]

F = TypeVar("F", bound=Callable[..., Any])

_RULES_ATTRIBUTE = "__flasgo_rate_limits__"
_DETAIL = "Too many requests from this client. Wait before retrying."
# NOTE: estimates are fractional; this keeps "exactly at the limit" from failing on rounding.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """At most `requests` requests per `window_seconds` for each client key.

    Args:
        requests: How many requests the window allows, at least 1.
        window_seconds: The window's length in seconds (> 0).
        scope: The bucket's name; routes whose rules share a scope (and the same numbers)
            share one bucket per key. Defaults to the endpoint name (one bucket per route).
        key_func: ``key_func(request)`` returning the key to count against (an API key, a
            user id). Sync functions run in the thread pool, async ones are awaited. When it
            returns None or ``""`` the client IP is used.

    Raises:
        ConfigurationError: A value is out of range.
    """

    requests: int
    window_seconds: float
    scope: str | None = None
    key_func: Callable[[Request], Any] | None = None

    def __post_init__(self) -> None:
        if type(self.requests) is not int or self.requests < 1:
            raise ConfigurationError(
                f"A rate limit needs a positive int number of requests, got {self.requests!r}"
            )
        window = self.window_seconds
        if type(window) not in (int, float) or not 0 < window < math.inf:
            raise ConfigurationError(
                f"A rate limit window must be a positive number of seconds, got {window!r}"
            )
        if self.scope is not None and (type(self.scope) is not str or not self.scope):
            raise ConfigurationError(f"scope must be a non-empty str or None, got {self.scope!r}")
        if self.key_func is not None and not callable(self.key_func):
            raise ConfigurationError(f"key_func must be callable, got {self.key_func!r}")


def rate_limit(
    requests: int,
    per: float = 60.0,
    *,
    scope: str | None = None,
    key_func: Callable[[Request], Any] | None = None,
) -> Callable[[F], F]:
    """Limit a handler to `requests` per `per` seconds for each client (above or below
    ``@app.get`` and friends; stack several for several windows).

    Args:
        requests: Requests allowed per window.
        per: The window in seconds.
        scope: Share the bucket with other routes using this scope (see `RateLimitRule`).
        key_func: What to count against instead of the client IP (see `RateLimitRule`).

    Raises:
        ConfigurationError: A value is out of range.
    """
    rule = RateLimitRule(requests, per, scope, key_func)

    def decorator(func: F) -> F:
        try:
            setattr(func, _RULES_ATTRIBUTE, (*rules_of(func), rule))
        except AttributeError:
            raise TypeError(
                f"rate_limit cannot annotate {func!r}; decorate the function itself"
            ) from None
        return func

    return decorator


def rules_of(func: Callable[..., Any]) -> tuple[RateLimitRule, ...]:
    """The rules `rate_limit` put on `func`."""
    rules: tuple[RateLimitRule, ...] = getattr(func, _RULES_ATTRIBUTE, ())
    return rules


# -- the sliding-window counter ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quota:
    """One bucket to count a request against: `limit` per `window` seconds under `key`."""

    key: str
    limit: int
    window: float


@dataclass(frozen=True, slots=True)
class Usage:
    """Where a key stands against its quota once a request was (or was not) counted.

    Attributes:
        limit: The quota.
        remaining: Requests that would still be allowed now.
        reset: Seconds until a request is allowed again when `remaining` is 0, else until
            the current bucket ends.
        retry_after: Seconds until one more request fits (0 when one fits now).
        allowed: Whether this request was within every quota of its check.
    """

    limit: int
    remaining: int
    reset: float
    retry_after: float
    allowed: bool


def _estimate(window: float, now: float, previous: int, current: int) -> float:
    start = (now // window) * window
    return previous * (1.0 - (now - start) / window) + current


def _wait(limit: int, window: float, now: float, previous: int, current: int) -> float:
    """Seconds until the estimate leaves room for one more request."""
    start = (now // window) * window
    room = limit - 1
    if previous * (1.0 - (now - start) / window) + current <= room + _EPSILON:
        return 0.0
    if current <= room:
        # The previous bucket's weight has to fall far enough inside the current bucket
        # (previous > 0 here, or the estimate would already fit).
        fraction = 1.0 - (room - current) / previous
        return max(start + fraction * window - now, 0.0)
    # Only in the next bucket, where today's count becomes the weighted previous one.
    fraction = 1.0 - room / current
    return max(start + window + fraction * window - now, 0.0)


def _fits(quota: Quota, now: float, previous: int, current: int) -> bool:
    return _estimate(quota.window, now, previous, current) + 1 <= quota.limit + _EPSILON


def _usage(quota: Quota, now: float, previous: int, current: int, allowed: bool) -> Usage:
    limit, window = quota.limit, quota.window
    used = _estimate(window, now, previous, current)
    remaining = max(0, math.floor(limit - used + _EPSILON))
    wait = _wait(limit, window, now, previous, current)
    reset = wait if remaining == 0 else (now // window + 1) * window - now
    return Usage(limit, remaining, reset, wait, allowed)


def seconds(value: float) -> int:
    """A wait as whole seconds for a header: rounded up, at least 1 when there is a wait."""
    return math.ceil(value - _EPSILON) if value > _EPSILON else 0


class RateLimitBackend(Protocol):
    """Where counters live: `RateLimiter` (memory) or `RedisRateLimiter` (shared)."""

    async def hit(self, quotas: Sequence[Quota], *, force: bool = False) -> list[Usage]:
        """Count one request against every quota if it fits all of them, atomically.

        Args:
            quotas: The buckets to count against.
            force: Count it even when it does not fit (the security-failure throttle).

        Returns:
            One `Usage` per quota, in order; ``allowed`` is the same for all of them.

        Raises:
            StoreUnavailable: Shared storage failed (callers let the request through).
        """
        ...


class RateLimiter:
    """Sliding-window counters in this process for at most `max_keys` keys.

    When full, the least recently used key is forgotten: its client starts afresh (fails
    open) rather than anybody being refused for lack of room.

    Args:
        max_keys: The most keys (rule x client) tracked, at least 1.
        clock: Monotonic seconds (tests pass a fake clock).

    Raises:
        ConfigurationError: `max_keys` is not a positive int.
    """

    __slots__ = ("_clock", "_counters", "max_keys")

    def __init__(
        self, max_keys: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if type(max_keys) is not int or max_keys < 1:
            raise ConfigurationError(f"max_keys must be a positive int, got {max_keys!r}")
        self.max_keys = max_keys
        self._clock = clock
        # key -> [bucket index, previous bucket's count, current bucket's count]
        self._counters: OrderedDict[str, list[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counters)

    def _counter(self, quota: Quota, now: float) -> list[int]:
        index = int(now // quota.window)
        counters = self._counters
        counter = counters.get(quota.key)
        if counter is None:
            counter = counters[quota.key] = [index, 0, 0]
            if len(counters) > self.max_keys:
                counters.popitem(last=False)
            return counter
        counters.move_to_end(quota.key)
        shift = index - counter[0]
        if shift:
            counter[0], counter[1], counter[2] = index, counter[2] if shift == 1 else 0, 0
        return counter

    async def hit(self, quotas: Sequence[Quota], *, force: bool = False) -> list[Usage]:
        """Count one request against every quota if it fits all of them (see the protocol)."""
        # NOTE: nothing here awaits, so the check and the count are atomic on the loop.
        now = self._clock()
        counters = [self._counter(quota, now) for quota in quotas]
        allowed = all(
            _fits(quota, now, counter[1], counter[2])
            for quota, counter in zip(quotas, counters, strict=True)
        )
        if allowed or force:
            for counter in counters:
                counter[2] += 1
        return [
            _usage(quota, now, counter[1], counter[2], allowed)
            for quota, counter in zip(quotas, counters, strict=True)
        ]


# KEYS: for each quota its current bucket's key, then its previous bucket's key.
# ARGV[1]: "1" to count even when over a limit; then for each quota: the limit, the weight
# of the previous bucket (how much of it the sliding window still covers), the TTL in ms.
# Returns {fits (1/0), previous count, current count, ...}: the counts after counting.
_HIT_SCRIPT = """
local n = #KEYS / 2
local counts = {}
local fits = 1
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  counts[2 * i - 1] = previous
  counts[2 * i] = current
  local estimate = previous * tonumber(ARGV[3 * i]) + current
  if estimate + 1 > tonumber(ARGV[3 * i - 1]) + 1e-9 then fits = 0 end
end
if fits == 1 or ARGV[1] == '1' then
  for i = 1, n do
    counts[2 * i] = redis.call('INCR', KEYS[2 * i - 1])
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[3 * i + 1])
  end
end
table.insert(counts, 1, fits)
return counts
"""


class RedisRateLimiter:
    """Sliding-window counters in Redis, shared by every worker using the same store.

    Each quota is two keys (one per bucket, expiring after two windows), hashed under the
    store's namespace; the check and the count are one Lua script, atomic on the server.
    Buckets are aligned on the wall clock, so workers on several hosts need synchronised
    clocks (NTP) to agree on them.

    Args:
        store: The `RedisStore` whose client, namespace and timeout are used.
        clock: Wall-clock seconds (tests pass a fake clock).
    """

    __slots__ = ("_clock", "_script", "store")

    def __init__(self, store: RedisStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._script = store._client.register_script(_HIT_SCRIPT)

    @classmethod
    def from_url(
        cls, url: str, *, namespace: str = "flasgo.ratelimit", timeout: float = 2.0
    ) -> RedisRateLimiter:
        """Connect to the Redis server at `url` (the ``REDIS_URL`` setting); each call may
        take `timeout` seconds (``REDIS_TIMEOUT_SECONDS``).

        Raises:
            ConfigurationError: redis-py is not installed, or the URL is invalid.
        """
        from flasgo.stores.redis import RedisStore

        return cls(RedisStore.from_url(url, namespace=namespace, timeout=timeout))

    async def hit(self, quotas: Sequence[Quota], *, force: bool = False) -> list[Usage]:
        """Count one request against every quota if it fits all of them (see the protocol).

        Raises:
            StoreUnavailable: Redis failed or timed out.
        """
        store, now = self.store, self._clock()
        keys: list[str] = []
        args: list[str] = ["1" if force else "0"]
        for quota in quotas:
            index = int(now // quota.window)
            keys.append(store.key_for(f"{quota.key}|{index}"))
            keys.append(store.key_for(f"{quota.key}|{index - 1}"))
            weight = 1.0 - (now - index * quota.window) / quota.window
            ttl = math.ceil(2 * quota.window * 1000)
            args.extend((str(quota.limit), repr(weight), str(ttl)))
        reply = await store._run("EVALSHA", self._script(keys=keys, args=args))
        allowed = int(reply[0]) == 1
        return [
            _usage(quota, now, int(reply[2 * i + 1]), int(reply[2 * i + 2]), allowed)
            for i, quota in enumerate(quotas)
        ]

    async def close(self) -> None:
        """Close the store's client if the store created it."""
        await self.store.close()


# -- the pipeline's side ----------------------------------------------------------------------


class RateLimitExceeded(TooManyRequests):
    """429 from a rate limit: a JSON body, ``Retry-After`` and the ``RateLimit-*`` headers."""

    def __init__(self, usage: Usage) -> None:
        headers = {"retry-after": str(max(1, seconds(usage.retry_after))), **_headers(usage)}
        super().__init__(_DETAIL, headers)

    def render(self) -> tuple[bytes, str]:
        """The upstream 429 body: ``{"error": "too_many_requests", "detail": ...}``."""
        return encode_json({"error": "too_many_requests", "detail": self.detail}), (
            "application/json"
        )


def _headers(usage: Usage) -> dict[str, str]:
    limit, remaining, reset = str(usage.limit), str(usage.remaining), str(seconds(usage.reset))
    return {
        "ratelimit-limit": limit,
        "ratelimit-remaining": remaining,
        "ratelimit-reset": reset,
        "x-ratelimit-limit": limit,
        "x-ratelimit-remaining": remaining,
        "x-ratelimit-reset": reset,
    }


def stamp(response: Response, usage: Usage) -> None:
    """Add the ``RateLimit-*`` headers of `usage` (the response's own values win)."""
    for name, value in _headers(usage).items():
        response.headers.setdefault(name, value)


class EndpointLimits:
    """An endpoint's rules compiled once: the bucket names, key functions and backend.

    Args:
        endpoint: The endpoint name (the bucket name of rules without a scope).
        rules: The rules, at least one.
        backend: Where the counters live.
        run_sync: Runs a sync key function off the loop (the app's thread pool).
        ipv6_prefix: Leading bits of an IPv6 address that name one client (see
            `flasgo.clientkey`).
    """

    __slots__ = ("_backend", "_checks", "_ipv6_prefix", "_run_sync")

    def __init__(
        self,
        endpoint: str,
        rules: Sequence[RateLimitRule],
        backend: RateLimitBackend,
        run_sync: Callable[..., Any],
        *,
        ipv6_prefix: int = 64,
    ) -> None:
        self._backend = backend
        self._ipv6_prefix = ipv6_prefix
        self._run_sync = run_sync
        self._checks = tuple(
            (
                f"rl|{rule.scope or endpoint}|{rule.requests}/{rule.window_seconds}|",
                rule,
                rule.key_func is not None and is_async_callable(rule.key_func),
            )
            for rule in rules
        )

    async def _key(self, request: Request, rule: RateLimitRule, is_async: bool) -> str | None:
        key_func = rule.key_func
        if key_func is not None:
            key = await key_func(request) if is_async else await self._run_sync(key_func, request)
            if key is not None and key != "":
                return f"k:{key}"
        # NOTE: a client without an IP (a Unix socket with no proxy information) is not
        # counted, as the security-failure throttle does: one shared "unknown" bucket
        # would let any such client lock all the others out.
        address = request.remote_addr
        return None if address is None else f"ip:{client_key(address, self._ipv6_prefix)}"

    async def enforce(self, request: Request) -> Usage | None:
        """Count `request` against every rule.

        Returns:
            The most restrictive rule's `Usage` (for the response headers), or None when no
            rule applied or shared storage failed (the request goes through).

        Raises:
            RateLimitExceeded: A rule has no room left; nothing was counted.
        """
        quotas: list[Quota] = []
        for prefix, rule, is_async in self._checks:
            key = await self._key(request, rule, is_async)
            if key is not None:
                quotas.append(Quota(prefix + key, rule.requests, rule.window_seconds))
        if not quotas:
            return None
        try:
            usages = await self._backend.hit(quotas)
        except StoreUnavailable as exc:
            # SECURITY: fail open. A storage outage must not take the whole API down.
            log_security_event(
                "shared-storage-unavailable", request, level=logging.ERROR, reason=exc.reason
            )
            return None
        if usages[0].allowed:
            return min(usages, key=lambda usage: (usage.remaining, -usage.reset))
        log_security_event("rate-limit-exceeded", request, status=429)
        raise RateLimitExceeded(max(usages, key=lambda usage: usage.retry_after))


def default_backend(redis_url: str | None, timeout: float = 2.0) -> RateLimitBackend:
    """The backend used when the app was given none: Redis with ``REDIS_URL``, else memory."""
    return RedisRateLimiter.from_url(redis_url, timeout=timeout) if redis_url else RateLimiter()


def route_rules(
    func: Callable[..., Any], scopes: Iterable[object], *, rule: str, websocket: bool
) -> tuple[RateLimitRule, ...]:
    """A route's rules: its scopes' ``rate_limits`` (outermost first), then its handler's.

    Raises:
        ConfigurationError: A WebSocket handler has rate limits.
    """
    own = rules_of(func)
    if websocket:
        if own:
            raise ConfigurationError(
                f"Rate limits apply to HTTP routes; remove them from the WebSocket route {rule!r}."
            )
        return ()
    inherited = (limit for scope in scopes for limit in getattr(scope, "rate_limits", ()))
    return (*inherited, *own)
