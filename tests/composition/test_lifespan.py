"""Lifespan: startup/shutdown hooks, @app.lifespan contexts, failures, app.state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flasgo import Flasgo, current_app


async def run_lifespan(app: Flasgo) -> list[dict[str, Any]]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


def test_startup_and_shutdown_run_in_order() -> None:
    app = Flasgo()
    events: list[str] = []

    @app.lifespan
    async def resources(the_app: Flasgo) -> AsyncIterator[None]:
        events.append("context enter")
        the_app.state.db = "connected"
        yield
        events.append("context exit")

    @app.on_startup
    def sync_start() -> None:
        events.append(f"startup sees {current_app.state.db}")

    @app.on_shutdown
    async def async_stop() -> None:
        events.append("shutdown")

    sent = asyncio.run(run_lifespan(app))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["context enter", "startup sees connected", "shutdown", "context exit"]


def test_startup_failure_is_reported_with_the_error() -> None:
    app = Flasgo()

    @app.on_startup
    async def broken() -> None:
        raise RuntimeError("database unreachable")

    sent = asyncio.run(run_lifespan(app))
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "database unreachable" in sent[0]["message"]


def test_lifespan_that_yields_twice_fails_shutdown() -> None:
    app = Flasgo()

    @app.lifespan
    async def twice() -> AsyncIterator[None]:
        yield
        yield

    sent = asyncio.run(run_lifespan(app))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]


def test_test_client_context_runs_lifespan_and_state_is_visible() -> None:
    app = Flasgo()

    @app.lifespan
    async def setup(the_app: Flasgo) -> AsyncIterator[None]:
        the_app.state.greeting = "hello"
        yield

    @app.get("/")
    def index() -> str:
        return current_app.state.greeting  # type: ignore[no-any-return]

    with app.test_client() as client:
        assert client.get("/").text == "hello"


def test_test_client_raises_on_startup_failure() -> None:
    app = Flasgo()

    @app.on_startup
    def broken() -> None:
        raise ValueError("bad config")

    with pytest.raises(RuntimeError, match="bad config"), app.test_client():
        pass
