"""Drive an ASGI app in-process: synthetic scopes, a one-shot `receive`, lifespan, checks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from benchmarks.endpoints import HOST, Endpoint, Probe

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_DISCONNECT: Message = {"type": "http.disconnect"}


Headers = list[tuple[bytes, bytes]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def build_scope(
    endpoint: Endpoint, probe: Probe, unsafe_headers: Headers | None = None
) -> dict[str, Any]:
    """Return the http scope a server would pass for `probe` (without `state`, set per request).

    `unsafe_headers` (see `csrf_headers`) are added when the method is not a safe one.
    """
    headers = [
        (b"host", HOST.encode()),
        (b"user-agent", b"flasgo-bench"),
        (b"accept", b"*/*"),
    ]
    if unsafe_headers and endpoint.method not in SAFE_METHODS:
        headers += unsafe_headers
    if endpoint.body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(endpoint.body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": endpoint.method,
        "root_path": "",
        "path": probe.path,
        "raw_path": probe.path.encode(),
        "query_string": probe.query.encode(),
        "headers": headers,
    }


def receiver(body: bytes) -> Receive:
    """Return a `receive` that yields the request body once, then a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return _DISCONNECT
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def sink(message: Message) -> None:
    """A `send` that drops every message (the timed loops use it)."""


class Lifespan:
    """Run an app's lifespan protocol: startup before the benchmark, shutdown after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        finally:
            await self._outbox.put({"type": "lifespan.ended"})

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(self._outbox.get(), timeout=30)
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"lifespan startup failed: {message.get('message')}")
        # "lifespan.ended" here means the app does not speak lifespan; that is fine.

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._outbox.get(), timeout=30)
        try:
            await asyncio.wait_for(self._task, timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()


async def call(
    app: ASGIApp, scope: dict[str, Any], body: bytes, state: dict[str, Any]
) -> list[Message]:
    """Call `app` once and return every message it sent."""
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    await app({**scope, "state": state.copy()}, receiver(body), send)
    return messages


def csrf_cookie(set_cookies: list[bytes]) -> tuple[bytes, bytes] | None:
    """Return the (name, value) of a CSRF cookie among `Set-Cookie` values, if there is one."""
    for set_cookie in set_cookies:
        name, _, value = set_cookie.split(b";", 1)[0].strip().partition(b"=")
        if b"csrf" in name.lower() and value:
            return name, value
    return None


def unsafe_request_headers(cookie: tuple[bytes, bytes] | None, origin: bytes) -> Headers:
    """Return what a same-origin browser client sends on unsafe requests: its CSRF cookie, the
    token echoed in `X-CSRF-Token`, and `Origin` (nothing when the app issued no CSRF cookie)."""
    if cookie is None:
        return []
    name, value = cookie
    return [(b"cookie", name + b"=" + value), (b"x-csrf-token", value), (b"origin", origin)]


async def csrf_headers(app: ASGIApp, state: dict[str, Any]) -> Headers:
    """GET / once, as a browser's first visit (a page), and return the headers for unsafe requests.

    Apps with CSRF protection (Flasgo's secure defaults) issue their cookie on that page;
    the benchmark then measures the POST a legitimate same-origin client makes.
    """
    scope = build_scope(Endpoint("first-visit", "GET", ()), Probe("/", "", None))
    messages = await call(app, scope, b"", state)
    start = messages[0] if messages else {}
    cookies = [bytes(v) for k, v in start.get("headers", []) if bytes(k).lower() == b"set-cookie"]
    return unsafe_request_headers(csrf_cookie(cookies), b"http://" + HOST.encode())


def _canonical(value: object) -> str:
    # NOTE: compared as canonical JSON text so that 42 != 42.0 and "2" != 2.
    return json.dumps(value, sort_keys=True)


def verify(endpoint: Endpoint, probe: Probe, messages: list[Message]) -> str | None:
    """Return why the response to `probe` is wrong, or None if it is exactly right."""
    if not messages or messages[0].get("type") != "http.response.start":
        return f"{probe.target}: no http.response.start (got {messages[:1]!r})"
    status = messages[0].get("status")
    headers = {bytes(k).lower(): bytes(v) for k, v in messages[0].get("headers", [])}
    bodies = [m for m in messages[1:] if m.get("type") == "http.response.body"]
    body = b"".join(m.get("body", b"") for m in bodies)
    if status != 200:
        return f"{probe.target}: status {status}, body {body[:200]!r}"
    if not bodies or bodies[-1].get("more_body", False):
        return f"{probe.target}: response body never completed"
    content_type = headers.get(b"content-type", b"").decode()
    if not content_type.startswith(endpoint.content_type):
        return f"{probe.target}: content-type {content_type!r}, want {endpoint.content_type}"
    if endpoint.is_text:
        ok = body == str(probe.expected).encode()
    else:
        try:
            ok = _canonical(json.loads(body)) == _canonical(probe.expected)
        except ValueError:
            ok = False
    if not ok:
        return f"{probe.target}: body {body[:200]!r}, want {probe.expected!r}"
    return None
