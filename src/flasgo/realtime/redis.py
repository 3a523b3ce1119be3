"""`RedisBroker`: channels shared by every worker through Redis pub/sub (``flasgo[redis]``).

Each worker publishes with ``PUBLISH <prefix><room>`` and listens on one pattern
subscription (``PSUBSCRIBE <prefix>*``), handing what arrives to its own `Channels`. When
the connection to Redis is lost the listener reconnects with exponential backoff. Pub/sub
keeps nothing: a message published while a worker is disconnected never reaches that
worker's clients, and `publish` raises `StoreUnavailable` while Redis is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import ModuleType

from flasgo.exceptions import ConfigurationError
from flasgo.stores import StoreUnavailable

__all__ = ["RedisBroker"]

log = logging.getLogger("flasgo.websocket")

_PREFIX = "flasgo:channel:"

# What `Channels` hands the broker: called with each (room, payload) that arrives.
Deliver = Callable[[str, bytes], None]


def _import_redis() -> ModuleType:
    try:
        import redis.asyncio
    except ImportError:
        raise ConfigurationError(
            "Channels over REDIS_URL need redis-py, which is not installed; "
            "pip install 'flasgo[redis]'"
        ) from None
    return redis


class RedisBroker:
    """Publish and receive room messages through Redis pub/sub.

    Args:
        url: The Redis URL (the ``REDIS_URL`` setting).
        prefix: The channel name prefix (one app's rooms apart from another's).
        timeout: Seconds for connecting and for each PUBLISH.
        backoff: The first and the longest wait between reconnection attempts.

    Raises:
        ConfigurationError: redis-py is not installed or the URL is invalid.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = _PREFIX,
        timeout: float = 2.0,
        backoff: tuple[float, float] = (0.05, 5.0),
    ) -> None:
        redis = _import_redis()
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        try:
            self._client = redis.asyncio.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            # NOTE: no read timeout on the listener: an idle subscription is not an error.
            self._listener = redis.asyncio.Redis.from_url(
                url, socket_timeout=None, socket_connect_timeout=timeout
            )
        except ValueError:
            # SECURITY: the URL may hold a password; it is never echoed.
            raise ConfigurationError(
                "REDIS_URL is invalid; use redis://[:password@]host[:port][/db], "
                "rediss://... or unix:///path"
            ) from None
        self._prefix = prefix
        self._backoff = backoff
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @classmethod
    def from_url(cls, url: str) -> RedisBroker:
        """A broker for the server at `url`."""
        return cls(url)

    async def start(self, deliver: Deliver) -> None:
        """Subscribe, and wait until the subscription is in place.

        Raises:
            StoreUnavailable: Redis did not answer within the timeout.
        """
        if self._task is None:
            self._task = asyncio.create_task(self._listen(deliver))
        try:
            async with asyncio.timeout(self._backoff[1] + 1.0):
                await self._subscribed.wait()
        except TimeoutError:
            raise StoreUnavailable("Redis pub/sub is unavailable") from None

    async def publish(self, room: str, payload: bytes) -> None:
        """``PUBLISH`` `payload` to `room`.

        Raises:
            StoreUnavailable: Redis could not be reached; the message is lost.
        """
        try:
            await self._client.publish(self._prefix + room, payload)
        except self._errors as exc:
            raise StoreUnavailable("Redis pub/sub is unavailable") from exc

    async def close(self) -> None:
        """Stop listening and close both connections."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait((task,))
        self._subscribed.clear()
        await self._client.aclose()
        await self._listener.aclose()

    async def _listen(self, deliver: Deliver) -> None:
        delay = self._backoff[0]
        start = len(self._prefix)
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self._subscribed.set()
                delay = self._backoff[0]
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        channel: bytes = message["channel"]
                        deliver(channel[start:].decode(), message["data"])
            except self._errors as exc:
                self._subscribed.clear()
                log.warning("redis-pubsub-lost error=%s retry_in=%.2fs", type(exc).__name__, delay)
            finally:
                with contextlib.suppress(*self._errors):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    def __repr__(self) -> str:
        return f"RedisBroker(prefix={self._prefix!r})"

    @property
    def is_subscribed(self) -> bool:
        """Whether the listener is subscribed right now."""
        return self._subscribed.is_set()
