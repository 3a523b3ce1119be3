"""Test Flasgo apps (or any ASGI 3 app) in-process: HTTP, streaming, WebSockets and lifespan.

Example:
    >>> client = TestClient(app)
    >>> with client:                      # runs lifespan startup and shutdown
    ...     response = client.get("/")
"""

from flasgo.testing.client import MAX_REDIRECTS, RequestOptions, TestClient, TooManyRedirectsError
from flasgo.testing.request import UNSET
from flasgo.testing.response import (
    AsyncStreamingTestResponse,
    ResponseHeaders,
    StreamingTestResponse,
    TestResponse,
)
from flasgo.testing.websocket import (
    AsyncWebSocketTestSession,
    WebSocketClosed,
    WebSocketDenied,
    WebSocketTestSession,
)

# The upstream names of the same classes.
AsyncTestStream = AsyncStreamingTestResponse
AsyncWebSocketSession = AsyncWebSocketTestSession
SyncWebSocketSession = WebSocketTestSession
WebSocketHandshakeError = WebSocketDenied

__all__ = [
    "MAX_REDIRECTS",
    "UNSET",
    "AsyncStreamingTestResponse",
    "AsyncTestStream",
    "AsyncWebSocketSession",
    "AsyncWebSocketTestSession",
    "RequestOptions",
    "ResponseHeaders",
    "StreamingTestResponse",
    "SyncWebSocketSession",
    "TestClient",
    "TestResponse",
    "TooManyRedirectsError",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketHandshakeError",
    "WebSocketTestSession",
]
