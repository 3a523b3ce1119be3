"""The public API: every exported name resolves, and `import flasgo` stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import flasgo


@pytest.mark.parametrize("name", flasgo.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(flasgo, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = flasgo.NoSuchThing


def test_import_does_not_load_servers_templates_cli_or_the_test_client() -> None:
    code = (
        "import sys, flasgo; "
        "heavy = {'uvicorn', 'granian', 'jinja2', 'click', 'flasgo.testing', 'flasgo.cli', "
        "'redis', 'pydantic', 'watchfiles'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# The public names as they ship. Adding or removing one is a change of the public API: do it on
# purpose, here and in src/flasgo/__init__.py together.
PUBLIC_API = [
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


def test_the_public_names_are_pinned() -> None:
    assert flasgo.__all__ == PUBLIC_API
