"""csp_nonce(): a per-response nonce added to the CSP only when a handler asks for one."""

from __future__ import annotations

import pytest

from flasgo import Flasgo, Response, csp_nonce
from flasgo.security.csp import add_nonce


def build() -> Flasgo:
    app = Flasgo()

    @app.get("/page")
    def page() -> Response:
        return Response.html(f'<script nonce="{csp_nonce()}">go()</script>')

    @app.get("/text")
    def text() -> str:
        return csp_nonce()

    @app.get("/plain")
    def plain() -> str:
        return "no nonce"

    return app


def test_the_policy_allows_exactly_the_issued_nonce() -> None:
    client = build().test_client()
    page = client.get("/page")
    nonce = page.text.split('nonce="')[1].split('"')[0]
    policy = page.headers["content-security-policy"]
    assert f"script-src 'self' 'nonce-{nonce}'" in policy
    assert "frame-ancestors 'none'" in policy
    other = client.get("/page").text.split('nonce="')[1].split('"')[0]
    assert other != nonce
    fast = client.get("/text")
    assert f"'nonce-{fast.text}'" in fast.headers["content-security-policy"]
    assert "nonce" not in client.get("/plain").headers["content-security-policy"]


def test_existing_directives_are_extended() -> None:
    assert add_nonce("default-src 'self'; script-src 'self' cdn.test", "n") == (
        "default-src 'self'; script-src 'self' cdn.test 'nonce-n'; style-src 'self' 'nonce-n'"
    )


def test_outside_a_request_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        csp_nonce()
