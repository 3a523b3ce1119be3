"""The Host allowlist, the CSRF Origin check and the WebSocket Origin check read hosts alike.

They share one parser (flasgo.origin); these requests pin the cases where they used to
disagree, each now answered the strictest way by all of them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from flasgo import ConfigurationError, Flasgo, WebSocket
from flasgo.testing import WebSocketDenied

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, ClientFactory


@pytest.fixture(scope="session")
def origin_app(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**settings)

        @app.get("/")
        def index() -> str:
            return "ok"

        @app.post("/submit")
        def submit() -> str:
            return "done"

        @app.websocket("/ws")
        async def feed(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_text("hello")
            await websocket.close()

        return app

    return build


def csrf_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The reason fields of the CSRF refusals logged during the test."""
    fields = [getattr(record, "security", {}) for record in caplog.records]
    return [str(f.get("reason")) for f in fields if f.get("event") == "csrf-check-failed"]


# -- the Host allowlist --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "localhost:080",  # leading zero: was allowed
        "localhost:0",  # was allowed
        "localhost:99999",  # was allowed
        "127.1",  # a name ending in a number is an address: only canonical IPv4
        "0x7f.0.0.1",
        "[0:0::1]",  # IPv6 only in the canonical spelling browsers send
        "[::ffff:127.0.0.1]",
        "localhost\\@evil.example",
        "localhost%2f..",
    ],
)
def test_hosts_the_parser_refuses_are_400(
    host: str, origin_app: AppBuilder, make_client: ClientFactory, security_events: list[str]
) -> None:
    client = make_client(origin_app())
    response = client.get("/", headers={"host": host})
    assert response.status_code == 400
    assert response.text.startswith("Invalid Host header.")
    assert security_events == ["host-check-failed"]


def test_suffix_entry_naming_an_address_fails_at_startup(
    origin_app: AppBuilder, make_client: ClientFactory
) -> None:
    # Settings once accepted ".1.2.3.4", and "5.1.2.3.4" then matched it as a subdomain.
    with pytest.raises(ConfigurationError, match="names an IP address, which has no subdomains"):
        origin_app(ALLOWED_HOSTS={".1.2.3.4"})


# -- CSRF: the request's own origin against Origin and Referer -----------------------------------


