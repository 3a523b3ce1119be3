"""Rooms and broadcast: who receives what, presence, slow clients dropped with 1013, and the
same rooms across two apps (two workers) through a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flasgo import Flasgo, WebSocket, current_app
from flasgo.realtime import Channels, ChannelStats
from flasgo.testing import WebSocketClosed
from tests.conftest import AppFactory
from tests.redis_server import start_redis_server

BASELINE = ChannelStats(connections=0, rooms=0, queued=0, closing=0)


def chat_app(make_app: AppFactory, **settings: Any) -> Flasgo:
    app = make_app(CSRF_ENABLED=False, **settings)

    @app.websocket("/rooms/<room>")
    async def room(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        async with app.channels.subscribe(websocket, room):
            await websocket.send_json({"joined": room, "here": app.channels.presence(room)})
            async for text in websocket.iter_text():
                await app.channels.publish(room, {"room": room, "text": text})

    @app.post("/rooms/<room>/say")
    async def say(room: str) -> dict[str, int]:
        await current_app.channels.publish(room, f"{room}: hello")
        return {"here": current_app.channels.presence(room)}

    @app.post("/announce")
    async def announce() -> str:
        await current_app.channels.broadcast(b"everyone")
        return "sent"

    @app.post("/flood/<room>/<int:count>")
    async def flood(room: str, count: int) -> str:
        for n in range(count):
            await current_app.channels.publish(room, str(n))
            await asyncio.sleep(0.001)  # let the writers run between messages
        return "done"

    return app


def test_rooms_deliver_to_their_members_only(make_app: AppFactory) -> None:
    app = chat_app(make_app)
    with (
        app.test_client() as client,
        client.websocket_connect("/rooms/a") as ann,
        client.websocket_connect("/rooms/a") as bob,
        client.websocket_connect("/rooms/b") as cat,
    ):
        assert ann.receive_json() == {"joined": "a", "here": 1}
        assert bob.receive_json() == {"joined": "a", "here": 2}
        assert cat.receive_json() == {"joined": "b", "here": 1}
        ann.send_text("hi")
        assert ann.receive_json() == {"room": "a", "text": "hi"}
        assert bob.receive_json() == {"room": "a", "text": "hi"}
        # An HTTP handler publishes too; cat's next message is b's, so a's never reached it.
        assert client.post("/rooms/b/say").json() == {"here": 1}
        assert cat.receive_text() == "b: hello"
        assert client.post("/announce").status_code == 200
        assert [ws.receive_bytes() for ws in (ann, bob, cat)] == [b"everyone"] * 3
    assert app.channels.stats() == BASELINE


def test_a_client_that_stops_reading_is_dropped_1013(make_app: AppFactory) -> None:
    app = chat_app(make_app, WEBSOCKET_SEND_QUEUE_SIZE=4)
    count = 60

    async def scenario() -> tuple[list[str], list[str], int]:
        async with (
            app.test_client() as client,
            client.awebsocket_connect("/rooms/a") as fast,
            client.awebsocket_connect("/rooms/a") as slow,
        ):
            await fast.receive_json()
            await slow.receive_json()

            async def read_all() -> list[str]:
                return [await fast.receive_text() for _ in range(count)]

            reader = asyncio.create_task(read_all())
            assert (await client.apost(f"/flood/a/{count}")).text == "done"
            fast_got = await reader
            # The slow client reads at last: what its transport held, then the close.
            slow_got: list[str] = []

            async def drain() -> None:
                while True:
                    slow_got.append(await slow.receive_text())

            with pytest.raises(WebSocketClosed) as closed:
                await drain()
            assert closed.value.reason == "Too slow: messages were dropped"
            return fast_got, slow_got, closed.value.code

    fast_got, slow_got, code = asyncio.run(scenario())
    assert fast_got == [str(n) for n in range(count)]
    assert code == 1013
    assert slow_got == [str(n) for n in range(len(slow_got))]
    assert len(slow_got) < count
    assert app.channels.stats() == BASELINE


def test_room_names_are_checked(make_app: AppFactory) -> None:
    channels = Channels()
    for bad in ("", "x" * 201):
        with pytest.raises(ValueError, match="room name"):
            asyncio.run(channels.publish(bad, "m"))


# -- across workers: two apps on one redis-server ---------------------------------------------


def test_two_workers_share_rooms_through_redis(make_app: AppFactory, redis_url: str) -> None:
    one, two = chat_app(make_app, REDIS_URL=redis_url), chat_app(make_app, REDIS_URL=redis_url)
    with (
        one.test_client() as first,
        two.test_client() as second,
        first.websocket_connect("/rooms/r") as ann,
        second.websocket_connect("/rooms/r") as bob,
        second.websocket_connect("/rooms/other") as cat,
    ):
        assert ann.receive_json()["joined"] == "r"
        assert bob.receive_json()["joined"] == "r"
        assert cat.receive_json()["joined"] == "other"
        ann.send_text("across")
        assert bob.receive_json() == {"room": "r", "text": "across"}
        assert ann.receive_json() == {"room": "r", "text": "across"}
        first.post("/rooms/other/say")
        assert cat.receive_text() == "other: hello"
        second.post("/announce")
        assert [ws.receive_bytes() for ws in (ann, bob, cat)] == [b"everyone"] * 3
    assert one.channels.stats() == BASELINE
    assert two.channels.stats() == BASELINE


def test_redis_restart_loses_messages_while_down_then_resumes(make_app: AppFactory) -> None:
    server = start_redis_server()
    try:
        app = chat_app(make_app, REDIS_URL=server.url)
        with app.test_client() as client, client.websocket_connect("/rooms/r") as ann:
            assert ann.receive_json()["joined"] == "r"
            server.stop()
            down = client.post("/rooms/r/say")
            assert (down.status_code, down.text) == (
                503,
                "A storage service is unavailable; try again shortly.",
            )
            server = server.restart()
            # The listener reconnects with backoff; publish until a message comes through.
            deadline = 50
            while deadline and client.post("/rooms/r/say").status_code != 200:
                deadline -= 1
            for _ in range(deadline):
                try:
                    assert ann.receive_text(timeout=0.2) == "r: hello"
                    break
                except TimeoutError:
                    client.post("/rooms/r/say")
            else:
                pytest.fail("no message arrived after Redis came back")
        assert app.channels.stats() == BASELINE
    finally:
        server.stop()
