"""Tests for server-side sessions over MemoryStore and a real Redis."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from flasgo.response import Response
from flasgo.sessions import (
    ServerSideSessions,
    Session,
    SessionBackend,
    SessionConflict,
    SessionTooLarge,
    login,
    logout,
)
from flasgo.sessions.server import KEY_PREFIX
from flasgo.stores import MemoryStore, Store, StoreUnavailable
from flasgo.stores.redis import RedisStore
from tests.redis_server import start_redis_server
from tests.sessions.exchange import cookie_header, cookie_value, settings
from tests.sessions.exchange import request as make_request

Body = Callable[[ServerSideSessions, Store], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def run(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Run an async test body with a backend over each kind of store."""
    url: str | None = request.getfixturevalue("redis_url") if request.param == "redis" else None

    @asynccontextmanager
    async def open_store() -> AsyncIterator[Store]:
        store: Store
        if url is None:
            store = MemoryStore()
        else:
            store = RedisStore.from_url(url, namespace=f"test-{uuid.uuid4().hex}")
        try:
            yield store
        finally:
            await store.close()

    def runner(body: Body, **options: Any) -> None:
        overrides = options.pop("settings", {})

        async def main() -> None:
            async with open_store() as store:
                sessions = ServerSideSessions(store, settings(**overrides), **options)
                await body(sessions, store)

        asyncio.run(main())

    return runner


async def save(
    sessions: ServerSideSessions, session: Session, *cookies: str, **options: Any
) -> Response:
    response = Response("ok", **options)
    await sessions.save(make_request(*cookies), session, response)
    return response


async def load(sessions: ServerSideSessions, *cookies: str) -> Session:
    return await sessions.load(make_request(*cookies))


async def start(sessions: ServerSideSessions, data: dict[str, Any]) -> str:
    """Create a stored session holding `data`; return its Cookie header value."""
    session = await load(sessions)
    session.update(data)
    return "flasgo-session=" + cookie_value(await save(sessions, session))


def sid_of(cookie: str) -> str:
    return cookie.partition("=")[2]


class CountingStore(MemoryStore):
    __slots__ = ("gets",)

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        return await super().get(key)


def test_is_a_session_backend() -> None:
    sessions: SessionBackend = ServerSideSessions(MemoryStore(), settings())
    assert not sessions.has_cookie(make_request())
    assert not sessions.has_cookie(make_request("flasgo-session=short"))
    assert not sessions.has_cookie(make_request("flasgo-session=" + "a" * 44))
    assert sessions.has_cookie(make_request("flasgo-session=" + "a" * 43))


@pytest.mark.parametrize("max_bytes", [0, -1, True, 1.5])
def test_bad_max_bytes_is_refused(max_bytes: object) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        ServerSideSessions(MemoryStore(), settings(), max_bytes=max_bytes)  # type: ignore[arg-type]


# -- round trip ----------------------------------------------------------------------------


def test_round_trip(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        fresh = await load(sessions)
        assert fresh.new
        assert fresh.session_id is not None
        fresh["user"] = "alice"
        response = await save(sessions, fresh)
        sid = cookie_value(response)
        assert sid == fresh.session_id
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)
        assert re.fullmatch(
            rf"flasgo-session={sid}; Path=/; Max-Age=604800; Expires=[^;]+ GMT; Secure; "
            r"HttpOnly; SameSite=Lax",
            cookie_header(response) or "",
        )
        assert response.headers["vary"] == "Cookie"
        loaded = await load(sessions, f"flasgo-session={sid}")
        assert not loaded.new
        assert loaded.session_id == sid
        assert dict(loaded) == {"user": "alice"}

    run(body)


def test_the_stored_envelope(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"b": 1, "a": "é"})
        raw = await store.get(KEY_PREFIX + sid_of(cookie))
        assert raw is not None
        envelope = json.loads(raw)
        assert envelope["d"] == {"a": "é", "b": 1}
        assert abs(envelope["e"] - (time.time() + 100)) < 5
        assert isinstance(envelope["v"], str)
        assert len(envelope["v"]) >= 16

    run(body, settings={"SESSION_COOKIE_MAX_AGE": 100})


def test_nothing_is_stored_until_the_first_write(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = await load(sessions)
        assert session.get("x") is None
        response = await save(sessions, session)
        assert response.cookies == []
        assert response.headers["vary"] == "Cookie"
        assert await store.get(KEY_PREFIX + (session.session_id or "")) is None

    run(body)


def test_untouched_session_does_nothing(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"a": 1})
        before = await store.get(KEY_PREFIX + sid_of(cookie))
        session = await load(sessions, cookie)
        response = await save(sessions, session, cookie)
        assert response.cookies == []
        assert "vary" not in response.headers
        assert await store.get(KEY_PREFIX + sid_of(cookie)) == before

    run(body)


