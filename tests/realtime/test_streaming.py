"""Server-Sent Events and NDJSON: the wire format, Last-Event-ID, heartbeats, HEAD, and the
generator cancelled (its ``finally`` run) when the client disconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from flasgo import (
    AsyncTestStream,
    EventSourceResponse,
    Flasgo,
    NDJSONResponse,
    ServerSentEvent,
)
from tests.conftest import AppFactory


def stream_app(make_app: AppFactory) -> tuple[Flasgo, list[str]]:
    app = make_app()
    trail: list[str] = []

    @app.get("/events")
    async def events() -> EventSourceResponse:
        async def produce() -> AsyncIterator[object]:
            trail.append("started")
            yield ServerSentEvent("hello", event="greeting", id="1", retry=3000)
            yield ServerSentEvent("two\nlines\r\nthree", id="2")
            yield {"json": True}
            yield ServerSentEvent(comment="just a comment")

        return EventSourceResponse(produce(), heartbeat=None)

    @app.get("/resume")
    async def resume() -> EventSourceResponse:
        async def since(last_event_id: str | None) -> AsyncIterator[ServerSentEvent]:
            start = int(last_event_id) + 1 if last_event_id else 0
            for n in range(start, start + 2):
                yield ServerSentEvent(n, id=str(n))

        return EventSourceResponse(since)

    @app.get("/forever")
    async def forever() -> EventSourceResponse:
        async def produce() -> AsyncIterator[ServerSentEvent]:
            try:
                yield ServerSentEvent("first")
                await asyncio.Event().wait()  # nothing more, ever
            finally:
                trail.append("finally")

        return EventSourceResponse(produce(), heartbeat=None)

    @app.get("/quiet")
    async def quiet() -> EventSourceResponse:
        async def produce() -> AsyncIterator[ServerSentEvent]:
            try:
                await asyncio.Event().wait()
                yield ServerSentEvent("never")
            finally:
                trail.append("quiet finally")

        return EventSourceResponse(produce(), heartbeat=0.01)

    @app.get("/broken")
    async def broken() -> EventSourceResponse:
        async def produce() -> AsyncIterator[str]:
            yield "before"
            raise RuntimeError("the feed broke")

        return EventSourceResponse(produce(), heartbeat=None)

    @app.get("/lines")
    def lines() -> NDJSONResponse:
        def produce() -> Iterator[object]:  # a sync generator: advanced in the thread pool
            yield {"n": 1}
            yield [2, "two"]
            yield "three"

        return NDJSONResponse(produce())

    return app, trail


def test_events_on_the_wire(make_app: AppFactory) -> None:
    app, _ = stream_app(make_app)
    response = app.test_client().get("/events")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-accel-buffering"] == "no"
    assert "no-store" in response.headers["cache-control"]
    assert "content-length" not in response.headers
    assert response.text == (
        "event: greeting\nid: 1\nretry: 3000\ndata: hello\n\n"
        "id: 2\ndata: two\ndata: lines\ndata: three\n\n"
        'data: {"json":true}\n\n'
        ": just a comment\n\n"
    )


def test_last_event_id_reaches_the_generator(make_app: AppFactory) -> None:
    app, _ = stream_app(make_app)
    client = app.test_client()
    assert client.get("/resume").text == "id: 0\ndata: 0\n\nid: 1\ndata: 1\n\n"
    resumed = client.get("/resume", headers={"last-event-id": "41"})
    assert resumed.text == "id: 42\ndata: 42\n\nid: 43\ndata: 43\n\n"


def test_a_disconnect_cancels_the_generator_and_runs_its_finally(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app, trail = stream_app(make_app)
    with caplog.at_level(logging.INFO, logger="flasgo.access"):
        with app.test_client() as client, client.stream("GET", "/forever") as response:
            assert next(response.iter_bytes()) == b"data: first\n\n"
        assert trail == ["finally"]
    assert [r.getMessage() for r in caplog.records if r.name == "flasgo.access"] == [
        "http-client-disconnected path=/forever"
    ]


def test_heartbeats_while_the_generator_is_quiet(make_app: AppFactory) -> None:
    app, trail = stream_app(make_app)

    async def listen() -> list[bytes]:
        async with app.test_client() as client, client.astream("GET", "/quiet") as response:
            assert isinstance(response, AsyncTestStream)
            chunks = aiter(response.iter_bytes())
            return [await anext(chunks), await anext(chunks)]

    assert asyncio.run(listen()) == [b": ping\n\n"] * 2
    assert trail == ["quiet finally"]


def test_head_sends_headers_and_never_starts_the_generator(make_app: AppFactory) -> None:
    app, trail = stream_app(make_app)
    response = app.test_client().head("/events")
    assert (response.status_code, response.body) == (200, b"")
    assert response.headers["content-type"] == "text/event-stream"
    assert trail == []


def test_a_failing_generator_ends_the_stream_cleanly(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = stream_app(make_app)
    response = app.test_client().get("/broken")
    assert (response.status_code, response.text) == (200, "data: before\n\n")
    assert [r.getMessage() for r in caplog.records if r.name == "flasgo.error"] == ["stream-failed"]


def test_ndjson_lines(make_app: AppFactory) -> None:
    app, _ = stream_app(make_app)
    response = app.test_client().get("/lines")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text == '{"n":1}\n[2,"two"]\n"three"\n'


def test_data_cannot_inject_fields() -> None:
    event = ServerSentEvent("x\nevent: admin\rid: 9")
    assert event.encode() == b"data: x\ndata: event: admin\ndata: id: 9\n\n"


@pytest.mark.parametrize(
    "field",
    [{"event": "a\nb"}, {"id": "1\r2"}, {"id": "nul\0"}, {"comment": "x\ny"}, {"retry": -1}],
)
def test_fields_that_span_lines_are_refused(field: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="server-sent event"):
        ServerSentEvent("data", **field)  # type: ignore[arg-type]


def test_heartbeat_must_be_positive() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        EventSourceResponse([], heartbeat=0)
