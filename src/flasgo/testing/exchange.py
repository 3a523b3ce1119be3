"""One HTTP request run through an ASGI app, its response handed out message by message."""

from __future__ import annotations

import asyncio

from flasgo.testing.asgi import ASGIApp, Message, Scope
from flasgo.testing.channel import MAX_PENDING, call_app, finish_task, next_message
from flasgo.testing.validation import HTTPResponseValidator

__all__ = ["HTTPExchange"]

# Seconds an app that watches for the disconnect gets to end on its own before it is cancelled.
DISCONNECT_GRACE = 2.0


class HTTPExchange:
    """Drive one HTTP request: `start()`, then `next_chunk()` until None, then `aclose()`.

    The request body goes to the app as one `http.request` message; a later `receive()` waits
    until the response is complete (or the client gave up) and then reports `http.disconnect`.
    Every message the app sends is validated; a violation or an app exception is re-raised here.
    """

    def __init__(self, app: ASGIApp, scope: Scope, body: bytes) -> None:
        self._app = app
        self._scope = scope
        self._body = body
        self._validator = HTTPResponseValidator()
        self._messages: asyncio.Queue[Message] = asyncio.Queue(MAX_PENDING)
        self._request_sent = False
        self._watching = False
        self._gone = asyncio.Event()
        self._violation: AssertionError | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self._surfaced = False
        self.status_code = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []

    async def start(self) -> None:
        """Call the app and wait for its `http.response.start`."""
        self._task = asyncio.create_task(
            call_app(self._app, self._scope, self._receive, self._send)
        )
        message = await self._next()
        self.status_code = message["status"]
        self.raw_headers = [
            (bytes(name), bytes(value)) for name, value in message.get("headers", ())
        ]

    async def next_chunk(self) -> bytes | None:
        """Return the next body chunk, or None after the final one was returned."""
        if self._finished:
            return None
        message = await self._next()
        if not message.get("more_body", False):
            self._finished = True
        body: bytes = message.get("body", b"")
        return body

    async def read(self) -> bytes:
        """Return the rest of the body."""
        chunks = []
        while (chunk := await self.next_chunk()) is not None:
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """End the exchange and re-raise the app's violation or exception not yet reported.

        After the final body the app may keep running (background work) and is awaited; an
        abandoned response is treated as a client disconnect and the app is cancelled.
        """
        task = self._task
        if task is None:
            return
        self._task = None
        self._gone.set()
        if not self._finished and self._watching:
            # The app listens for http.disconnect: let it notice and end by itself, as it
            # would under a server, so its own cleanup path is what runs.
            await asyncio.wait((task,), timeout=DISCONNECT_GRACE)
        error = await finish_task(task, cancel=not self._finished)
        if self._surfaced:
            return
        if self._violation is not None:
            raise self._violation
        if error is not None:
            raise error

    async def _next(self) -> Message:
        assert self._task is not None, "start() was not called"
        message = await next_message(self._messages, self._task)
        if self._violation is not None:
            self._surfaced = True
            raise self._violation
        if message is not None:
            return message
        self._surfaced = True
        error = await finish_task(self._task, cancel=False)
        if error is not None:
            raise error
        raise AssertionError("app returned without sending a complete response")

    async def _receive(self) -> Message:
        if not self._request_sent:
            self._request_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        self._watching = True
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._violation is not None:
            raise self._violation
        try:
            self._validator.check(message)
        except AssertionError as exc:
            self._violation = exc
            raise
        if self._validator.is_complete:
            self._gone.set()
        await self._messages.put(message)
