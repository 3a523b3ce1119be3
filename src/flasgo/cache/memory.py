"""`MemoryLayer`: the cache's bounded in-process L1 (least recently used out, TTLs, tags).

Values are stored encoded (bytes), so what a caller gets can be changed without changing the
cache, and L1 and L2 give back the same thing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

__all__ = ["MemoryLayer"]


class MemoryLayer:
    """A bounded LRU of encoded values with expiry times and tags.

    Args:
        max_entries: The most entries kept; the least recently used goes first.
        clock: Seconds, monotonic (tests pass their own).
    """

    __slots__ = ("_clock", "_entries", "_tags", "max_entries")

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if type(max_entries) is not int or max_entries < 1:
            raise ValueError(f"max_entries must be a positive int, got {max_entries!r}")
        self.max_entries = max_entries
        self._clock = clock
        # key -> (expires at, value, tags)
        self._entries: OrderedDict[str, tuple[float, bytes, tuple[str, ...]]] = OrderedDict()
        self._tags: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> bytes | None:
        """The value of `key`, or None when missing or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self.delete(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        """Keep `value` under `key` for `ttl` seconds, filed under `tags`."""
        self.delete(key)
        tagged = tuple(tags)
        self._entries[key] = (self._clock() + ttl, value, tagged)
        for tag in tagged:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self.delete(oldest)

    def delete(self, key: str) -> bool:
        """Drop `key`; whether it was there."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        for tag in entry[2]:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]
        return True

    def delete_tag(self, tag: str) -> int:
        """Drop every entry filed under `tag`; how many."""
        keys = self._tags.pop(tag, set())
        for key in keys:
            self.delete(key)
        return len(keys)

    def delete_prefix(self, prefix: str) -> int:
        """Drop every key that starts with `prefix`; how many (a scan: O(entries))."""
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            self.delete(key)
        return len(doomed)

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()
        self._tags.clear()
