"""`Cache` with its Redis L2 on a real redis-server: values shared between caches (as
between processes), single-flight across them, tags and prefixes, an outage."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from flasgo.cache import Cache, RedisLayer
from tests.redis_server import start_redis_server

T = TypeVar("T")


def two_caches(redis_url: str, **options: Any) -> tuple[Cache, Cache]:
    # Each with its own client and memory: what two processes have.
    namespace = f"test:{secrets.token_hex(4)}"
    return tuple(  # type: ignore[return-value]
        Cache(RedisLayer.from_url(redis_url, namespace=namespace), **options) for _ in range(2)
    )


def run_with(caches: tuple[Cache, ...], body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await body()
        finally:
            for cache in caches:
                await cache.close()

    return asyncio.run(main())


def test_a_value_set_by_one_is_read_by_the_other(redis_url: str) -> None:
    first, second = two_caches(redis_url)

    async def body() -> None:
        await first.set("greeting", {"text": "hi"}, ttl=60)
        assert await second.get("greeting") == {"text": "hi"}
        await second.delete("greeting")
        first.l1.clear()
        assert await first.get("greeting") is None

    run_with((first, second), body)


def test_single_flight_across_caches(redis_url: str) -> None:
    first, second = two_caches(redis_url, poll=0.01)
    calls: list[str] = []

    def compute(who: str) -> Callable[[], Awaitable[str]]:
        async def make() -> str:
            calls.append(who)
            await asyncio.sleep(0.2)
            return f"made by {who}"

        return make

    async def body() -> list[str]:
        return list(
            await asyncio.gather(
                *(first.get_or_set("report", compute("first"), 60) for _ in range(5)),
                *(second.get_or_set("report", compute("second"), 60) for _ in range(5)),
            )
        )

    results = run_with((first, second), body)
    assert len(calls) == 1
    assert results == [f"made by {calls[0]}"] * 10


def test_tags_and_prefixes_reach_the_shared_level(redis_url: str) -> None:
    first, second = two_caches(redis_url)

    async def body() -> list[Any]:
        await first.set("user:1", 1, ttl=60, tags=["users"])
        await first.set("user:2", 2, ttl=60)
        await first.set("post:[1]", 3, ttl=60)
        await second.invalidate_tag("users")
        await second.invalidate_prefix("post:[")  # glob characters are literal
        first.l1.clear()  # what another process's memory would hold after l1_ttl
        return [await first.get(key) for key in ("user:1", "user:2", "post:[1]")]

    assert run_with((first, second), body) == [None, 2, None]


def test_an_outage_falls_back_to_memory_and_computing(caplog: pytest.LogCaptureFixture) -> None:
    server = start_redis_server()
    cache = Cache(RedisLayer.from_url(server.url, timeout=0.5))
    server.stop()

    async def body() -> list[Any]:
        await cache.set("k", "kept in memory", ttl=60)
        return [await cache.get("k"), await cache.get_or_set("other", lambda: "computed")]

    with caplog.at_level(logging.WARNING, logger="flasgo.cache"):
        assert run_with((cache,), body) == ["kept in memory", "computed"]
    assert "cache-l2-unavailable set" in caplog.messages