def test_read_only_session_is_not_rewritten(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"a": 1})
        before = await store.get(KEY_PREFIX + sid_of(cookie))
        session = await load(sessions, cookie)
        assert session["a"] == 1
        response = await save(sessions, session, cookie)
        assert response.cookies == []
        assert response.headers["vary"] == "Cookie"
        assert await store.get(KEY_PREFIX + sid_of(cookie)) == before

    run(body)


def test_modified_session_is_written_under_the_same_id(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"a": 1})
        session = await load(sessions, cookie)
        session["a"] = 2
        response = await save(sessions, session, cookie)
        assert cookie_value(response) == sid_of(cookie)
        assert dict(await load(sessions, cookie)) == {"a": 2}

    run(body)


def test_a_second_save_of_the_same_session_works(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = await load(sessions)
        session["a"] = 1
        await save(sessions, session)
        session["a"] = 2
        response = await save(sessions, session)
        assert dict(await load(sessions, f"flasgo-session={cookie_value(response)}")) == {"a": 2}

    run(body)


def test_hand_built_session_gets_an_id(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = Session({"a": 1}, modified=True)
        response = await save(sessions, session)
        assert session.session_id == cookie_value(response)

    run(body)


# -- deletion and rotation -----------------------------------------------------------------


def test_emptied_session_is_deleted_with_its_cookie(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"a": 1})
        session = await load(sessions, cookie)
        del session["a"]
        response = await save(sessions, session, cookie)
        assert (cookie_header(response) or "").startswith("flasgo-session=; Path=/; Max-Age=0")
        assert response.headers["vary"] == "Cookie"
        assert await store.get(KEY_PREFIX + sid_of(cookie)) is None

    run(body)


def test_emptying_a_new_session_stores_and_sets_nothing(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = await load(sessions)
        session["a"] = 1
        session.clear()
        response = await save(sessions, session)
        assert response.cookies == []

    run(body)


def test_regenerate_moves_the_data_and_deletes_the_old_id(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"a": 1})
        session = await load(sessions, cookie)
        session.regenerate()
        response = await save(sessions, session, cookie)
        new_sid = cookie_value(response)
        assert new_sid != sid_of(cookie)
        assert dict(await load(sessions, f"flasgo-session={new_sid}")) == {"a": 1}
        old = await load(sessions, cookie)
        assert old.new
        assert old.rejected == "unknown"
        assert await store.get(KEY_PREFIX + sid_of(cookie)) is None

    run(body)


def test_login_invalidates_the_planted_id(run: Callable[..., None]) -> None:
    # Session fixation: the attacker's (valid) session id must not survive the login.
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        planted = await start(sessions, {"cart": [1]})
        session = await load(sessions, planted)
        login(session, 7)
        response = await save(sessions, session, planted)
        assert cookie_value(response) != sid_of(planted)
        assert not (await load(sessions, planted))._data
        fresh = await load(sessions, f"flasgo-session={cookie_value(response)}")
        assert dict(fresh) == {"_user_id": 7, "cart": [1]}

    run(body)


def test_logout_deletes_the_session(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"_user_id": 7})
        session = await load(sessions, cookie)
        logout(session)
        response = await save(sessions, session, cookie)
        assert (cookie_header(response) or "").startswith("flasgo-session=; ")
        assert not (await load(sessions, cookie))._data

    run(body)


def test_regenerating_an_empty_new_session_stores_nothing(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = await load(sessions)
        session.regenerate()
        response = await save(sessions, session)
        assert response.cookies == []
        assert response.headers["vary"] == "Cookie"

    run(body)


# -- hostile and stale ids -----------------------------------------------------------------


def test_unknown_ids_are_never_adopted(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        planted = "flasgo-session=" + "A" * 43
        session = await load(sessions, planted)
        assert session.new
        assert session.rejected == "unknown"
        assert session.session_id != "A" * 43
        session["a"] = 1
        response = await save(sessions, session, planted)
        assert cookie_value(response) != "A" * 43
        assert await store.get(KEY_PREFIX + "A" * 43) is None

    run(body)


@pytest.mark.parametrize(
    ("cookie", "reason"),
    [
        ("flasgo-session=" + "a" * 42, "malformed"),
        ("flasgo-session=" + "a" * 42 + "!", "malformed"),
        ("flasgo-session=../../etc/passwd", "malformed"),
        ("flasgo-session=" + "a" * 10_000, "malformed"),
        ("flasgo-session=" + "a" * 43 + "; flasgo-session=" + "b" * 43, "duplicate"),
        ("flasgo-session=", None),
        ("other=1", None),
    ],
)
def test_bad_cookies_never_reach_the_store(cookie: str, reason: str | None) -> None:
    store = CountingStore()
    sessions = ServerSideSessions(store, settings())
    session = asyncio.run(sessions.load(make_request(cookie)))
    assert session.new
    assert session.rejected == reason
    assert store.gets == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1]",
        b'{"d": [1], "e": 99999999999, "v": "x"}',
        b'{"d": {}, "e": "never", "v": "x"}',
        b'{"d": {"a": 1}, "e": 1, "v": "x"}',
    ],
)
def test_bad_or_expired_envelopes_give_a_new_session(raw: bytes) -> None:
    async def main() -> Session:
        store = MemoryStore()
        await store.set(KEY_PREFIX + "a" * 43, raw)
        return await ServerSideSessions(store, settings()).load(
            make_request("flasgo-session=" + "a" * 43)
        )

    session = asyncio.run(main())
    assert session.new
    assert not session._data
    assert session.rejected == "expired"


