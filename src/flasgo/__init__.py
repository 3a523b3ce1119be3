"""Flasgo: an async-first web framework with Flask's ergonomics and Django's security defaults.

The public API is re-exported here; everything else is internal.
"""

from typing import TYPE_CHECKING

from flasgo.app import Flasgo, RouteInfo, current_app
from flasgo.background import BackgroundTasks
from flasgo.blueprints import Blueprint
from flasgo.context import current_user, g, request, session
from flasgo.datastructures import Headers, MultiDict
from flasgo.exceptions import (
    BadRequest,
    ConfigurationError,
    FlasgoError,
    Forbidden,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    RequestTimeout,
    RoutingError,
    SetupFrozenError,
    TooManyRequests,
    UnprocessableEntity,
    UnsupportedMediaType,
    URITooLong,
    abort,
)
from flasgo.handlers import RequestValidationError
from flasgo.logs import FlasgoJSONFormatter, configure_logging
from flasgo.params import Body, Cookie, Depends, File, Form, Header, Query
from flasgo.ratelimit import (
    RateLimiter,
    RateLimitExceeded,
    RateLimitRule,
    RedisRateLimiter,
    rate_limit,
)
from flasgo.request import Request
from flasgo.response import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    jsonify,
    make_response,
    redirect,
)
from flasgo.routing import BuildError, Converter
from flasgo.security.auth import AllowAny, AuthResult, HasScope, IsAuthenticated, User
from flasgo.security.csp import csp_nonce
from flasgo.security.csrf import csrf_exempt, csrf_token
from flasgo.security.jwt import bearer_token_backend, encode_jwt, extract_bearer_token, jwt_backend
from flasgo.security.ssrf import SSRFConfig, SSRFGuard, SSRFResolvedURL, SSRFViolation
from flasgo.security.throttle import SecurityFailureThrottle
from flasgo.sessions import ServerSideSessions, Session, SessionBackend, login, logout
from flasgo.settings import Settings
from flasgo.stores import MemoryStore, StoreUnavailable
from flasgo.streaming import EventSourceResponse, NDJSONResponse, ServerSentEvent
from flasgo.uploads import UploadedFile
from flasgo.url import url_for
from flasgo.websocket import WebSocket, WebSocketDisconnect, WebSocketException

if TYPE_CHECKING:
    from flasgo.testing import (
        AsyncTestStream,
        AsyncWebSocketSession,
        SyncWebSocketSession,
        TestClient,
        TestResponse,
        WebSocketClosed,
        WebSocketDenied,
        WebSocketHandshakeError,
    )

__version__ = "0.1.0"

_LAZY = {
    "AsyncTestStream": "flasgo.testing",
    "AsyncWebSocketSession": "flasgo.testing",
    "SyncWebSocketSession": "flasgo.testing",
    "WebSocketHandshakeError": "flasgo.testing",
    "TestClient": "flasgo.testing",
    "TestResponse": "flasgo.testing",
    "WebSocketClosed": "flasgo.testing",
    "WebSocketDenied": "flasgo.testing",
}


def __getattr__(name: str) -> object:
    # PERF: the test client is only imported when a test asks for it.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flasgo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AllowAny",
    "AsyncTestStream",
    "AsyncWebSocketSession",
    "AuthResult",
    "BackgroundTasks",
    "BadRequest",
    "Blueprint",
    "Body",
    "BuildError",
    "ConfigurationError",
    "Converter",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "File",
    "Flasgo",
    "FlasgoError",
    "FlasgoJSONFormatter",
    "Forbidden",
    "Form",
    "HTMLResponse",
    "HTTPException",
    "HasScope",
    "Header",
    "Headers",
    "InternalServerError",
    "IsAuthenticated",
    "JSONResponse",
    "MemoryStore",
    "MethodNotAllowed",
    "MultiDict",
    "NDJSONResponse",
    "NotFound",
    "PayloadTooLarge",
    "PlainTextResponse",
    "Query",
    "RateLimitExceeded",
    "RateLimitRule",
    "RateLimiter",
    "RedirectResponse",
    "RedisRateLimiter",
    "Request",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "RequestValidationError",
    "Response",
    "RouteInfo",
    "RoutingError",
    "SSRFConfig",
    "SSRFGuard",
    "SSRFResolvedURL",
    "SSRFViolation",
    "SecurityFailureThrottle",
    "ServerSentEvent",
    "ServerSideSessions",
    "Session",
    "SessionBackend",
    "Settings",
    "SetupFrozenError",
    "StoreUnavailable",
    "StreamingResponse",
    "SyncWebSocketSession",
    "TestClient",
    "TestResponse",
    "TooManyRequests",
    "URITooLong",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadedFile",
    "User",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketHandshakeError",
    "__version__",
    "abort",
    "bearer_token_backend",
    "configure_logging",
    "csp_nonce",
    "csrf_exempt",
    "csrf_token",
    "current_app",
    "current_user",
    "encode_jwt",
    "extract_bearer_token",
    "g",
    "jsonify",
    "jwt_backend",
    "login",
    "logout",
    "make_response",
    "rate_limit",
    "redirect",
    "request",
    "session",
    "url_for",
]
