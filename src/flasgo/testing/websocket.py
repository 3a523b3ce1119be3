"""WebSocket sessions against an ASGI app: the handshake, frames both ways, and closing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol, TypeVar

import msgspec

from flasgo.exceptions import FlasgoError
from flasgo.testing.asgi import ASGIApp, Message, Scope
from flasgo.testing.channel import MAX_PENDING, call_app, finish_task, next_message
from flasgo.testing.portal import run_with_timeout
from flasgo.testing.validation import WebSocketValidator

__all__ = [
    "AsyncWebSocketTestSession",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketExchange",
    "WebSocketTestSession",
]

T = TypeVar("T")

DEFAULT_RECEIVE_TIMEOUT = 5.0


class WebSocketDenied(FlasgoError):
    """The app refused the handshake: closed before accepting (403) or sent an HTTP response.

    Attributes:
        status_code: The HTTP status of the denial.
        headers: The denial response's headers as ``(name, value)`` pairs.
        body: The denial response's body.
    """

    def __init__(self, status_code: int, headers: list[tuple[str, str]], body: bytes) -> None:
        super().__init__(f"the app denied the websocket handshake with HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers
        self.body = body


class WebSocketClosed(FlasgoError):
    """The app closed the websocket (or returned) while the test expected a message.

    Attributes:
        code: The close code (1006 when the app returned without closing).
        reason: The close reason.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"the app closed the websocket with code {code} {reason!r}")
        self.code = code
        self.reason = reason


class _ClientGoneError(OSError):
    """Raised by `send()` once the test closed the websocket (ASGI: an OSError subclass)."""


def _decode_headers(headers: Any) -> list[tuple[str, str]]:
    return [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers
    ]