def test_store_ttl_ends_the_session() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    sessions = ServerSideSessions(store, settings(SESSION_COOKIE_MAX_AGE=60))

    async def main() -> None:
        cookie = await start(sessions, {"a": 1})
        now[0] += 59
        assert (await load(sessions, cookie))["a"] == 1
        now[0] += 1
        assert (await load(sessions, cookie)).rejected == "unknown"

    asyncio.run(main())


# -- concurrency ---------------------------------------------------------------------------


def test_concurrent_writes_conflict(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"n": 0})
        first = await load(sessions, cookie)
        second = await load(sessions, cookie)
        first["n"] = 1
        second["n"] = 2
        await save(sessions, first, cookie)
        with pytest.raises(SessionConflict) as caught:
            await save(sessions, second, cookie)
        assert caught.value.status_code == 409
        assert dict(await load(sessions, cookie)) == {"n": 1}

    run(body)


def test_concurrent_writes_through_gather_have_one_winner(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"n": 0})
        loaded = [await load(sessions, cookie) for _ in range(10)]
        for index, session in enumerate(loaded):
            session["n"] = index + 1
        results = await asyncio.gather(
            *(save(sessions, s, cookie) for s in loaded), return_exceptions=True
        )
        assert sum(isinstance(r, Response) for r in results) == 1
        assert all(isinstance(r, Response | SessionConflict) for r in results)

    run(body)


def test_a_refresh_that_loses_a_race_is_dropped_quietly(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"n": 0})
        writer = await load(sessions, cookie)
        reader = await load(sessions, cookie)
        writer["n"] = 1
        await save(sessions, writer, cookie)
        response = await save(sessions, reader, cookie)
        assert response.cookies == []
        assert dict(await load(sessions, cookie)) == {"n": 1}

    run(body, settings={"SESSION_REFRESH_EACH_REQUEST": True})


def test_sliding_refresh_extends_an_untouched_session(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        cookie = await start(sessions, {"a": 1})
        raw = await store.get(KEY_PREFIX + sid_of(cookie))
        assert raw is not None
        envelope = json.loads(raw)
        envelope["e"] -= 50
        await store.set(KEY_PREFIX + sid_of(cookie), json.dumps(envelope).encode())
        session = await load(sessions, cookie)
        response = await save(sessions, session, cookie)
        assert not session.accessed
        assert cookie_value(response) == sid_of(cookie)
        assert response.headers["vary"] == "Cookie"
        refreshed = await store.get(KEY_PREFIX + sid_of(cookie))
        assert refreshed is not None
        assert json.loads(refreshed)["e"] >= envelope["e"] + 49

    run(body, settings={"SESSION_REFRESH_EACH_REQUEST": True, "SESSION_COOKIE_MAX_AGE": 100})


# -- limits and failures -------------------------------------------------------------------


def test_max_bytes(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = await load(sessions)
        session["k"] = "x" * 100
        await save(sessions, session)
        session["k"] = "x" * 300
        with pytest.raises(SessionTooLarge, match="max_bytes=200"):
            await save(sessions, session)

    run(body, max_bytes=200)


def test_non_json_values_fail_at_save(run: Callable[..., None]) -> None:
    async def body(sessions: ServerSideSessions, store: Store) -> None:
        session = await load(sessions)
        session["k"] = {1, 2}
        with pytest.raises(TypeError, match="JSON types"):
            await save(sessions, session)

    run(body)


def test_a_redis_outage_is_store_unavailable() -> None:
    server = start_redis_server()

    async def main() -> None:
        store = RedisStore.from_url(server.url, timeout=1.0)
        sessions = ServerSideSessions(store, settings())
        try:
            cookie = await start(sessions, {"a": 1})
            session = await load(sessions, cookie)
            session["a"] = 2
            server.stop()
            with pytest.raises(StoreUnavailable) as caught:
                await load(sessions, cookie)
            assert caught.value.status_code == 503
            with pytest.raises(StoreUnavailable):
                await save(sessions, session, cookie)
            session.clear()
            with pytest.raises(StoreUnavailable):
                await save(sessions, session, cookie)
        finally:
            await store.close()

    try:
        asyncio.run(main())
    finally:
        server.stop()
