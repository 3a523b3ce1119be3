"""`Cache`: ``app.cache``, a bounded in-memory L1 in front of an optional Redis L2.

Reads try L1, then L2 (filling L1). `get_or_set` computes a missing value once for all
concurrent callers of the process (single-flight) and, with Redis, once across processes
(a lock in Redis; the others wait for the value). TTLs get jitter so that entries made
together do not expire together. With Redis, L1 keeps entries at most ``l1_ttl`` seconds,
which bounds how long another process's invalidation takes to be seen here. A Redis outage
is logged and the cache carries on from L1 (or computes): it never fails a caller.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar, overload

import msgspec

from flasgo.cache.memory import MemoryLayer
from flasgo.cache.redis import CacheUnavailable, RedisLayer

__all__ = ["Cache"]

T = TypeVar("T")
log = logging.getLogger("flasgo.cache")
_encode: Final = msgspec.json.Encoder().encode
_decode: Final = msgspec.json.Decoder().decode


class Cache:
    """A two-level cache of JSON-serialisable values.

    Args:
        l2: The shared Redis layer, or None for memory only.
        max_entries: The most L1 entries (least recently used out).
        default_ttl: Seconds an entry lives when `set` gets no ttl.
        jitter: Share of the TTL randomly taken off each entry (0 to 1).
        l1_ttl: With L2, the longest an entry stays in L1, in seconds.
        lock_ttl: With L2, how long one process may compute a value before others compute too.
        poll: With L2, seconds between looks for a value another process computes.
    """

    def __init__(
        self,
        l2: RedisLayer | None = None,
        *,
        max_entries: int = 10_000,
        default_ttl: float = 300.0,
        jitter: float = 0.1,
        l1_ttl: float = 5.0,
        lock_ttl: float = 30.0,
        poll: float = 0.05,
    ) -> None:
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be from 0 to below 1, got {jitter!r}")
        if not default_ttl > 0 or not l1_ttl > 0 or not lock_ttl > 0 or not poll > 0:
            raise ValueError("default_ttl, l1_ttl, lock_ttl and poll must be > 0")
        self.l1 = MemoryLayer(max_entries)
        self.l2 = l2
        self.default_ttl = float(default_ttl)
        self.jitter = float(jitter)
        self.l1_ttl = float(l1_ttl)
        self.lock_ttl = float(lock_ttl)
        self.poll = float(poll)
        self._flights: dict[str, asyncio.Future[bytes]] = {}

    # -- encoded values ----------------------------------------------------------------------

    def _ttl(self, ttl: float | None) -> float:
        base = self.default_ttl if ttl is None else float(ttl)
        if not base > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        return base * (1.0 - self.jitter * random.random())  # noqa: S311  # spread, not secrecy

    def _l1_ttl(self, ttl: float) -> float:
        return min(ttl, self.l1_ttl) if self.l2 is not None else ttl

    async def get_raw(self, key: str) -> bytes | None:
        """The encoded value of `key` (L1, then L2), or None."""
        raw = self.l1.get(key)
        if raw is not None or self.l2 is None:
            return raw
        try:
            raw = await self.l2.get(key)
        except CacheUnavailable:
            log.warning("cache-l2-unavailable get", exc_info=True)
            return None
        if raw is not None:
            # NOTE: L2 does not say how long the entry has left; L1 keeps it l1_ttl at most.
            self.l1.set(key, raw, self.l1_ttl)
        return raw

    async def set_raw(
        self, key: str, raw: bytes, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        """Store an encoded value in both levels for `ttl` seconds (jittered)."""
        lifetime = self._ttl(ttl)
        tagged = tuple(tags)
        self.l1.set(key, raw, self._l1_ttl(lifetime), tagged)
        if self.l2 is not None:
            try:
                await self.l2.set(key, raw, lifetime, tagged)
            except CacheUnavailable:
                log.warning("cache-l2-unavailable set", exc_info=True)

    # -- values ------------------------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default` when it is missing or expired."""
        raw = await self.get_raw(key)
        return default if raw is None else _decode(raw)

    async def set(
        self, key: str, value: Any, ttl: float | None = None, *, tags: Iterable[str] = ()
    ) -> None:
        """Store `value` (JSON-serialisable) under `key` for about `ttl` seconds.

        Args:
            key: The key.
            value: The value; what `get` returns is a decoded copy.
            ttl: Seconds (minus up to `jitter` of them); None uses `default_ttl`.
            tags: Names `invalidate_tag` can drop it by.

        Raises:
            TypeError: The value cannot be serialised.
        """
        await self.set_raw(key, _encode(value), ttl, tags)

    async def delete(self, key: str) -> None:
        """Drop `key` from both levels."""
        self.l1.delete(key)
        if self.l2 is not None:
            try:
                await self.l2.delete(key)
            except CacheUnavailable:
                log.warning("cache-l2-unavailable delete", exc_info=True)

    async def invalidate_tag(self, tag: str) -> None:
        """Drop every entry stored with `tag` (L1 here at once; other processes' L1 within
        ``l1_ttl``)."""
        self.l1.delete_tag(tag)
        if self.l2 is not None:
            await self.l2.delete_tag(tag)

    async def invalidate_prefix(self, prefix: str) -> None:
        """Drop every entry whose key starts with `prefix` (a scan of the keys)."""
        self.l1.delete_prefix(prefix)
        if self.l2 is not None:
            await self.l2.delete_prefix(prefix)

    @overload
    async def get_or_set(
        self,
        key: str,
        compute: Callable[[], Awaitable[T]],
        ttl: float | None = None,
        *,
        tags: Iterable[str] = (),
    ) -> T: ...
    @overload
    async def get_or_set(
        self,
        key: str,
        compute: Callable[[], T],
        ttl: float | None = None,
        *,
        tags: Iterable[str] = (),
    ) -> T: ...
    async def get_or_set(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: float | None = None,
        *,
        tags: Iterable[str] = (),
    ) -> Any:
        """The value of `key`; on a miss, ``compute()`` once for every concurrent caller.

        Args:
            key: The key.
            compute: A function or coroutine function making the value.
            ttl: As for `set`.
            tags: As for `set`.

        Raises:
            Exception: What `compute` raised (every waiting caller gets it; nothing is
                stored).
        """
        raw = await self.get_raw(key)
        if raw is None:
            flight = self._flights.get(key)
            if flight is not None:
                raw = await asyncio.shield(flight)
            else:
                raw = await self._lead(key, compute, ttl, tuple(tags))
        return _decode(raw)

    async def _lead(
        self,
        key: str,
        compute: Callable[[], Awaitable[Any] | Any],
        ttl: float | None,
        tags: tuple[str, ...],
    ) -> bytes:
        flight: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        # NOTE: nobody may be waiting; reading the exception keeps asyncio from logging it.
        flight.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._flights[key] = flight
        try:
            raw = await self._compute_shared(key, compute, ttl, tags)
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(raw)
            return raw
        finally:
            del self._flights[key]

    async def _compute_shared(
        self,
        key: str,
        compute: Callable[[], Awaitable[Any] | Any],
        ttl: float | None,
        tags: tuple[str, ...],
    ) -> bytes:
        l2 = self.l2
        token: str | bytes | None = None
        if l2 is not None:
            try:
                token = await self._lock_or_wait(l2, key)
            except CacheUnavailable:
                log.warning("cache-l2-unavailable lock", exc_info=True)
            if isinstance(token, bytes):
                return token
        try:
            value = compute()
            if inspect.isawaitable(value):
                value = await value
            raw = _encode(value)
            await self.set_raw(key, raw, ttl, tags)
            return raw
        finally:
            if l2 is not None and isinstance(token, str):
                try:
                    await l2.unlock(key, token)
                except CacheUnavailable:
                    log.warning("cache-l2-unavailable unlock", exc_info=True)

    async def _lock_or_wait(self, l2: RedisLayer, key: str) -> str | bytes | None:
        # Returns our lock token, the value another process stored, or None (computing
        # without the lock once lock_ttl passed).
        deadline = time.monotonic() + self.lock_ttl
        while time.monotonic() < deadline:
            token = await l2.lock(key, self.lock_ttl)
            if token is not None:
                return token
            await asyncio.sleep(self.poll)
            raw = await l2.get(key)
            if raw is not None:
                self.l1.set(key, raw, self.l1_ttl)
                return raw
        return None

    async def close(self) -> None:
        """Close the Redis layer's client (if it made it) and empty L1."""
        self.l1.clear()
        if self.l2 is not None:
            await self.l2.close()
