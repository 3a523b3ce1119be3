"""Trusted proxies: forwarded client/scheme/host only from configured networks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from flasgo import Flasgo, request
from flasgo.security.proxy import ProxyResolver
from tests.asgi import call, http_scope

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck


@pytest.fixture(scope="session")
def build(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**settings)

        @app.get("/")
        def index() -> dict[str, Any]:
            return {"client": request.remote_addr, "scheme": request.scheme, "host": request.host}

        return app

    return build


def scope_from(peer: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    scope = http_scope("/", headers=list(headers))
    scope["client"] = (peer, 1234)
    return scope


def test_forwarding_headers_are_ignored_by_default(build: AppBuilder) -> None:
    scope = scope_from(
        "10.0.0.1", (b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"https")
    )
    body = call(build(), scope).body
    assert b'"client":"10.0.0.1"' in body
    assert b'"scheme":"http"' in body


def test_x_forwarded_from_a_trusted_proxy(build: AppBuilder) -> None:
    app = build(TRUSTED_PROXIES={"10.0.0.0/8"}, ALLOWED_HOSTS={"api.example.com"})
    scope = scope_from(
        "10.0.0.1",
        (b"x-forwarded-for", b"6.6.6.6, 203.0.113.7, 10.0.0.2"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"api.example.com"),
    )
    scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"host"]
    result = call(app, scope)
    assert result.status == 200
    # The right-most untrusted hop is the client; the forged left-most one is ignored.
    assert b'"client":"203.0.113.7"' in result.body
    assert b'"scheme":"https"' in result.body
    assert result.header("strict-transport-security") is not None


def test_untrusted_peer_cannot_spoof(build: AppBuilder) -> None:
    app = build(TRUSTED_PROXIES={"10.0.0.0/8"})
    scope = scope_from(
        "192.0.2.9", (b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-host", b"evil")
    )
    result = call(app, scope)
    assert result.status == 200
    assert b'"client":"192.0.2.9"' in result.body


def test_forwarded_header_rfc7239(build: AppBuilder) -> None:
    app = build(TRUSTED_PROXIES={"127.0.0.1"})
    scope = scope_from(
        "127.0.0.1",
        (b"forwarded", b'for=198.51.100.17;proto=https;host=localhost, for="[2001:db8::1]:4711"'),
    )
    body = call(app, scope).body
    assert b'"client":"2001:db8::1"' in body


def test_forwarded_host_still_goes_through_the_allowlist(
    build: AppBuilder, refusal: RefusalCheck
) -> None:
    app = build(TRUSTED_PROXIES={"10.0.0.0/8"})
    scope = scope_from(
        "10.0.0.1", (b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-host", b"evil.example")
    )
    assert refusal(call(app, scope)) == (400, "host-check-failed")


@pytest.mark.parametrize(
    "value", [b"", b"garbage", b"," * 10_000, b"unknown", b"for=;;;,,", b"1.2.3.4:99999"]
)
def test_malformed_forwarding_headers_never_raise(value: bytes) -> None:
    resolver = ProxyResolver(["10.0.0.0/8"])
    for name in (b"forwarded", b"x-forwarded-for"):
        scope = scope_from("10.0.0.1", (name, value))
        assert resolver.apply(scope)["type"] == "http"
