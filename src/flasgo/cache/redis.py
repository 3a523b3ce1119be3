"""`RedisLayer`: the cache's shared L2 on Redis (the ``flasgo[redis]`` extra).

Keys are ``<namespace>:v:<key>`` (readable, so prefixes can be invalidated with SCAN; the
namespace keeps them apart from other data); a tag is a set ``<namespace>:t:<tag>`` of its
keys. The cross-process single-flight lock is ``<namespace>:l:<key>`` set with NX and an
expiry. Every Redis error or timeout becomes `CacheUnavailable`; the cache then answers from
L1 or computes (a cache outage never fails a request).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from flasgo.exceptions import ConfigurationError, FlasgoError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["CacheUnavailable", "RedisLayer"]

_T = TypeVar("_T")
_GLOB_SPECIALS = "\\*?[]"

# KEYS[1] the lock; ARGV[1] the token: delete the lock only if it is still ours.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class CacheUnavailable(FlasgoError):
    """Redis failed or timed out (the cache carries on without L2)."""


class RedisLayer:
    """The shared cache layer.

    Args:
        client: A ``redis.asyncio.Redis`` returning bytes.
        namespace: The prefix of every key.
        timeout: Seconds each call may take.
    """

    def __init__(self, client: Redis, *, namespace: str = "flasgo:cache", timeout: float = 1.0):
        try:
            import redis
        except ImportError:  # pragma: no cover - the client passed in needs it already
            raise ConfigurationError(
                "The Redis cache needs redis-py; pip install 'flasgo[redis]'"
            ) from None
        self._client = client
        self.namespace = namespace
        self.timeout = timeout
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)
        self._unlock = client.register_script(_UNLOCK)
        self.owns_client = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisLayer:
        """Connect to `url`; the layer owns (and closes) the client."""
        try:
            import redis.asyncio
        except ImportError:
            raise ConfigurationError(
                "The Redis cache needs redis-py, which is not installed; "
                "pip install 'flasgo[redis]'"
            ) from None
        timeout = options.get("timeout", 1.0)
        client = redis.asyncio.Redis.from_url(
            url, decode_responses=False, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        layer = cls(client, **options)
        layer.owns_client = True
        return layer

    def _key(self, key: str) -> str:
        return f"{self.namespace}:v:{key}"

    def _tag(self, tag: str) -> str:
        return f"{self.namespace}:t:{tag}"

    async def _run(self, call: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self.timeout):
                return await call
        except self._errors as exc:
            raise CacheUnavailable(f"Redis cache call failed: {type(exc).__name__}") from exc

    async def get(self, key: str) -> bytes | None:
        """The value of `key`, or None."""
        value = await self._run(self._client.get(self._key(key)))
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        """Store `value` for `ttl` seconds and file it under `tags`."""
        milliseconds = max(1, int(ttl * 1000))
        pipe = self._client.pipeline(transaction=True)
        pipe.set(self._key(key), value, px=milliseconds)
        for tag in tags:
            pipe.sadd(self._tag(tag), key)
        await self._run(pipe.execute())

    async def delete(self, key: str) -> None:
        """Drop `key`."""
        await self._run(self._client.delete(self._key(key)))

    async def delete_tag(self, tag: str) -> int:
        """Drop every key filed under `tag`; how many."""
        keys = await self._run(self._client.smembers(self._tag(tag)))
        names = [self._key(key.decode() if isinstance(key, bytes) else key) for key in keys]
        await self._run(self._client.delete(self._tag(tag), *names))
        return len(names)

    async def delete_prefix(self, prefix: str) -> int:
        """Drop every key that starts with `prefix`; how many (SCAN, so O(keyspace))."""
        pattern = self._key("".join("\\" + c if c in _GLOB_SPECIALS else c for c in prefix))
        count = 0
        batch: list[bytes] = []
        async for name in self._client.scan_iter(match=pattern + "*", count=500):
            batch.append(name)
            if len(batch) >= 500:
                count += await self._run(self._client.unlink(*batch))
                batch = []
        if batch:
            count += await self._run(self._client.unlink(*batch))
        return count

    async def lock(self, key: str, ttl: float) -> str | None:
        """Take the single-flight lock of `key` for `ttl` seconds; its token, or None."""
        token = secrets.token_hex(8)
        taken = await self._run(
            self._client.set(f"{self.namespace}:l:{key}", token, nx=True, px=int(ttl * 1000))
        )
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        """Release the lock if it is still ours."""
        await self._run(self._unlock(keys=[f"{self.namespace}:l:{key}"], args=[token]))

    async def close(self) -> None:
        """Close the client if this layer made it."""
        if self.owns_client:
            await self._client.aclose()
