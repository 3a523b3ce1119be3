"""The `WebSocket` connection handlers receive: handshake, messages, close codes.

It owns what a single connection enforces on its own: the message size (close 1009), text
that is not UTF-8 (1007), the frame type a handler asked for (1003), the per-connection
message rate and burst (1008), the idle timeout (1001), and `WebSocketException(code,
reason)`. Each violation is reported to the dispatcher (``on_violation``), which logs it as
a security event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from flasgo.cookies import parse_cookie_header
from flasgo.datastructures import Headers, MultiDict
from flasgo.exceptions import FlasgoError
from flasgo.jsonenc import decode_json, encode_json
from flasgo.querystring import parse_query_string
from flasgo.response import ResponseHeaders

if TYPE_CHECKING:
    from flasgo.request import Request, RequestApp
    from flasgo.sessiondata import Session
    from flasgo.settings import Settings
    from flasgo.user import User

__all__ = ["SocketLimits", "Violation", "WebSocket", "WebSocketDisconnect", "WebSocketException"]

log = logging.getLogger("flasgo.websocket")

_SENDABLE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def _encoded(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    # SECURITY: validated like response headers (token names; no CR, LF or NUL in values;
    # ISO-8859-1 only), so a handshake header cannot inject another or fail in the server.
    checked = ResponseHeaders(headers)
    return [(name.encode("latin-1"), checked[name].encode("latin-1")) for name in checked]


class WebSocketDisconnect(FlasgoError):
    """The peer closed the connection (or it was closed by the server)."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}")
        self.code = code
        self.reason = reason


class WebSocketException(FlasgoError):
    """Raise in a WebSocket handler to close the connection with `code` and `reason`.

    Before the handshake was accepted it refuses the handshake (the server answers 403).

    Args:
        code: A close code an endpoint may send (1000-1014 or 3000-4999).
        reason: A short reason (at most 123 bytes of UTF-8).

    Raises:
        ValueError: The code may not be sent or the reason is too long.
    """

    def __init__(self, code: int = 1008, reason: str = "") -> None:
        check_close(code, reason)
        super().__init__(f"WebSocket closed with code {code}: {reason}")
        self.code = code
        self.reason = reason


def check_close(code: int, reason: str) -> None:
    """Validate a close code and reason an endpoint wants to send.

    Raises:
        ValueError: The code may not be sent or the reason is over 123 bytes.
    """
    if not (code in _SENDABLE_CODES or 3000 <= code <= 4999):
        raise ValueError(f"{code} is not a close code an endpoint may send.")
    if len(reason.encode()) > 123:
        raise ValueError("A close reason must be at most 123 bytes.")


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """What each connection enforces, read once from the settings.

    Attributes:
        max_message_bytes: Largest message (close 1009 above it).
        messages_per_minute: Sustained message rate (close 1008 above it).
        burst: Messages a connection may send at once before the rate applies.
        idle_timeout: Seconds a receive waits for the peer before closing 1001 (0: never).
    """

    max_message_bytes: int
    messages_per_minute: int
    burst: int
    idle_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SocketLimits:
        """The limits the ``WEBSOCKET_*`` settings describe."""
        return cls(
            settings.WEBSOCKET_MAX_MESSAGE_BYTES,
            settings.WEBSOCKET_MAX_MESSAGES_PER_MINUTE,
            settings.WEBSOCKET_MESSAGE_BURST,
            settings.WEBSOCKET_IDLE_TIMEOUT,
        )


# A violation the connection closed on: its reason code (the security event) and close code.
Violation = Callable[[str, int], Awaitable[None]]


