"""The cache: ``app.cache`` (`Cache`: memory L1, Redis L2, single-flight ``get_or_set``, tags
and prefixes) and ``@cached`` for handlers (`flasgo.cache.handler`)."""

from flasgo.cache.handler import cached
from flasgo.cache.memory import MemoryLayer
from flasgo.cache.redis import CacheUnavailable, RedisLayer
from flasgo.cache.tiered import Cache

__all__ = ["Cache", "CacheUnavailable", "MemoryLayer", "RedisLayer", "cached"]