@pytest.mark.parametrize(
    ("host", "header", "value", "status", "reason"),
    [
        ("localhost", "origin", "http://localhost", 200, None),
        ("localhost:8000", "origin", "http://localhost:8000", 200, None),
        ("localhost.", "origin", "http://localhost.", 200, None),
        ("[::1]:8000", "origin", "http://[::1]:8000", 200, None),
        ("localhost", "origin", "http://localhost:080", 403, "origin-mismatch"),  # was 200
        ("localhost", "origin", "http://localhost.", 403, "origin-mismatch"),  # was 200
        ("localhost.", "origin", "http://localhost", 403, "origin-mismatch"),  # was 200
        ("[::1]:8000", "origin", "http://[0::1]:8000", 403, "origin-mismatch"),
        ("localhost", "origin", "http://user@localhost", 403, "origin-mismatch"),
        ("localhost", "referer", "http://localhost:080/page", 403, "referer-invalid"),  # was 200
        ("localhost", "referer", "http://localhost\\@evil.example/", 403, "referer-invalid"),
        ("localhost", "referer", "http://localhost./page", 403, "referer-mismatch"),
    ],
)
def test_csrf_provenance(
    host: str,
    header: str,
    value: str,
    status: int,
    reason: str | None,
    origin_app: AppBuilder,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(origin_app(ALLOWED_HOSTS={"localhost", "[::1]"}))
    token = client.csrf_token()
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        response = client.post(
            "/submit", headers={"host": host, header: value, "x-csrf-token": token}
        )
    assert response.status_code == status
    assert csrf_reasons(caplog) == ([reason] if reason else [])


def test_csrf_refuses_non_ascii_hosts_even_without_the_allowlist(
    origin_app: AppBuilder, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # The old Origin pattern took any non-space character, so with the allowlist off a Host
    # and an Origin with the same control or non-ASCII characters were "the same origin".
    client = make_client(origin_app(ENFORCE_ALLOWED_HOSTS=False))
    token = client.csrf_token()
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        response = client.post(
            "/submit",
            headers={
                "host": "evil\xe9.example",
                "origin": "http://evil\xe9.example",
                "x-csrf-token": token,
            },
        )
    assert response.status_code == 403
    assert csrf_reasons(caplog) == ["origin-mismatch"]


def test_invalid_trusted_origin_fails_at_startup(
    origin_app: AppBuilder, make_client: ClientFactory
) -> None:
    # A name ending in a number must be an IPv4 address; settings refuse it when loaded.
    with pytest.raises(ConfigurationError, match="a name ending in a number must be one"):
        origin_app(CSRF_TRUSTED_ORIGINS=["https://partner.123"])


# -- WebSocket: the handshake's Origin ----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "origin", "accepted"),
    [
        ("localhost", "http://localhost", True),
        ("localhost", "http://LOCALHOST:80", True),
        ("localhost.", "http://localhost.", True),
        ("[::1]:8000", "http://[::1]:8000", True),
        ("localhost", "http://localhost:080", False),
        ("localhost", "http://localhost.", False),
        ("localhost.", "http://localhost", False),
        ("[::1]:8000", "http://[0::1]:8000", False),
        ("localhost", "http://user@localhost", False),
        ("localhost", "null", False),
    ],
)
def test_websocket_origin(
    host: str,
    origin: str,
    accepted: bool,
    origin_app: AppBuilder,
    make_client: ClientFactory,
    security_events: list[str],
) -> None:
    client = make_client(origin_app(ALLOWED_HOSTS={"localhost", "[::1]"}))
    if accepted:
        with client.websocket_connect("/ws", origin=origin, headers={"host": host}) as ws:
            assert ws.receive_text() == "hello"
    else:
        with (
            pytest.raises(WebSocketDenied) as denied,
            client.websocket_connect("/ws", origin=origin, headers={"host": host}),
        ):
            pass
        assert denied.value.status_code == 403
        assert denied.value.body == b"WebSocket origin not allowed."
    assert security_events == ([] if accepted else ["websocket-origin-failed"])


def test_websocket_allowed_origins_compare_canonically(
    origin_app: AppBuilder, make_client: ClientFactory, security_events: list[str]
) -> None:
    client = make_client(origin_app(WEBSOCKET_ALLOWED_ORIGINS=["https://App.example.com:443"]))
    with client.websocket_connect("/ws", origin="https://app.example.com") as ws:
        assert ws.receive_text() == "hello"
    with (
        pytest.raises(WebSocketDenied) as denied,
        client.websocket_connect("/ws", origin="https://app.example.com:0443"),
    ):
        pass
    assert denied.value.status_code == 403
    assert denied.value.body == b"WebSocket origin not allowed."
    assert security_events == ["websocket-origin-failed"]


@pytest.mark.parametrize(
    ("host", "origin", "same"),
    [
        ("localhost", "http://localhost", True),
        ("localhost", "http://localhost:80", True),
        ("localhost.", "http://localhost.", True),
        ("localhost", "http://localhost:080", False),
        ("localhost", "http://localhost.", False),
        ("localhost", "https://localhost", False),
        ("[::1]:8000", "http://[0:0::1]:8000", False),
        ("localhost", "http://localhost/", False),
    ],
)
def test_csrf_and_websocket_agree_on_same_origin(
    host: str,
    origin: str,
    same: bool,
    origin_app: AppBuilder,
    make_client: ClientFactory,
    security_events: list[str],
) -> None:
    client = make_client(origin_app(ALLOWED_HOSTS={"localhost", "[::1]"}))
    token = client.csrf_token()
    csrf = client.post("/submit", headers={"host": host, "origin": origin, "x-csrf-token": token})
    try:
        with client.websocket_connect("/ws", origin=origin, headers={"host": host}) as ws:
            ws.receive_text()
        websocket_status = 101
    except WebSocketDenied as exc:
        websocket_status = exc.status_code
    assert csrf.status_code == (200 if same else 403)
    assert websocket_status == (101 if same else 403)
    assert security_events == ([] if same else ["csrf-check-failed", "websocket-origin-failed"])
