"""Check every ASGI message an app sends against the spec; a violation is an AssertionError.

The test client runs each message through a validator before acting on it, so a malformed app
fails its test with a message naming the rule it broke, instead of misbehaving later under a real
server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

__all__ = ["HTTPResponseValidator", "WebSocketValidator", "check_headers"]

_FORBIDDEN_IN_NAME = frozenset(b"\r\n\0 \t:")
_FORBIDDEN_IN_VALUE = frozenset(b"\r\n\0")


def _fail(rule: str) -> AssertionError:
    return AssertionError(f"invalid ASGI message: {rule}")


def _message_type(message: object) -> str:
    if not isinstance(message, Mapping):
        raise _fail(f"a message must be a dict, got {type(message).__name__}")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise _fail(f"a message needs a str 'type', got {kind!r}")
    return kind


def _check_bool(message: Mapping[str, Any], key: str) -> bool:
    value = message.get(key, False)
    if not isinstance(value, bool):
        raise _fail(f"{message['type']} '{key}' must be a bool, got {type(value).__name__}")
    return value


def _check_body(message: Mapping[str, Any]) -> None:
    body = message.get("body", b"")
    if not isinstance(body, bytes):
        raise _fail(f"{message['type']} 'body' must be bytes, got {type(body).__name__}")


def _check_status(message: Mapping[str, Any]) -> None:
    status = message.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise _fail(f"{message['type']} 'status' must be an int, got {status!r}")
    if not 100 <= status <= 599:
        raise _fail(f"{message['type']} 'status' must be within 100-599, got {status}")


def check_headers(headers: object, where: str) -> list[tuple[bytes, bytes]]:
    """Validate ASGI headers (an iterable of `(name, value)` byte pairs) and return them as a list.

    Raises:
        AssertionError: a pair is malformed or a name/value holds forbidden characters.
    """
    if isinstance(headers, (str, bytes, Mapping)) or not isinstance(headers, Iterable):
        raise _fail(f"{where} 'headers' must be an iterable of pairs, got {type(headers).__name__}")
    checked: list[tuple[bytes, bytes]] = []
    for pair in headers:
        if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise _fail(f"{where} header {pair!r} is not a (name, value) pair")
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise _fail(f"{where} header {pair!r} must be a pair of bytes")
        if not name or _FORBIDDEN_IN_NAME.intersection(name):
            raise _fail(f"{where} header name {name!r} is empty or holds a forbidden character")
        if _FORBIDDEN_IN_VALUE.intersection(value):
            raise _fail(f"{where} header {name!r} value holds CR, LF or NUL")
        checked.append((name, value))
    return checked


class HTTPResponseValidator:
    """Follow one HTTP response: a single start, then bodies until `more_body` is false."""

    def __init__(self) -> None:
        self.state: Literal["start", "body", "complete"] = "start"

    @property
    def is_complete(self) -> bool:
        """Tell whether the final body message was sent."""
        return self.state == "complete"

    def check(self, message: object) -> None:
        """Validate the next message the app sends.

        Raises:
            AssertionError: the message is malformed or out of order.
        """
        kind = _message_type(message)
        assert isinstance(message, Mapping)
        if self.state == "complete":
            raise _fail(f"{kind} sent after the response was complete")
        if kind == "http.response.start":
            if self.state != "start":
                raise _fail("http.response.start sent twice")
            _check_status(message)
            check_headers(message.get("headers", ()), kind)
            if _check_bool(message, "trailers"):
                raise _fail("trailers=True needs the http.response.trailers extension")
            self.state = "body"
        elif kind == "http.response.body":
            if self.state != "body":
                raise _fail("http.response.body sent before http.response.start")
            _check_body(message)
            if not _check_bool(message, "more_body"):
                self.state = "complete"
        else:
            raise _fail(f"unexpected message type {kind!r} for an HTTP request")


class WebSocketValidator:
    """Follow one WebSocket: accept, close or a denial response, then frames, then close."""

    def __init__(self, subprotocols: Sequence[str]) -> None:
        self.state: Literal["connecting", "denying", "open", "closed"] = "connecting"
        self._subprotocols = tuple(subprotocols)

    def check(self, message: object) -> None:
        """Validate the next message the app sends.

        Raises:
            AssertionError: the message is malformed or out of order.
        """
        kind = _message_type(message)
        assert isinstance(message, Mapping)
        if self.state == "closed":
            raise _fail(f"{kind} sent after the websocket was closed")
        if kind == "websocket.close":
            self._check_close(message)
        elif self.state == "connecting":
            self._check_handshake(kind, message)
        elif self.state == "denying" and kind == "websocket.http.response.body":
            _check_body(message)
            if not _check_bool(message, "more_body"):
                self.state = "closed"
        elif self.state == "open" and kind == "websocket.send":
            self._check_send(message)
        else:
            raise _fail(f"unexpected message type {kind!r} while the websocket is {self.state}")

    def _check_handshake(self, kind: str, message: Mapping[str, Any]) -> None:
        if kind == "websocket.accept":
            subprotocol = message.get("subprotocol")
            if subprotocol is not None and subprotocol not in self._subprotocols:
                raise _fail(f"websocket.accept subprotocol {subprotocol!r} was not offered")
            check_headers(message.get("headers", ()), kind)
            self.state = "open"
        elif kind == "websocket.http.response.start":
            _check_status(message)
            check_headers(message.get("headers", ()), kind)
            self.state = "denying"
        else:
            raise _fail(f"{kind} sent before websocket.accept")

    def _check_close(self, message: Mapping[str, Any]) -> None:
        if self.state == "denying":
            raise _fail("websocket.close sent during a denial response")
        code = message.get("code", 1000)
        if not isinstance(code, int) or isinstance(code, bool):
            raise _fail(f"websocket.close 'code' must be an int, got {code!r}")
        reason = message.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise _fail(f"websocket.close 'reason' must be a str, got {type(reason).__name__}")
        self.state = "closed"

    @staticmethod
    def _check_send(message: Mapping[str, Any]) -> None:
        data, text = message.get("bytes"), message.get("text")
        if (data is None) == (text is None):
            raise _fail("websocket.send needs exactly one of 'bytes' and 'text'")
        if data is not None and not isinstance(data, bytes):
            raise _fail(f"websocket.send 'bytes' must be bytes, got {type(data).__name__}")
        if text is not None and not isinstance(text, str):
            raise _fail(f"websocket.send 'text' must be a str, got {type(text).__name__}")
