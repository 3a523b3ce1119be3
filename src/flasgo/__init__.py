"""Flasgo: an async-first web framework with Flask's ergonomics and Django's security defaults.

The public API is re-exported here; everything else is internal.
"""

from typing import TYPE_CHECKING

from flasgo.app import Flasgo, RouteInfo, current_app
from flasgo.background import BackgroundTasks
from flasgo.blueprints import Blueprint
from flasgo.context import current_user, g, request, session
from flasgo.cors import CORSConfig
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
from flasgo.messages import flash, get_flashed_messages
from flasgo.params import Body, Cookie, Depends, File, Form, Header, Query
from flasgo.ratelimit import (
    RateLimiter,
    RateLimitExceeded,
    RateLimitRule,
    RedisRateLimiter,
    rate_limit,
)
from flasgo.rendering import render_template, render_template_async, render_template_string
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
from flasgo.security.config import SecurityConfig
from flasgo.security.csp import csp_nonce
from flasgo.security.csrf import csrf_exempt, csrf_token
from flasgo.security.jwt import bearer_token_backend, encode_jwt, extract_bearer_token, jwt_backend
from flasgo.security.redirects import is_safe_redirect_target, redirect_to_next
from flasgo.security.ssrf import SSRFConfig, SSRFGuard, SSRFResolvedURL, SSRFViolation
from flasgo.security.throttle import SecurityFailureThrottle
from flasgo.sessions import ServerSideSessions, Session, SessionBackend, login, logout
from flasgo.settings import Settings
from flasgo.stores import MemoryStore, StoreUnavailable
from flasgo.stores.redis import RedisStore
from flasgo.streaming import EventSourceResponse, NDJSONResponse, ServerSentEvent
from flasgo.uploads import FormData, UploadedFile
from flasgo.url import url_for
from flasgo.validation import (
    FormValidationError,
    ResponseValidationError,
    ValidationIssue,
    allow_unknown_fields,
)
from flasgo.websocket import WebSocket, WebSocketDisconnect, WebSocketException

if TYPE_CHECKING:
    from flasgo.staticfiles import FileResponse, send_file, send_from_directory
    from flasgo.templating import (
        BaseLoader,
        JinjaTemplates,
        SecureTemplateLoader,
        Template,
        TemplateNotFound,
        create_template_environment,
    )
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

# PERF: jinja2 (the `standard` extra), the file-serving helpers and the test client are
# imported only when one of their names is asked for.
_LAZY = {
    "FileResponse": "flasgo.staticfiles",
    "send_file": "flasgo.staticfiles",
    "send_from_directory": "flasgo.staticfiles",
    "BaseLoader": "flasgo.templating",
    "JinjaTemplates": "flasgo.templating",
    "SecureTemplateLoader": "flasgo.templating",
    "Template": "flasgo.templating",
    "TemplateNotFound": "flasgo.templating",
    "create_template_environment": "flasgo.templating",
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
    "BaseLoader",
    "Blueprint",
    "Body",
    "BuildError",
    "CORSConfig",
    "ConfigurationError",
    "Converter",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "File",
    "FileResponse",
    "Flasgo",
    "FlasgoError",
    "FlasgoJSONFormatter",
    "Forbidden",
    "Form",
    "FormData",
    "FormValidationError",
    "HTMLResponse",
    "HTTPException",
    "HasScope",
    "Header",
    "Headers",
    "InternalServerError",
    "IsAuthenticated",
    "JSONResponse",
    "JinjaTemplates",
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
    "RedisStore",
    "Request",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "RequestValidationError",
    "Response",
    "ResponseValidationError",
    "RouteInfo",
    "RoutingError",
    "SSRFConfig",
    "SSRFGuard",
    "SSRFResolvedURL",
    "SSRFViolation",
    "SecureTemplateLoader",
    "SecurityConfig",
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
    "Template",
    "TemplateNotFound",
    "TestClient",
    "TestResponse",
    "TooManyRequests",
    "URITooLong",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadedFile",
    "User",
    "ValidationIssue",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketHandshakeError",
    "__version__",
    "abort",
    "allow_unknown_fields",
    "bearer_token_backend",
    "configure_logging",
    "create_template_environment",
    "csp_nonce",
    "csrf_exempt",
    "csrf_token",
    "current_app",
    "current_user",
    "encode_jwt",
    "extract_bearer_token",
    "flash",
    "g",
    "get_flashed_messages",
    "is_safe_redirect_target",
    "jsonify",
    "jwt_backend",
    "login",
    "logout",
    "make_response",
    "rate_limit",
    "redirect",
    "redirect_to_next",
    "render_template",
    "render_template_async",
    "render_template_string",
    "request",
    "send_file",
    "send_from_directory",
    "session",
    "url_for",
]
