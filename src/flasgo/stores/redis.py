"""`RedisStore`: a `Store` on Redis through ``redis.asyncio`` (the ``flasgo[redis]`` extra).

Keys are SHA-256 hashed under a namespace, so a client-chosen key can neither collide with
another one nor smuggle anything into the key space (CVE-2026-25480 class). Compare-and-set
is one Lua script, atomic on the server. Every Redis error and every call that takes longer
than `timeout` becomes `StoreUnavailable` (a 503), never a hang or a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from flasgo.exceptions import ConfigurationError
from flasgo.stores.base import StoreUnavailable, check_ttl

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

log = logging.getLogger("flasgo.stores")

_T = TypeVar("_T")
_is_namespace = re.compile(r"[A-Za-z0-9_.:-]{1,64}").fullmatch

# KEYS[1] the key; ARGV: "1" when the key must be absent else "0", the expected value, the
# new value, the TTL in seconds ("" for none).
_CAS_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
end
return 1
"""


def _import_redis() -> ModuleType:
    try:
        import redis.asyncio
    except ImportError:
        raise ConfigurationError(
            "RedisStore needs redis-py, which is not installed; pip install 'flasgo[redis]'"
        ) from None
    return redis


class RedisStore:
    """A `Store` backed by a ``redis.asyncio.Redis`` client.

    Args:
        client: The client; it must return bytes (``decode_responses=False``).
        namespace: Prefix of every key (``<namespace>:<sha256 hex>``).
        timeout: Seconds each operation may take before `StoreUnavailable` is raised.
        max_value_bytes: The largest value `set`/`compare_and_set` accept.

    Raises:
        ConfigurationError: redis-py is not installed, or an option is invalid.
    """

    __slots__ = (
        "_cas",
        "_client",
        "_errors",
        "_owns_client",
        "max_value_bytes",
        "namespace",
        "timeout",
    )

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "flasgo",
        timeout: float = 2.0,
        max_value_bytes: int = 65_536,
    ) -> None:
        redis = _import_redis()
        if type(namespace) is not str or not _is_namespace(namespace):
            raise ConfigurationError(
                f"namespace must be 1-64 characters of A-Z a-z 0-9 _ . : -, got {namespace!r}"
            )
        if type(timeout) not in (int, float) or not timeout > 0:
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
        if type(max_value_bytes) is not int or max_value_bytes < 1:
            raise ConfigurationError(
                f"max_value_bytes must be a positive int, got {max_value_bytes!r}"
            )
        self._client = client
        self.namespace = namespace
        self.timeout = float(timeout)
        self.max_value_bytes = max_value_bytes
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._cas = client.register_script(_CAS_SCRIPT)
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """Connect to the Redis server at `url` (``redis://``, ``rediss://``, ``unix://``).

        The store owns the client it creates; `close` closes it.

        Args:
            url: The server URL, e.g. the ``REDIS_URL`` setting.
            **options: `RedisStore` options (`namespace`, `timeout`, `max_value_bytes`).

        Raises:
            ConfigurationError: redis-py is not installed, or the URL or an option is invalid.
        """
        redis = _import_redis()
        timeout = options.get("timeout", 2.0)
        try:
            client = redis.asyncio.Redis.from_url(
                url,
                decode_responses=False,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
        except ValueError:
            # SECURITY: the URL may hold a password; it is never echoed.
            raise ConfigurationError(
                "The Redis URL is invalid; use redis://[:password@]host[:port][/db], "
                "rediss://... or unix:///path"
            ) from None
        store = cls(client, **options)
        store._owns_client = True
        return store

    def key_for(self, key: str) -> str:
        """The Redis key that stores `key` (namespaced, hashed: any text is safe)."""
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.namespace}:{digest}"

    def _check_value(self, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError(f"store values must be bytes, got {type(value).__name__}")
        if len(value) > self.max_value_bytes:
            raise ValueError(
                f"The value is {len(value)} bytes, over max_value_bytes={self.max_value_bytes}"
            )

    async def _run(self, operation: str, call: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self.timeout):
                return await call
        except self._errors as exc:
            # NOTE: TimeoutError (ours or redis-py's) lands here too.
            reason = f"Redis {operation} failed: {type(exc).__name__}"
            # One line per failed call, without the URL (it may hold a password).
            log.error("store-unavailable namespace=%s %s", self.namespace, reason)
            raise StoreUnavailable(reason) from exc

    async def get(self, key: str) -> bytes | None:
        """Return the value of `key`, or None when it is missing or expired.

        Raises:
            StoreUnavailable: Redis failed or timed out.
        """
        value = await self._run("GET", self._client.get(self.key_for(key)))
        if value is None or isinstance(value, bytes):
            return value
        return str(value).encode("utf-8")  # a client built with decode_responses=True

    async def set(self, key: str, value: bytes, *, ttl: int | None = None) -> None:
        """Store `value` under `key` for `ttl` seconds (forever when None).

        Raises:
            StoreUnavailable: Redis failed or timed out.
            ValueError: `ttl` is invalid or `value` is over `max_value_bytes`.
        """
        check_ttl(ttl)
        self._check_value(value)
        await self._run("SET", self._client.set(self.key_for(key), value, ex=ttl))

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error.

        Raises:
            StoreUnavailable: Redis failed or timed out.
        """
        await self._run("DEL", self._client.delete(self.key_for(key)))

    async def compare_and_set(
        self, key: str, expected: bytes | None, value: bytes, *, ttl: int | None = None
    ) -> bool:
        """Atomically store `value` if `key` holds `expected` (None: the key is absent).

        Returns:
            Whether the value was stored.

        Raises:
            StoreUnavailable: Redis failed or timed out.
            ValueError: `ttl` is invalid or `value` is over `max_value_bytes`.
        """
        check_ttl(ttl)
        self._check_value(value)
        args: list[bytes | str] = [
            "1" if expected is None else "0",
            b"" if expected is None else expected,
            value,
            "" if ttl is None else str(ttl),
        ]
        result = await self._run("EVALSHA", self._cas(keys=[self.key_for(key)], args=args))
        return bool(result == 1)

    async def close(self) -> None:
        """Close the client if `from_url` created it (a client passed in is left open)."""
        if self._owns_client:
            await self._run("close", self._client.aclose())
