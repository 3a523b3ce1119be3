"""Limits checked before routing (431, 414), HSTS on HTTPS only, request ids, event lines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from flasgo import Flasgo, HTMLResponse, request
from tests.asgi import call, http_scope

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck


@pytest.fixture(scope="session")
def build(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**settings)

        @app.get("/")
        def index() -> str:
            return "ok"

        @app.get("/id")
        def with_id() -> str:
            return request.request_id

        return app

    return build


def test_too_many_headers_is_431_at_the_boundary(build: AppBuilder, refusal: RefusalCheck) -> None:
    app = build(MAX_REQUEST_HEADERS=10)
    scope = http_scope("/", headers=[(b"x-h", b"v")] * 9)  # 9 + host = 10
    assert call(app, scope).status == 200
    scope = http_scope("/", headers=[(b"x-h", b"v")] * 10)
    result = call(app, scope)
    assert refusal(result) == (431, "request-head-too-large")
    assert result.header("connection") == "close"


def test_head_bytes_limit_is_431_at_the_boundary(build: AppBuilder, refusal: RefusalCheck) -> None:
    app = build(MAX_REQUEST_HEAD_BYTES=200)
    # host: localhost = 4 + 9 + 4 = 17 bytes; one more header fills the rest
    ok = http_scope("/", headers=[(b"x-big", b"v" * (200 - 17 - 5 - 4))])
    assert call(app, ok).status == 200
    over = http_scope("/", headers=[(b"x-big", b"v" * (200 - 17 - 5 - 4 + 1))])
    assert refusal(call(app, over)) == (431, "request-head-too-large")


def test_url_length_limit_is_414_at_the_boundary(build: AppBuilder, refusal: RefusalCheck) -> None:
    app = build(MAX_URL_LENGTH=100)
    assert call(app, http_scope("/", query_string=b"q=" + b"x" * 97)).status == 200
    too_long = http_scope("/", query_string=b"q=" + b"x" * 98)
    assert refusal(call(app, too_long)) == (414, "url-too-long")


def test_hsts_only_on_https_and_preload_is_opt_in(build: AppBuilder) -> None:
    app = build()
    plain = call(app, http_scope("/"))
    assert plain.header("strict-transport-security") is None
    scope = http_scope("/")
    scope["scheme"] = "https"
    secure = call(app, scope)
    assert secure.header("strict-transport-security") == "max-age=63072000; includeSubDomains"
    preload = build(HSTS_PRELOAD=True)
    assert "preload" in (call(preload, dict(scope)).header("strict-transport-security") or "")
    off = build(HSTS_SECONDS=0)
    assert call(off, dict(scope)).header("strict-transport-security") is None


_EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cache-control": "no-store",
}
_LEGACY = ("x-xss-protection", "pragma", "expires")
_PAGE_ONLY = ("permissions-policy", "cross-origin-opener-policy")


def test_every_response_carries_the_lean_default_block(build: AppBuilder) -> None:
    result = call(build(), http_scope("/"))
    for name, value in _EVERYWHERE.items():
        assert result.header(name) == value
    assert result.header("content-security-policy") == "default-src 'none'; frame-ancestors 'none'"
    for name in (*_LEGACY, *_PAGE_ONLY, "strict-transport-security"):
        assert result.header(name) is None


@pytest.mark.parametrize("path", ["/page", "/error-page"])
def test_html_pages_also_carry_the_page_headers(build: AppBuilder, path: str) -> None:
    app = build()

    @app.get("/page")
    def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @app.get("/error-page")
    def error_page() -> HTMLResponse:
        return HTMLResponse("<p>gone</p>", 410)

    result = call(app, http_scope(path))
    for name, value in _EVERYWHERE.items():
        assert result.header(name) == value
    assert result.header("content-security-policy") == "default-src 'self'; frame-ancestors 'none'"
    assert result.header("permissions-policy") == "camera=(), microphone=(), geolocation=()"
    assert result.header("cross-origin-opener-policy") == "same-origin"
    for name in _LEGACY:
        assert result.header(name) is None
    assert [name for name, _ in result.headers].count("content-security-policy") == 1


def test_page_headers_are_configurable_and_a_handler_value_wins(build: AppBuilder) -> None:
    app = build(PAGE_SECURITY_HEADERS={"content-security-policy": "default-src 'self' cdn.test"})

    @app.get("/page")
    def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @app.get("/own")
    def own() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers={"X-Frame-Options": "SAMEORIGIN"})

    result = call(app, http_scope("/page"))
    assert result.header("content-security-policy") == "default-src 'self' cdn.test"
    assert result.header("permissions-policy") is None
    assert call(app, http_scope("/own")).header("x-frame-options") == "SAMEORIGIN"


def test_request_ids_are_sent_when_used_and_on_errors(build: AppBuilder) -> None:
    app = build()
    ok = call(app, http_scope("/"))
    assert ok.header("x-request-id") is None  # PERF: not generated when nobody asked
    used = call(app, http_scope("/id"))
    assert used.header("x-request-id") == used.body.decode()
    missing = call(app, http_scope("/nope"))
    assert missing.header("x-request-id")
    assert missing.header("x-request-id") != used.header("x-request-id")


def test_incoming_request_ids_are_trusted_only_when_configured(build: AppBuilder) -> None:
    scope = http_scope("/id", headers=[(b"x-request-id", b"abc-123")])
    assert call(build(), scope).body != b"abc-123"
    trusting = build(TRUST_INCOMING_REQUEST_ID=True)
    assert call(trusting, scope).body == b"abc-123"
    bad = http_scope("/id", headers=[(b"x-request-id", b"bad id\n")])
    assert call(trusting, bad).body != b"bad id\n"


def test_security_events_are_sanitised_and_can_be_disabled(
    build: AppBuilder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scope = http_scope("/x\r\nforged=1")
    scope["headers"] = [(b"host", b"evil.example")]
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        call(build(), scope)
        call(build(LOG_SECURITY_EVENTS=False), dict(scope))
    # NOTE: without a SECRET_KEY each app also logs one startup warning; count events only.
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "flasgo.security" and "event=" in r.getMessage()
    ]
    assert len(lines) == 1
    assert "\r" not in lines[0]
    assert "\n" not in lines[0]
    assert "route=/x\\x0d\\x0aforged=1" in lines[0]
