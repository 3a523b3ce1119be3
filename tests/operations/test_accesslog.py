"""The access log: one line per request, text or JSON, on when asked for (or in DEBUG)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from flasgo import Flasgo
from flasgo.accesslog import access_log
from flasgo.logs import configure_logging
from tests.conftest import AppFactory, ClientFactory


@pytest.fixture
def access_lines() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    recorder = Recorder(logging.DEBUG)
    level = access_log.level
    access_log.addHandler(recorder)
    access_log.setLevel(logging.INFO)
    try:
        yield records
    finally:
        access_log.removeHandler(recorder)
        access_log.setLevel(level)


def app_with_routes(make_app: AppFactory, **settings: Any) -> Flasgo:
    app = make_app(**settings)

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


def test_off_by_default(
    make_app: AppFactory, make_client: ClientFactory, access_lines: list[logging.LogRecord]
):
    app = app_with_routes(make_app)
    make_client(app).get("/items/1")
    assert access_lines == []
    assert app.pipeline is not None
    assert app._http == app.pipeline.handle  # PERF: nothing wraps the entry


def test_one_text_line_per_request_with_the_route_template(
    make_app: AppFactory, make_client: ClientFactory, access_lines: list[logging.LogRecord]
):
    client = make_client(app_with_routes(make_app, ACCESS_LOG="on"), client=("10.0.0.9", 5000))
    response = client.get("/items/42", headers={"x-request-id": "ignored"})

    [record] = access_lines
    message = record.getMessage()
    assert message.startswith("GET /items/<int:item_id> 200 ")
    request_id = record.__dict__["request_id"]
    assert f"request_id={request_id} client=10.0.0.9" in message
    assert request_id != "ignored"
    assert (record.__dict__["method"], record.__dict__["status"]) == ("GET", 200)
    assert isinstance(record.__dict__["duration_ms"], float)
    assert record.levelno == logging.INFO
    assert response.status_code == 200


def test_debug_turns_it_on_and_off_wins(
    make_app: AppFactory, make_client: ClientFactory, access_lines: list[logging.LogRecord]
):
    make_client(app_with_routes(make_app, DEBUG=True)).get("/items/1")
    make_client(app_with_routes(make_app, DEBUG=True, ACCESS_LOG="off")).get("/items/2")
    assert [record.getMessage().split()[:3] for record in access_lines] == [
        ["GET", "/items/<int:item_id>", "200"]
    ]


def test_unmatched_paths_are_logged_escaped(
    make_app: AppFactory, make_client: ClientFactory, access_lines: list[logging.LogRecord]
):
    client = make_client(app_with_routes(make_app, ACCESS_LOG="on"))
    client.get("/missing%0d%0aFAKE 200")

    [record] = access_lines
    assert record.getMessage().startswith("GET /missing\\x0d\\x0aFAKE\\x20200 404 ")
    assert "\n" not in record.getMessage()


def test_refusals_and_errors_are_logged_with_their_status(
    make_app: AppFactory, make_client: ClientFactory, access_lines: list[logging.LogRecord]
):
    app = app_with_routes(make_app, ACCESS_LOG="on")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    client = make_client(app)
    client.get("/items/1", headers={"host": "evil.example"})
    client.get("/boom")
    assert [(r.__dict__["route"], r.__dict__["status"]) for r in access_lines] == [
        ("/items/1", 400),
        ("/boom", 500),
    ]


def test_json_lines(make_app: AppFactory, make_client: ClientFactory):
    stream = io.StringIO()
    logger = configure_logging(format="json", stream=stream)
    try:
        app = app_with_routes(make_app, ACCESS_LOG="on")
        make_client(app, client=("10.1.2.3", 4000)).get("/items/3")
    finally:
        for handler in list(logger.handlers):
            if getattr(handler, "_flasgo", False):
                logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["logger"] == "flasgo.access"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/items/<int:item_id>", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["client"] == "10.1.2.3"
