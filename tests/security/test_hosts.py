"""Host allowlist: parsing, matching (apex + subdomains), and refusal through real requests."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo import Flasgo
from flasgo.security.hosts import HostValidator, split_host
from tests.asgi import call, http_scope
from tests.linear import linear_ratio

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Example.COM", ("example.com", "")),
        ("example.com.", ("example.com", "")),
        ("example.com:8080", ("example.com", "8080")),
        ("127.0.0.1:80", ("127.0.0.1", "80")),
        ("[::1]:8000", ("[::1]", "8000")),
        ("[::1]", ("[::1]", "")),
    ],
)
def test_split_host_accepts_valid_values(value: str, expected: tuple[str, str]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "user@example.com",
        "example.com/path",
        "example.com?x",
        "example.com#x",
        "exa mple.com",
        "example.com:",
        "example.com:80:80",
        "example.com:８０",
        "example.com:123456",
        "[::1",
        "[fe80::1%eth0]",
        "[not-ipv6]",
        "-example.com",
        "exa\u00e9mple.com",
        "a" * 300,
        "example..com",
    ],
)
def test_split_host_refuses_invalid_values(value: str) -> None:
    assert split_host(value) is None


def test_suffix_patterns_match_apex_and_subdomains_only() -> None:
    validator = HostValidator({".example.com", "api.test"})
    assert validator.is_allowed(b"example.com")
    assert validator.is_allowed(b"a.b.example.com:8443")
    assert validator.is_allowed(b"api.test")
    assert not validator.is_allowed(b"badexample.com")
    assert not validator.is_allowed(b"example.com.evil.test")
    assert not validator.is_allowed(b"other.test")


@given(st.binary(max_size=300))
def test_arbitrary_host_bytes_never_raise(raw: bytes) -> None:
    allowed = HostValidator({"localhost", ".example.com"}).is_allowed(raw)
    parts = split_host(raw.decode("latin-1"))
    host = parts[0] if parts else ""
    # Allowed exactly when the value parses and names an allowed host (apex or subdomain).
    assert allowed is (
        parts is not None
        and (host in {"localhost", "example.com"} or host.endswith(".example.com"))
    )


def test_host_parsing_is_linear() -> None:
    validator = HostValidator({"localhost"})
    small, large = b"a." * 2_000, b"a." * 4_000

    def run(value: bytes) -> object:
        return lambda: [validator.is_allowed(value) for _ in range(50)]

    assert linear_ratio(run(small), run(large)) <= 2.5  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def app_with(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**settings)

        @app.get("/")
        def index() -> str:
            return "ok"

        return app

    return build


def test_default_allowlist_is_local_hosts_only(
    app_with: AppBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with()
    assert call(app, http_scope("/")).status == 200  # host: localhost
    for host in (b"127.0.0.1:8000", b"[::1]:8000"):
        scope = http_scope("/")
        scope["headers"] = [(b"host", host)]
        assert call(app, scope).status == 200
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        scope = http_scope("/")
        scope["headers"] = [(b"host", b"evil.example")]
        result = call(app, scope)
    assert result.status == 400
    assert b"Invalid Host header" in result.body
    assert result.header("x-request-id")
    assert result.header("x-content-type-options") == "nosniff"
    assert any("host-check-failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"host", b"localhost"), (b"host", b"localhost")],
        [(b"host", b"localhost@evil.example")],
        [(b"host", b"localhost\r\nx: y")],
    ],
)
def test_missing_duplicate_or_malformed_host_is_400(
    app_with: AppBuilder, headers: list[tuple[bytes, bytes]]
) -> None:
    scope = http_scope("/")
    scope["headers"] = headers
    assert call(app_with(), scope).status == 400


def test_host_check_can_be_disabled_and_configured(app_with: AppBuilder) -> None:
    scope = http_scope("/")
    scope["headers"] = [(b"host", b"anything.example")]
    assert call(app_with(ENFORCE_ALLOWED_HOSTS=False), scope).status == 200
    scope["headers"] = [(b"host", b"api.example.com")]
    assert call(app_with(ALLOWED_HOSTS={".example.com"}), scope).status == 200
