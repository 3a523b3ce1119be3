"""Tests for RedisStore against a real redis-server (see tests/redis_server.py)."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis.asyncio
import redis.exceptions

from flasgo.exceptions import ConfigurationError
from flasgo.stores import Store, StoreUnavailable
from flasgo.stores.redis import RedisStore
from tests.redis_server import start_redis_server

T = TypeVar("T")


def with_store(url: str, body: Callable[[RedisStore], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        options.setdefault("namespace", f"test-{uuid.uuid4().hex}")
        store = RedisStore.from_url(url, **options)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_set_get_delete(redis_url: str) -> None:
    async def body(store: RedisStore) -> None:
        typed: Store = store
        assert await typed.get("k") is None
        await store.set("k", b"\x00v\xff")
        assert await store.get("k") == b"\x00v\xff"
        await store.delete("k")
        assert await store.get("k") is None
        await store.delete("k")

    with_store(redis_url, body)


def test_ttl_is_set_on_the_key(redis_url: str) -> None:
    async def body(store: RedisStore) -> None:
        await store.set("k", b"v", ttl=100)
        await store.set("forever", b"v")
        assert await store.compare_and_set("cas", None, b"v", ttl=50)
        client = store._client
        assert 90 <= await client.ttl(store.key_for("k")) <= 100
        assert await client.ttl(store.key_for("forever")) == -1
        assert 40 <= await client.ttl(store.key_for("cas")) <= 50

    with_store(redis_url, body)


def test_ttl_expires(redis_url: str) -> None:
    async def body(store: RedisStore) -> None:
        await store.set("k", b"v", ttl=1)
        await asyncio.sleep(1.2)
        assert await store.get("k") is None

    with_store(redis_url, body)


def test_keys_are_hashed_under_the_namespace(redis_url: str) -> None:
    hostile = ["*", "a\r\nFLUSHALL\r\n", "K", "\u212a", "", "\ud800", "x" * 10_000]

    async def body(store: RedisStore) -> list[str]:
        for index, key in enumerate(hostile):
            await store.set(key, str(index).encode())
        for index, key in enumerate(hostile):
            assert await store.get(key) == str(index).encode()
        raw = await store._client.keys(f"{store.namespace}:*")
        return [k.decode() if isinstance(k, bytes) else k for k in raw]

    keys = with_store(redis_url, body, namespace="hashed")
    assert len(keys) == len(hostile)
    assert all(re.fullmatch(r"hashed:[0-9a-f]{64}", key) for key in keys)


def test_namespaces_do_not_collide(redis_url: str) -> None:
    async def body(store: RedisStore) -> bytes | None:
        other = RedisStore(store._client, namespace=store.namespace + "-other")
        await store.set("k", b"mine")
        return await other.get("k")

    assert with_store(redis_url, body) is None


def test_compare_and_set(redis_url: str) -> None:
    async def body(store: RedisStore) -> None:
        assert await store.compare_and_set("k", None, b"1")
        assert not await store.compare_and_set("k", None, b"2")
        assert not await store.compare_and_set("k", b"0", b"2")
        assert await store.compare_and_set("k", b"1", b"")
        assert await store.get("k") == b""
        assert await store.compare_and_set("k", b"", b"3")
        assert not await store.compare_and_set("missing", b"", b"3")
        assert await store.get("k") == b"3"

    with_store(redis_url, body)


def test_concurrent_compare_and_set_has_one_winner(redis_url: str) -> None:
    async def body(store: RedisStore) -> list[bool]:
        await store.set("k", b"v0")
        return await asyncio.gather(
            *(store.compare_and_set("k", b"v0", f"v{i}".encode()) for i in range(1, 21))
        )

    assert sum(with_store(redis_url, body)) == 1


def test_value_size_limit(redis_url: str) -> None:
    async def body(store: RedisStore) -> None:
        await store.set("k", b"x" * 10)
        with pytest.raises(ValueError, match="max_value_bytes=10"):
            await store.set("k", b"x" * 11)
        with pytest.raises(ValueError, match="max_value_bytes=10"):
            await store.compare_and_set("k", None, b"x" * 11)
        with pytest.raises(TypeError, match="bytes"):
            await store.set("k", "text")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ttl"):
            await store.set("k", b"x", ttl=0)

    with_store(redis_url, body, max_value_bytes=10)


def test_a_decoding_client_still_gives_bytes(redis_url: str) -> None:
    async def main() -> bytes | None:
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        store = RedisStore(client, namespace=f"test-{uuid.uuid4().hex}")
        try:
            await store.set("k", "é".encode())
            return await store.get("k")
        finally:
            await client.aclose()

    assert asyncio.run(main()) == "é".encode()


def test_close_leaves_a_client_it_does_not_own(redis_url: str) -> None:
    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        store = RedisStore(client, namespace=f"test-{uuid.uuid4().hex}")
        await store.set("k", b"v")
        await store.close()
        assert await store.get("k") == b"v"
        await client.aclose()

    asyncio.run(main())


# -- outages -------------------------------------------------------------------------------


def test_a_stopped_server_is_store_unavailable() -> None:
    server = start_redis_server()

    async def main() -> None:
        store = RedisStore.from_url(server.url, timeout=1.0)
        await store.set("k", b"v")
        server.stop()
        for call in (
            store.get("k"),
            store.set("k", b"v"),
            store.delete("k"),
            store.compare_and_set("k", None, b"v"),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await call
            assert caught.value.status_code == 503
            # A stopped server is a refused connection, noticed at once: not a timeout waited out.
            cause = caught.value.__cause__
            assert isinstance(cause, redis.exceptions.ConnectionError), repr(cause)
            assert not isinstance(cause, redis.exceptions.TimeoutError | TimeoutError)
        await store.close()  # closing needs no server

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_a_silent_server_times_out() -> None:
    async def main() -> tuple[StoreUnavailable, bool]:
        writers: list[asyncio.StreamWriter] = []

        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await reader.read(1 << 16)  # the command, never answered

        server = await asyncio.start_server(hang, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.3)
        try:
            with pytest.raises(StoreUnavailable, match="GET") as caught:
                await store.get("k")
            # The connection is still open when the store gives up: its own timeout fired.
            return caught.value, all(not writer.is_closing() for writer in writers)
        finally:
            await store.close()
            for writer in writers:
                writer.close()
            server.close()
            await server.wait_closed()

    error, still_open = asyncio.run(main())
    assert error.reason == "Redis GET failed: TimeoutError"
    assert isinstance(error.__cause__, TimeoutError)
    assert still_open


def test_nothing_listening_is_store_unavailable() -> None:
    async def main() -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.5)
        try:
            with pytest.raises(StoreUnavailable):
                await store.get("k")
        finally:
            await store.close()

    asyncio.run(main())


# -- configuration -------------------------------------------------------------------------


def test_bad_url_is_a_configuration_error_without_the_password() -> None:
    with pytest.raises(ConfigurationError, match="Redis URL") as caught:
        RedisStore.from_url("http://user:hunter2@example.com/0")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"namespace": ""},
        {"namespace": "has space"},
        {"namespace": "x" * 65},
        {"timeout": 0},
        {"timeout": True},
        {"timeout": "1"},
        {"max_value_bytes": 0},
        {"max_value_bytes": 1.5},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    client = redis.asyncio.Redis()
    with pytest.raises(ConfigurationError):
        RedisStore(client, **options)


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'flasgo\[redis\]'"):
        RedisStore.from_url("redis://127.0.0.1:1/0")


def test_importing_the_stores_does_not_import_redis() -> None:
    import subprocess

    code = "import flasgo.stores, flasgo.sessions, sys; print('redis' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


def test_the_package_exports_the_store_lazily() -> None:
    import flasgo.stores

    assert flasgo.stores.RedisStore is RedisStore
