"""docs/upstream.md against the code: every upstream name marked available is where it says."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import flasgo
from flasgo import Flasgo

PAGE = Path(__file__).resolve().parents[2] / "docs" / "upstream.md"
ROW = re.compile(r"^\| `([^`]+)` \| ([a-z]+(?: #\d+| provided)?) \|", re.M)
READY = {"available", "improved"}
STATUSES = READY | {"planned #9", "planned #10", "not provided"}


def section(title: str) -> list[tuple[str, str]]:
    text = PAGE.read_text(encoding="utf-8")
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return ROW.findall(body)


# Upstream's exported names as the spec lists them (upstream-flasgo.md, section 2; it says 70
# and lists 71).
UPSTREAM_ALL = [
    "AllowAny",
    "AsyncTestStream",
    "AsyncWebSocketSession",
    "AuthResult",
    "BackgroundTasks",
    "BaseLoader",
    "Blueprint",
    "Body",
    "CORSConfig",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "Flasgo",
    "FlasgoJSONFormatter",
    "Form",
    "FormData",
    "FormValidationError",
    "HTTPException",
    "HasScope",
    "Header",
    "IsAuthenticated",
    "JinjaTemplates",
    "MemoryStore",
    "NDJSONResponse",
    "Query",
    "RateLimitRule",
    "RedisRateLimiter",
    "RedisStore",
    "Request",
    "RequestValidationError",
    "Response",
    "ResponseValidationError",
    "SSRFConfig",
    "SSRFGuard",
    "SSRFResolvedURL",
    "SSRFViolation",
    "SecureTemplateLoader",
    "ServerSentEvent",
    "ServerSideSessions",
    "Session",
    "Settings",
    "StoreUnavailable",
    "StreamingResponse",
    "SyncWebSocketSession",
    "Template",
    "TemplateNotFound",
    "TestClient",
    "TestResponse",
    "UploadedFile",
    "User",
    "ValidationIssue",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketHandshakeError",
    "abort",
    "bearer_token_backend",
    "configure_logging",
    "create_template_environment",
    "current_user",
    "encode_jwt",
    "extract_bearer_token",
    "is_safe_redirect_target",
    "jsonify",
    "jwt_backend",
    "rate_limit",
    "redirect",
    "render_template",
    "request",
    "session",
    "url_for",
]


def test_the_page_lists_every_upstream_export_once_with_a_known_status() -> None:
    rows = section("`flasgo.__all__`")
    assert [name for name, _ in rows] == sorted(UPSTREAM_ALL)
    assert {status for _, status in rows} <= STATUSES


@pytest.mark.parametrize(
    "name", [name for name, status in section("`flasgo.__all__`") if status in READY]
)
def test_available_exports_import_from_flasgo(name: str) -> None:
    assert name in flasgo.__all__
    assert getattr(flasgo, name) is not None


@pytest.mark.parametrize(
    "name", [name for name, status in section("`Flasgo` methods") if status in READY]
)
def test_available_methods_exist(name: str) -> None:
    assert callable(getattr(Flasgo, name))


def test_available_constructor_arguments_exist() -> None:
    parameters = inspect.signature(Flasgo).parameters
    ready = [name for name, status in section("`Flasgo(...)` arguments") if status in READY]
    assert [name for name in ready if name not in parameters] == []


def test_available_helpers_import_from_their_upstream_module() -> None:
    for path, status in section("Helpers outside `flasgo`"):
        assert status in READY
        module, _, name = path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
