"""The `Store` protocol every key-value store implements, `StoreUnavailable`, `check_ttl`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from flasgo.exceptions import HTTPException

__all__ = ["Store", "StoreUnavailable", "check_ttl"]


RETRY_AFTER_SECONDS = 5
"""The ``Retry-After`` a 503 for an unreachable store carries by default."""


class StoreUnavailable(HTTPException):
    """503: the store could not be reached or did not answer in time.

    The response body is generic and says when to retry (``Retry-After``); the cause (for
    logs) is chained as ``__cause__`` and summarised in `reason`, which never contains
    credentials.
    """

    status_code = 503

    def __init__(
        self,
        reason: str = "the store is unavailable",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if headers is None:
            headers = {"retry-after": str(RETRY_AFTER_SECONDS)}
        super().__init__(None, "A storage service is unavailable; try again shortly.", headers)
        self.reason = reason

    def __str__(self) -> str:
        return f"503 store unavailable: {self.reason}"


class Store(Protocol):
    """What session backends (and other server-side state) need from a key-value store.

    Every method may raise `StoreUnavailable`.
    """

    async def get(self, key: str) -> bytes | None:
        """Return the value of `key`, or None when it is missing or expired."""
        ...

    async def set(self, key: str, value: bytes, *, ttl: int | None = None) -> None:
        """Store `value` under `key`, expiring after `ttl` seconds (never when None)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key` (no error when it is missing)."""
        ...

    async def compare_and_set(
        self, key: str, expected: bytes | None, value: bytes, *, ttl: int | None = None
    ) -> bool:
        """Atomically store `value` if the current value is `expected` (None: key absent).

        Returns:
            Whether the value was stored.
        """
        ...

    async def close(self) -> None:
        """Release connections and memory held by the store."""
        ...


def check_ttl(ttl: int | None) -> None:
    """Refuse a TTL that is not None or a positive int.

    Raises:
        ValueError: It is zero, negative, a bool or not an int.
    """
    if ttl is not None and (type(ttl) is not int or ttl <= 0):
        raise ValueError(f"ttl must be a positive int number of seconds or None, got {ttl!r}")
