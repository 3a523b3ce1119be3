"""The cache an app's settings describe (``CACHE_*``, and ``REDIS_URL`` for the L2)."""

from __future__ import annotations

from flasgo.cache.redis import RedisLayer
from flasgo.cache.tiered import Cache
from flasgo.settings import Settings

__all__ = ["cache_from_settings"]


def cache_from_settings(settings: Settings) -> Cache:
    """A `Cache` with the ``CACHE_*`` settings; Redis-backed when ``REDIS_URL`` is set.

    Raises:
        ConfigurationError: ``REDIS_URL`` is set and redis-py is not installed.
    """
    url, timeout = settings.REDIS_URL, settings.REDIS_TIMEOUT_SECONDS
    l2 = RedisLayer.from_url(url, timeout=timeout) if url else None
    return Cache(
        l2,
        max_entries=settings.CACHE_MAX_ENTRIES,
        default_ttl=settings.CACHE_DEFAULT_TTL_SECONDS,
        l1_ttl=settings.CACHE_L1_TTL_SECONDS,
    )
