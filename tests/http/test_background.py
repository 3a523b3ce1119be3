"""BackgroundTasks run after the response is sent, in order, and not when the handler failed."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from flasgo import BackgroundTasks, Flasgo
from tests.asgi import http_scope


def build(events: list[str]) -> Flasgo:
    app = Flasgo()

    def sync_task(name: str) -> None:
        events.append(f"{name}:{threading.current_thread().name.startswith('flasgo-sync')}")

    async def async_task(name: str) -> None:
        events.append(name)

    def broken() -> None:
        raise RuntimeError("task failed")

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> str:
        tasks.add_task(sync_task, "sync")
        tasks.add_task(broken)
        tasks.add_task(async_task, name="async")
        return "sent"

    @app.get("/fail")
    def fail(tasks: BackgroundTasks) -> str:
        tasks.add_task(async_task, "never")
        raise RuntimeError("handler failed")

    return app


def test_tasks_run_after_the_response_and_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    client = build(events).test_client()
    assert client.get("/").text == "sent"
    assert events == ["sync:True", "async"]
    assert "background-task-failed" in caplog.text
    assert client.get("/fail").status_code == 500
    assert events == ["sync:True", "async"]


def test_tasks_start_only_after_the_body_was_sent() -> None:
    events: list[str] = []
    app = build(events)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])

    asyncio.run(app(http_scope("/"), receive, send))
    assert events == ["http.response.start", "http.response.body", "sync:True", "async"]
