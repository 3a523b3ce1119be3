"""Key-value stores for server-side state: the `Store` protocol and `StoreUnavailable`.

`MemoryStore` (one process, bounded, LRU) and `RedisStore` (shared, ``flasgo[redis]``)
implement it. Keys are str, values bytes; a store never interprets either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flasgo.stores.base import Store, StoreUnavailable, check_ttl

if TYPE_CHECKING:
    from flasgo.stores.memory import MemoryStore
    from flasgo.stores.redis import RedisStore

__all__ = ["MemoryStore", "RedisStore", "Store", "StoreUnavailable", "check_ttl"]


def __getattr__(name: str) -> Any:
    # NOTE: lazy, so `import flasgo.stores` never imports redis-py.
    if name == "MemoryStore":
        from flasgo.stores.memory import MemoryStore

        return MemoryStore
    if name == "RedisStore":
        from flasgo.stores.redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
