"""`Cache` in memory: values, TTL and jitter, LRU bound, tags and prefixes, single-flight;
``@cached`` handlers through the test client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from flasgo import Flasgo, Request, Response, session
from flasgo.cache import Cache, MemoryLayer, cached


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_values_round_trip_as_copies() -> None:
    async def main() -> None:
        cache = Cache()
        value = {"a": [1, 2]}
        await cache.set("k", value)
        value["a"].append(3)  # the caller's object is not the cached one
        got = await cache.get("k")
        assert got == {"a": [1, 2]}
        got["a"].clear()
        assert await cache.get("k") == {"a": [1, 2]}
        await cache.set("none", None)
        assert await cache.get("none", "default") is None  # a stored None is a hit
        assert await cache.get("missing", "default") == "default"
        await cache.delete("k")
        assert await cache.get("k") is None

    asyncio.run(main())


def test_unserialisable_values_are_refused() -> None:
    with pytest.raises(TypeError):
        asyncio.run(Cache().set("k", object()))


def test_entries_expire_and_the_least_recently_used_goes_first() -> None:
    clock = Clock()
    layer = MemoryLayer(2, clock=clock)
    layer.set("a", b"1", ttl=10)
    layer.set("b", b"2", ttl=10)
    assert layer.get("a") == b"1"  # a is now the most recently used
    layer.set("c", b"3", ttl=10)
    assert (layer.get("a"), layer.get("b"), layer.get("c")) == (b"1", None, b"3")
    clock.now += 10
    assert layer.get("a") is None
    assert len(layer) == 1


def test_ttl_jitter_only_shortens_within_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(jitter=0.2)
    monkeypatch.setattr("flasgo.cache.tiered.random.random", lambda: 0.0)
    assert cache._ttl(100) == 100.0
    monkeypatch.setattr("flasgo.cache.tiered.random.random", lambda: 0.5)
    assert cache._ttl(100) == 90.0
    assert cache._ttl(None) == 270.0  # default_ttl 300
    with pytest.raises(ValueError, match="ttl must be > 0"):
        cache._ttl(0)


def test_tags_and_prefixes_invalidate_groups() -> None:
    async def main() -> None:
        cache = Cache()
        await cache.set("user:1", 1, tags=["users"])
        await cache.set("user:2", 2, tags=["users", "admins"])
        await cache.set("post:1", 3)
        await cache.invalidate_tag("admins")
        assert [await cache.get(k) for k in ("user:1", "user:2", "post:1")] == [1, None, 3]
        await cache.invalidate_prefix("user:")
        assert [await cache.get(k) for k in ("user:1", "post:1")] == [None, 3]

    asyncio.run(main())


def test_get_or_set_computes_once_for_concurrent_misses() -> None:
    calls: list[int] = []

    async def compute() -> dict[str, int]:
        calls.append(1)
        await asyncio.sleep(0.01)
        return {"n": len(calls)}

    async def main() -> list[Any]:
        cache = Cache()
        results: list[Any] = await asyncio.gather(
            *(cache.get_or_set("k", compute) for _ in range(50))
        )
        results.append(await cache.get_or_set("k", compute))  # a hit now
        return results

    assert asyncio.run(main()) == [{"n": 1}] * 51
    assert calls == [1]


def test_get_or_set_shares_a_failure_and_stores_nothing() -> None:
    calls: list[int] = []

    async def broken() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        raise RuntimeError("backend down")

    async def main() -> list[Any]:
        cache = Cache()
        outcomes: list[Any] = await asyncio.gather(
            *(cache.get_or_set("k", broken) for _ in range(5)), return_exceptions=True
        )
        outcomes.append(await cache.get_or_set("k", lambda: 7))  # sync compute works too
        return outcomes

    outcomes = asyncio.run(main())
    assert [str(o) for o in outcomes[:5]] == ["backend down"] * 5
    assert outcomes[5] == 7
    assert calls == [1]


# -- @cached ------------------------------------------------------------------------------------


def counting_app(make_app: Callable[..., Flasgo]) -> tuple[Flasgo, list[str]]:
    app = make_app()
    calls: list[str] = []

    @app.get("/items")
    @cached(60, vary=["Accept-Language"])
    async def items(request: Request, page: int = 1) -> dict[str, Any]:
        calls.append("items")
        return {"page": page, "lang": request.headers.get("accept-language", "")}

    @app.get("/sync")
    @cached(60)
    def sync_items() -> str:
        calls.append("sync")
        return "plain"

    @app.get("/mine")
    @cached(60)
    async def mine() -> dict[str, Any]:
        calls.append("mine")
        return {"visits": session.get("visits", 0)}

    @app.get("/cookie")
    @cached(60)
    async def cookie() -> Response:
        calls.append("cookie")
        response = Response("hi")
        response.set_cookie("seen", "1")
        return response

    @app.get("/missing")
    @cached(60)
    async def missing() -> tuple[str, int]:
        calls.append("missing")
        return "nope", 404

    return app, calls


def test_cached_handler_keys_on_query_and_vary(make_app: Callable[..., Flasgo]) -> None:
    app, calls = counting_app(make_app)
    client = app.test_client()
    first = client.get("/items?page=2", headers={"Accept-Language": "fr"})
    again = client.get("/items?page=2", headers={"Accept-Language": "fr"})
    other_query = client.get("/items?page=3", headers={"Accept-Language": "fr"})
    other_lang = client.get("/items?page=2", headers={"Accept-Language": "de"})
    assert first.json() == again.json() == {"page": 2, "lang": "fr"}
    assert other_query.json() == {"page": 3, "lang": "fr"}
    assert other_lang.json() == {"page": 2, "lang": "de"}
    assert again.headers["vary"] == "accept-language"
    assert calls == ["items", "items", "items"]
    assert [client.get("/sync").text for _ in range(2)] == ["plain", "plain"]
    assert calls.count("sync") == 1


def test_cached_never_stores_what_depends_on_the_visitor(make_app: Callable[..., Flasgo]) -> None:
    app, calls = counting_app(make_app)
    client = app.test_client()
    for path in ("/mine", "/cookie", "/missing"):
        client.get(path)
        client.get(path)
    client.get("/items", headers={"Authorization": "Bearer x"})
    client.get("/items", headers={"Authorization": "Bearer x"})
    assert calls == ["mine"] * 2 + ["cookie"] * 2 + ["missing"] * 2 + ["items"] * 2
    assert client.get("/cookie").headers.get_list("set-cookie")[0].startswith("seen=1")


def test_invalidating_a_tag_drops_cached_responses(make_app: Callable[..., Flasgo]) -> None:
    app = make_app()
    version = ["v1"]

    @app.get("/doc")
    @cached(60, tags=["docs"])
    async def doc() -> str:
        return version[0]

    client = app.test_client()
    assert client.get("/doc").text == "v1"
    version[0] = "v2"
    assert client.get("/doc").text == "v1"
    asyncio.run(app.cache.invalidate_tag("docs"))
    assert client.get("/doc").text == "v2"
