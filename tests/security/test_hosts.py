"""Host allowlist: parsing, matching (apex + subdomains), and refusal through real requests."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo import Flasgo
from flasgo.exceptions import ConfigurationError
from flasgo.origin import InvalidHostError, parse_host
from flasgo.security.hosts import HostValidator
from tests.asgi import call, http_scope
from tests.linear import linear_ratio

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck


# NOTE: the Host grammar itself (valid and hostile forms) is tested in
# tests/primitives/test_origin.py.


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
    try:
        host = parse_host(raw.decode("latin-1")).name
    except InvalidHostError:
        host = ""
    # Allowed exactly when the value parses and names an allowed host (apex or subdomain).
    assert allowed is (host in {"localhost", "example.com"} or host.endswith(".example.com"))


def test_ip_literals_match_only_in_canonical_form_and_never_by_suffix() -> None:
    # The entry may be spelled any way; a request must send the canonical form browsers send.
    validator = HostValidator({"[0:0::1]", "127.0.0.1", ".example.com"})
    assert validator.is_allowed(b"[::1]:8000")
    assert not validator.is_allowed(b"[0:0:0:0:0:0:0:1]:8000")
    assert validator.is_allowed(b"127.0.0.1")
    assert not validator.is_allowed(b"127.0.0.01")
    assert not validator.is_allowed(b"127.1")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (".1.2.3.4", "names an IP address, which has no subdomains"),
        ("example.com:8000", "must not include a port"),
        ("*", "must not contain '*'"),
        ("foo.123", "a name ending in a number must be one"),
    ],
)
def test_invalid_patterns_fail_at_startup(entry: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        HostValidator({entry})


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
    app_with: AppBuilder, caplog: pytest.LogCaptureFixture, refusal: RefusalCheck
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
    assert refusal(result) == (400, "host-check-failed")
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
    app_with: AppBuilder, headers: list[tuple[bytes, bytes]], refusal: RefusalCheck
) -> None:
    scope = http_scope("/")
    scope["headers"] = headers
    assert refusal(call(app_with(), scope)) == (400, "host-check-failed")


def test_host_check_can_be_disabled_and_configured(app_with: AppBuilder) -> None:
    scope = http_scope("/")
    scope["headers"] = [(b"host", b"anything.example")]
    assert call(app_with(ENFORCE_ALLOWED_HOSTS=False), scope).status == 200
    scope["headers"] = [(b"host", b"api.example.com")]
    assert call(app_with(ALLOWED_HOSTS={".example.com"}), scope).status == 200