class WebSocketExchange:
    """Drive one websocket on the current loop; the sessions below are thin wrappers."""

    def __init__(self, app: ASGIApp, scope: Scope, subprotocols: tuple[str, ...]) -> None:
        self._app = app
        self._scope = scope
        self._validator = WebSocketValidator(subprotocols)
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue(MAX_PENDING)
        self._task: asyncio.Task[None] | None = None
        self._violation: AssertionError | None = None
        self._closed_by: tuple[int, str] | None = None
        self._app_closed = False
        self._client_closed = False
        self._surfaced = False
        self.accepted_subprotocol: str | None = None
        self.response_headers: list[tuple[str, str]] = []

    async def connect(self) -> None:
        """Send `websocket.connect` and wait for the app to accept.

        Raises:
            WebSocketDenied: the app closed or sent an HTTP response instead of accepting.
        """
        self._to_app.put_nowait({"type": "websocket.connect"})
        self._task = asyncio.create_task(
            call_app(self._app, self._scope, self._receive, self._send)
        )
        message = await self._next_or_fail("accepting or denying the websocket")
        if message["type"] == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.response_headers = _decode_headers(message.get("headers", ()))
            return
        if message["type"] == "websocket.close":
            await self._finish(cancel=False)
            raise WebSocketDenied(403, [], b"")
        status, headers, chunks = message["status"], message.get("headers", ()), []
        more_body = True
        while more_body:
            body = await self._next_or_fail("completing its denial response")
            chunks.append(body.get("body", b""))
            more_body = body.get("more_body", False)
        await self._finish(cancel=False)
        raise WebSocketDenied(status, _decode_headers(headers), b"".join(chunks))

    async def send(self, message: Message) -> None:
        """Deliver a raw message (e.g. ``websocket.receive``) to the app.

        Raises:
            WebSocketClosed: the app already closed the websocket.
        """
        if self._closed_by is not None:
            raise WebSocketClosed(*self._closed_by)
        if self._client_closed:
            raise RuntimeError("the websocket session is closed")
        await self._to_app.put(message)

    async def receive(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> Message:  # noqa: ASYNC109
        """Return the app's next `websocket.send` message.

        Raises:
            WebSocketClosed: the app closed the websocket or returned.
            TimeoutError: nothing arrived within `timeout` seconds.
        """
        if self._closed_by is not None:
            raise WebSocketClosed(*self._closed_by)
        message = await run_with_timeout(self._next(), timeout, "receiving a websocket message")
        if message is None:
            await self._raise_app_error()
            self._closed_by = (1006, "app returned without closing the websocket")
            raise WebSocketClosed(*self._closed_by)
        if message["type"] == "websocket.close":
            self._closed_by = (message.get("code", 1000), message.get("reason") or "")
            raise WebSocketClosed(*self._closed_by)
        return message

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side, wait for the app to return and re-raise its error."""
        if self._client_closed or self._task is None:
            return
        self._client_closed = True
        if not self._app_closed:
            self._to_app.put_nowait(
                {"type": "websocket.disconnect", "code": code, "reason": reason}
            )
        assert self._task is not None
        while await next_message(self._from_app, self._task) is not None:
            pass  # NOTE: drain, so an app blocked on a full queue can see the disconnect.
        error = await self._finish(cancel=False)
        if self._surfaced:
            return
        if self._violation is not None:
            raise self._violation
        if error is not None and not isinstance(error, _ClientGoneError):
            raise error

    async def abort(self) -> None:
        """Cancel the app (used when the connecting test failed or timed out)."""
        self._client_closed = True
        if self._task is not None:
            await finish_task(self._task, cancel=True)

    async def _finish(self, *, cancel: bool) -> BaseException | None:
        assert self._task is not None
        return await finish_task(self._task, cancel=cancel)

    async def _next(self) -> Message | None:
        assert self._task is not None, "connect() was not called"
        message = await next_message(self._from_app, self._task)
        if self._violation is not None:
            self._surfaced = True
            raise self._violation
        return message

    async def _raise_app_error(self) -> None:
        error = await self._finish(cancel=False)
        if error is not None:
            self._surfaced = True
            raise error

    async def _next_or_fail(self, doing: str) -> Message:
        message = await self._next()
        if message is not None:
            return message
        await self._raise_app_error()
        raise AssertionError(f"app returned without {doing}")

    async def _receive(self) -> Message:
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        if self._violation is not None:
            raise self._violation
        if self._client_closed:
            raise _ClientGoneError("the test client closed the websocket")
        try:
            self._validator.check(message)
        except AssertionError as exc:
            self._violation = exc
            raise
        if message["type"] == "websocket.close":
            self._app_closed = True
            code = message.get("code", 1000)
            self._to_app.put_nowait({"type": "websocket.disconnect", "code": code, "reason": ""})
        await self._from_app.put(message)


def _text_of(message: Message) -> str:
    text = message.get("text")
    if text is None:
        raise AssertionError(f"expected a text message, got bytes {message.get('bytes')!r}")
    return str(text)


def _bytes_of(message: Message) -> bytes:
    data = message.get("bytes")
    if data is None:
        raise AssertionError(f"expected a bytes message, got text {message.get('text')!r}")
    return bytes(data)


def _json_of(message: Message) -> Any:
    text = message.get("text")
    return msgspec.json.decode(message["bytes"] if text is None else text)


class AsyncRunner(Protocol):
    """Runs a coroutine on the loop that owns the app (the current one or a portal's)."""

    def __call__(self, coro: Coroutine[Any, Any, T], /) -> Awaitable[T]: ...


class SyncRunner(Protocol):
    """Runs a coroutine on a portal loop and returns its result."""

    def __call__(self, coro: Coroutine[Any, Any, T], /) -> T: ...


class AsyncWebSocketTestSession:
    """An accepted websocket, used with ``async with client.awebsocket_connect(...)``.

    Attributes:
        accepted_subprotocol: The subprotocol the app chose, if any.
        response_headers: Extra headers the app sent with `websocket.accept`.
    """

    __test__ = False

    def __init__(self, exchange: WebSocketExchange, run: AsyncRunner, timeout: float) -> None:
        self._exchange = exchange
        self._run = run
        self._timeout = timeout
        self.accepted_subprotocol = exchange.accepted_subprotocol
        self.response_headers = exchange.response_headers

    async def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app."""
        await self._run(self._exchange.send(message))

    async def send_text(self, data: str) -> None:
        """Send a text frame."""
        await self.send({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        await self.send({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: object) -> None:
        """Send `data` encoded as JSON in a text frame."""
        await self.send_text(msgspec.json.encode(data).decode())

    async def receive(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> Message:  # noqa: ASYNC109
        """Return the app's next raw `websocket.send` message.

        Raises:
            WebSocketClosed: the app closed the websocket.
            TimeoutError: nothing arrived within `timeout` seconds.
        """
        return await self._run(self._exchange.receive(timeout))

    async def receive_text(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> str:  # noqa: ASYNC109
        """Return the next text frame."""
        return _text_of(await self.receive(timeout))

    async def receive_bytes(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> bytes:  # noqa: ASYNC109
        """Return the next binary frame."""
        return _bytes_of(await self.receive(timeout))

    async def receive_json(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> Any:  # noqa: ASYNC109
        """Return the next frame decoded as JSON."""
        return _json_of(await self.receive(timeout))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the websocket and wait for the app to return (re-raising its error)."""
        coro = run_with_timeout(self._exchange.close(code, reason), self._timeout, "the app")
        await self._run(coro)


class WebSocketTestSession:
    """An accepted websocket, used with ``with client.websocket_connect(...)``.

    Attributes:
        accepted_subprotocol: The subprotocol the app chose, if any.
        response_headers: Extra headers the app sent with `websocket.accept`.
    """

    __test__ = False

    def __init__(self, exchange: WebSocketExchange, run: SyncRunner, timeout: float) -> None:
        self._exchange = exchange
        self._run = run
        self._timeout = timeout
        self.accepted_subprotocol = exchange.accepted_subprotocol
        self.response_headers = exchange.response_headers

    def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app."""
        self._run(self._exchange.send(message))

    def send_text(self, data: str) -> None:
        """Send a text frame."""
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: object) -> None:
        """Send `data` encoded as JSON in a text frame."""
        self.send_text(msgspec.json.encode(data).decode())

    def receive(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> Message:
        """Return the app's next raw `websocket.send` message.

        Raises:
            WebSocketClosed: the app closed the websocket.
            TimeoutError: nothing arrived within `timeout` seconds.
        """
        return self._run(self._exchange.receive(timeout))

    def receive_text(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> str:
        """Return the next text frame."""
        return _text_of(self.receive(timeout))

    def receive_bytes(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> bytes:
        """Return the next binary frame."""
        return _bytes_of(self.receive(timeout))

    def receive_json(self, timeout: float = DEFAULT_RECEIVE_TIMEOUT) -> Any:
        """Return the next frame decoded as JSON."""
        return _json_of(self.receive(timeout))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the websocket and wait for the app to return (re-raising its error)."""
        self._run(run_with_timeout(self._exchange.close(code, reason), self._timeout, "the app"))