class WebSocket:
    """One WebSocket connection.

    Attributes:
        scope: The ASGI scope.
        app: The app serving it.
        path_params: Values of the route's placeholders.
        state: A dict for your own per-connection data.
    """

    def __init__(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        app: RequestApp,
        path_params: dict[str, Any] | None = None,
        *,
        limits: SocketLimits | None = None,
        request: Request | None = None,
        subprotocols: tuple[str, ...] = (),
        on_violation: Violation | None = None,
    ) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.app = app
        self.path_params = path_params or {}
        self.state: dict[str, Any] = {}
        self.accepted = False
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._connected = False
        self._headers: Headers | None = None
        self._args: MultiDict | None = None
        self._limits = limits or SocketLimits.from_settings(app.settings)
        self._request = request
        self._preferred = subprotocols
        self._on_violation = on_violation
        self._on_accept: Callable[[], object] | None = None
        self.accepted_subprotocol: str | None = None
        self._tokens = float(self._limits.burst)
        self._stamp = time.monotonic()

    # -- the handshake ---------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The request path."""
        return str(self.scope["path"])

    @property
    def headers(self) -> Headers:
        """Handshake headers (case-insensitive, duplicates kept)."""
        if self._headers is None:
            self._headers = Headers(self.scope["headers"])
        return self._headers

    @property
    def args(self) -> MultiDict:
        """Query string parameters of the handshake."""
        if self._args is None:
            self._args = parse_query_string(
                self.scope.get("query_string", b""),
                max_fields=self.app.settings.MAX_FORM_FIELDS,
            )
        return self._args

    query_params = args

    @property
    def cookies(self) -> dict[str, str]:
        """Handshake cookies."""
        values = self.headers.getlist("cookie")
        return parse_cookie_header("; ".join(values)) if values else {}

    @property
    def subprotocols(self) -> list[str]:
        """Subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols", []))

    def on_accept(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the handshake is accepted (the dispatcher's timeout)."""
        self._on_accept = callback

    @property
    def request(self) -> Request:
        """The handshake as a `Request` (headers, cookies, session, user, request id).

        Raises:
            RuntimeError: The connection was made without one (outside the dispatcher).
        """
        if self._request is None:
            raise RuntimeError("This WebSocket has no handshake request.")
        return self._request

    @property
    def session(self) -> Session:
        """The session the handshake carried (read-only: a WebSocket never writes it)."""
        return self.request.session

    @property
    def user(self) -> User:
        """Who opened the connection (the route's auth backend, else the session)."""
        return self.request.user

    @property
    def client(self) -> tuple[str, int] | None:
        """The client's (host, port), if known."""
        client = self.scope.get("client")
        return (str(client[0]), int(client[1])) if client else None

    async def _wait_connect(self) -> None:
        if self._connected:
            return
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            raise WebSocketDisconnect(message.get("code", 1006), message.get("reason") or "")
        self._connected = True

    async def accept(
        self, subprotocol: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        """Accept the connection, optionally choosing one of the offered subprotocols.

        Raises:
            ValueError: `subprotocol` was not offered by the client, or a header name or
                value is invalid (CR, LF, NUL, not ISO-8859-1).
            RuntimeError: The connection was already accepted or closed.
        """
        if self.accepted or self.closed:
            raise RuntimeError("This WebSocket was already accepted or closed.")
        offered = self.subprotocols
        if subprotocol is not None and subprotocol not in offered:
            raise ValueError(f"The client did not offer subprotocol {subprotocol!r}.")
        if subprotocol is None and self._preferred:
            # The route's subprotocols, in the server's order of preference.
            subprotocol = next((p for p in self._preferred if p in offered), None)
        extra = _encoded(headers) if headers else None
        await self._wait_connect()
        message: dict[str, Any] = {"type": "websocket.accept", "subprotocol": subprotocol}
        if extra:
            message["headers"] = extra
        await self._send(message)
        self.accepted = True
        self.accepted_subprotocol = subprotocol
        if self._on_accept is not None:
            self._on_accept()

    async def deny(
        self,
        status_code: int = 403,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Refuse the handshake with an HTTP response when the server supports it
        (``websocket.http.response``), else by closing with 1008.

        Raises:
            ValueError: A header name or value is invalid (CR, LF, NUL, not ISO-8859-1).
        """
        if self.accepted or self.closed:
            raise RuntimeError("Only a WebSocket that was not accepted can be denied.")
        extra = _encoded(headers) if headers else []
        await self._wait_connect()
        self.closed = True
        if "websocket.http.response" in self.scope.get("extensions", {}):
            body = (detail or "Forbidden").encode()
            raw = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ]
            raw.extend(extra)
            await self._send(
                {"type": "websocket.http.response.start", "status": status_code, "headers": raw}
            )
            await self._send({"type": "websocket.http.response.body", "body": body})
        else:
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})
        self.close_code = 1008

    # -- messages ------------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        """The next raw ASGI message (``websocket.receive`` or ``websocket.disconnect``).

        A message over the connection's rate closes it with 1008; a peer silent for longer
        than ``WEBSOCKET_IDLE_TIMEOUT`` is closed with 1001.

        Raises:
            WebSocketDisconnect: The rate or idle limit closed the connection.
        """
        if not self.accepted:
            raise RuntimeError("Call accept() before receiving messages.")
        idle = self._limits.idle_timeout
        if idle:
            try:
                async with asyncio.timeout(idle):
                    message: dict[str, Any] = await self._receive()
            except TimeoutError:
                await self._violate("websocket-idle-timeout", 1001, "Idle timeout")
        else:
            message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
        elif not self._take_token():
            await self._violate("websocket-rate-limited", 1008, "Too many messages")
        return message

    def _take_token(self) -> bool:
        """Token bucket: `burst` at once, refilled at ``messages_per_minute``."""
        limits = self._limits
        now = time.monotonic()
        tokens = min(
            float(limits.burst),
            self._tokens + (now - self._stamp) * limits.messages_per_minute / 60.0,
        )
        self._stamp = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True

    async def _violate(self, reason_code: str, code: int, reason: str) -> NoReturn:
        """Close with `code`, report the violation, and raise `WebSocketDisconnect`."""
        await self.close(code, reason)
        if self._on_violation is not None:
            await self._on_violation(reason_code, code)
        raise WebSocketDisconnect(code, reason)

    async def _receive_data(self) -> str | bytes:
        if self.closed:
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        text = message.get("text")
        limit = self._limits.max_message_bytes
        if text is not None:
            # PERF: ASCII text is measured without encoding it.
            if text.isascii():
                size = len(text)
            else:
                try:
                    size = len(text.encode())
                except UnicodeEncodeError:  # lone surrogates: the frame was not UTF-8
                    await self._violate("websocket-invalid-utf8", 1007, "Invalid UTF-8")
            if size > limit:
                await self._violate("websocket-message-too-big", 1009, "Message too big")
            return str(text)
        data = message.get("bytes") or b""
        if len(data) > limit:
            await self._violate("websocket-message-too-big", 1009, "Message too big")
        return bytes(data)

    async def receive_text(self) -> str:
        """The next text message (a bytes message closes with 1003)."""
        data = await self._receive_data()
        if not isinstance(data, str):
            await self._violate("websocket-wrong-frame", 1003, "Expected a text message")
        return data

    async def receive_bytes(self) -> bytes:
        """The next binary message (a text message closes with 1003)."""
        data = await self._receive_data()
        if not isinstance(data, bytes):
            await self._violate("websocket-wrong-frame", 1003, "Expected a binary message")
        return data

    async def receive_json(self) -> Any:
        """The next message decoded as JSON (invalid JSON closes with 1007)."""
        data = await self._receive_data()
        raw = data.encode() if isinstance(data, str) else data
        try:
            return decode_json(raw, max_depth=self.app.settings.MAX_JSON_DEPTH)
        except FlasgoError:
            await self._violate("websocket-invalid-json", 1007, "Invalid JSON")

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield text messages until the peer disconnects."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary messages until the peer disconnects."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON messages until the peer disconnects."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            return

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        await self._send_message({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self._send_message({"type": "websocket.send", "bytes": bytes(data)})

    async def send_json(self, data: Any, *, binary: bool = False) -> None:
        """Send `data` encoded as JSON (as text unless `binary`)."""
        encoded = encode_json(data)
        if binary:
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode())

    async def _send_message(self, message: dict[str, Any]) -> None:
        if not self.accepted:
            raise RuntimeError("Call accept() before sending messages.")
        if self.closed:
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        await self._send(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with `code` (1000-1014 or 3000-4999) and a short reason."""
        check_close(code, reason)
        if self.closed:
            return
        if not self.accepted:
            await self._wait_connect()
        self.closed = True
        self.close_code = code
        self.close_reason = reason
        await self._send({"type": "websocket.close", "code": code, "reason": reason})
