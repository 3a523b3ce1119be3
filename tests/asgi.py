"""A minimal raw-ASGI driver for tests that need exact control over messages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
    query_string: bytes = b"",
    root_path: str = "",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": query_string,
        "root_path": root_path,
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }


class Result:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        start = messages[0]
        assert start["type"] == "http.response.start"
        self.status: int = start["status"]
        self.headers = [(k.decode(), v.decode()) for k, v in start["headers"]]
        self.body = b"".join(m.get("body", b"") for m in messages[1:])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


async def acall(
    app: Any,
    scope: dict[str, Any],
    body_messages: Sequence[dict[str, Any]] = (),
    *,
    hang_after: bool = False,
) -> Result:
    queue = list(body_messages) or [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        if hang_after:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return Result(sent)


def call(
    app: Any, scope: dict[str, Any], body_messages: Sequence[dict[str, Any]] = (), **kwargs: Any
) -> Result:
    return asyncio.run(acall(app, scope, body_messages, **kwargs))
