"""`MemoryStore`: a bounded in-process key-value store with TTLs and LRU eviction.

For one process only (tests, development, single-worker apps): every worker has its own copy.
It is meant to be used from the event loop; no method awaits, so each one is atomic there.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from flasgo.stores.base import check_ttl

__all__ = ["MemoryStore"]


class MemoryStore:
    """An in-memory `Store` holding at most `max_keys` keys.

    When full, the least recently used key is evicted; expired keys are dropped when touched.

    Args:
        max_keys: The most keys kept, at least 1.
        clock: Monotonic seconds (tests pass a fake clock).

    Raises:
        ValueError: `max_keys` is not a positive int.
    """

    __slots__ = ("_clock", "_items", "max_keys")

    def __init__(self, max_keys: int = 10_000, *, clock: Callable[[], float] = time.monotonic):
        if type(max_keys) is not int or max_keys < 1:
            raise ValueError(f"max_keys must be a positive int, got {max_keys!r}")
        self.max_keys = max_keys
        self._clock = clock
        self._items: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def _live(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        value, deadline = item
        if deadline is not None and self._clock() >= deadline:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def _store(self, key: str, value: bytes, ttl: int | None) -> None:
        check_ttl(ttl)
        if not isinstance(value, bytes):
            raise TypeError(f"store values must be bytes, got {type(value).__name__}")
        items = self._items
        items[key] = (value, None if ttl is None else self._clock() + ttl)
        items.move_to_end(key)
        while len(items) > self.max_keys:
            items.popitem(last=False)

    async def get(self, key: str) -> bytes | None:
        """Return the value of `key`, or None when it is missing or expired."""
        return self._live(key)

    async def set(self, key: str, value: bytes, *, ttl: int | None = None) -> None:
        """Store `value` under `key` for `ttl` seconds (forever when None).

        Raises:
            ValueError: `ttl` is not None or a positive int.
            TypeError: `value` is not bytes.
        """
        self._store(key, value, ttl)

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        self._items.pop(key, None)

    async def compare_and_set(
        self, key: str, expected: bytes | None, value: bytes, *, ttl: int | None = None
    ) -> bool:
        """Store `value` if `key` currently holds `expected` (None: the key is absent).

        Returns:
            Whether the value was stored.
        """
        if self._live(key) != expected:
            return False
        self._store(key, value, ttl)
        return True

    async def close(self) -> None:
        """Drop every key."""
        self._items.clear()
