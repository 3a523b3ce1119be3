"""Tests for MemoryStore: values, TTLs, compare-and-set and the LRU bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from flasgo.stores import MemoryStore, Store, StoreUnavailable, check_ttl

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_is_a_store() -> None:
    store: Store = MemoryStore()
    assert run(store.get("missing")) is None


def test_set_get_delete() -> None:
    store = MemoryStore()
    run(store.set("k", b"v"))
    assert run(store.get("k")) == b"v"
    run(store.set("k", b"w"))
    assert run(store.get("k")) == b"w"
    run(store.delete("k"))
    assert run(store.get("k")) is None
    run(store.delete("k"))  # missing keys are fine


def test_ttl_expires() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    run(store.set("k", b"v", ttl=10))
    run(store.set("forever", b"v"))
    clock.now += 9.9
    assert run(store.get("k")) == b"v"
    clock.now += 0.1
    assert run(store.get("k")) is None
    assert len(store) == 1
    clock.now += 10**9
    assert run(store.get("forever")) == b"v"


def test_lru_eviction_keeps_recently_used_keys() -> None:
    store = MemoryStore(max_keys=3)
    for key in "abc":
        run(store.set(key, key.encode()))
    assert run(store.get("a")) == b"a"  # a is now the most recent
    run(store.set("d", b"d"))
    assert len(store) == 3
    assert run(store.get("b")) is None
    assert [run(store.get(k)) for k in "acd"] == [b"a", b"c", b"d"]


def test_many_keys_stay_bounded() -> None:
    store = MemoryStore(max_keys=100)

    async def fill() -> None:
        for i in range(10_000):
            await store.set(f"k{i}", b"x")

    run(fill())
    assert len(store) == 100
    assert run(store.get("k9999")) == b"x"


def test_compare_and_set() -> None:
    store = MemoryStore()
    assert run(store.compare_and_set("k", None, b"1"))
    assert not run(store.compare_and_set("k", None, b"2"))
    assert not run(store.compare_and_set("k", b"0", b"2"))
    assert run(store.compare_and_set("k", b"1", b"2"))
    assert run(store.get("k")) == b"2"
    assert not run(store.compare_and_set("other", b"2", b"3"))


def test_compare_and_set_sees_expired_keys_as_absent() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    run(store.set("k", b"1", ttl=5))
    clock.now += 5
    assert not run(store.compare_and_set("k", b"1", b"2"))
    assert run(store.compare_and_set("k", None, b"2", ttl=5))
    clock.now += 4
    assert run(store.get("k")) == b"2"


def test_close_drops_everything() -> None:
    store = MemoryStore()
    run(store.set("k", b"v"))
    run(store.close())
    assert run(store.get("k")) is None


@pytest.mark.parametrize("ttl", [0, -1, True, 1.5, "5"])
def test_bad_ttl_is_refused(ttl: object) -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match="ttl"):
        run(store.set("k", b"v", ttl=ttl))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        run(store.compare_and_set("k", None, b"v", ttl=ttl))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        check_ttl(ttl)  # type: ignore[arg-type]


def test_values_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="bytes"):
        run(MemoryStore().set("k", "text"))  # type: ignore[arg-type]


@pytest.mark.parametrize("max_keys", [0, -5, True, 1.5])
def test_bad_max_keys_is_refused(max_keys: object) -> None:
    with pytest.raises(ValueError, match="max_keys"):
        MemoryStore(max_keys)  # type: ignore[arg-type]


def test_store_unavailable_is_a_generic_503() -> None:
    exc = StoreUnavailable("Redis GET failed: ConnectionError")
    assert exc.status_code == 503
    assert "Redis" not in exc.detail
    assert exc.reason == "Redis GET failed: ConnectionError"
    assert "ConnectionError" in str(exc)


def test_unknown_attribute() -> None:
    import flasgo.stores

    with pytest.raises(AttributeError):
        flasgo.stores.Nope  # noqa: B018
