"""One behaviour test per default that upstream Flasgo documents (its settings table, §3).

Each test builds an app with the defaults (only a test ``SECRET_KEY``) and checks what a client
sees, not the setting's value alone. Where Flasgo deliberately differs from upstream the test
says so (``API_VERSION``; ``ALLOWED_HOSTS`` also lists ``[::1]``). The values themselves are
snapshotted in tests/settings/test_settings.py.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from flasgo import Flasgo, Form, session
from flasgo.exceptions import ConfigurationError
from flasgo.security.ssrf import SSRFViolation
from flasgo.settings import Settings
from tests.conftest import AppFactory, ClientFactory, RefusalCheck


@pytest.fixture
def app(make_app: AppFactory) -> Flasgo:
    app = make_app()

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/login")
    async def login() -> dict[str, str]:
        session["user"] = "ada"
        return {"ok": "yes"}

    @app.post("/echo")
    async def echo(data: dict[str, Any]) -> dict[str, Any]:
        return data

    @app.post("/form")
    async def form(name: Annotated[str, Form()]) -> dict[str, str]:
        return {"name": name}

    @app.get("/page")
    async def page(n: int) -> dict[str, int]:
        return {"n": n}

    return app


def docs_app(make_app: AppFactory) -> Flasgo:
    """An app with the docs on (``ENABLE_DOCS``) and one route."""
    app = make_app(ENABLE_DOCS=True)

    @app.get("/x")
    async def x() -> dict[str, int]:
        return {"x": 1}

    return app


def set_cookie(response: Any, name: str) -> str:
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    return str(cookie)


def test_debug_off_hides_the_traceback(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    response = make_client(app).get("/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text


def test_allowed_hosts_are_the_loopback_names(
    app: Flasgo, make_client: ClientFactory, refusal: RefusalCheck
) -> None:
    client = make_client(app)
    for host in ("localhost", "127.0.0.1", "[::1]"):
        assert client.get("/", headers={"Host": host}).status_code == 200
    assert refusal(client.get("/", headers={"Host": "evil.example"})) == (
        400,
        "host-check-failed",
    )


def test_csrf_is_on_with_upstreams_cookie_and_header_names(
    app: Flasgo, make_client: ClientFactory, refusal: RefusalCheck
) -> None:
    client = make_client(app)
    refused = client.post(
        "/echo", json={"a": 1}, headers={"Origin": "http://localhost"}, csrf=False
    )
    assert refusal(refused) == (403, "csrf-check-failed")
    assert "flasgo-csrf=" in refused.headers.get("set-cookie", "")
    token = set_cookie(refused, "flasgo-csrf").split(";")[0].split("=", 1)[1]
    passed = client.post(
        "/echo",
        json={"a": 1},
        headers={"Origin": "http://localhost", "X-CSRF-Token": token},
        csrf=False,
    )
    assert (passed.status_code, passed.json()) == (200, {"a": 1})


def test_csrf_checks_the_origin_and_requires_one(
    app: Flasgo, make_client: ClientFactory, refusal: RefusalCheck
) -> None:
    client = make_client(app)
    cross = client.post("/echo", json={}, headers={"Origin": "https://evil.example"})
    assert refusal(cross) == (403, "csrf-check-failed")
    # CSRF_REQUIRE_ORIGIN: an unsafe request with neither Origin nor Referer is refused.
    assert refusal(client.post("/echo", json={}, csrf=False)) == (403, "csrf-check-failed")


def test_the_session_cookie_is_secure_http_only_lax_for_seven_days(
    app: Flasgo, make_client: ClientFactory
) -> None:
    cookie = set_cookie(make_client(app).get("/login"), "flasgo-session")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "max-age=604800" in attributes


def test_the_csrf_cookie_is_secure(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).post("/echo", json={}, headers={"Origin": "http://localhost"})
    assert "secure" in [p.strip().lower() for p in set_cookie(response, "flasgo-csrf").split(";")]


def test_responses_are_not_stored_by_caches(app: Flasgo, make_client: ClientFactory) -> None:
    assert make_client(app).get("/").headers["cache-control"] == "no-store"


def test_a_body_over_one_mebibyte_is_413(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    just_fits = client.post(
        "/echo",
        body=b'{"a":"' + b"x" * (1_048_576 - 8) + b'"}',
        headers={"Content-Type": "application/json"},
        csrf=True,
    )
    assert just_fits.status_code == 200
    too_big = client.post(
        "/echo",
        body=b'{"a":"' + b"x" * 1_048_576 + b'"}',
        headers={"Content-Type": "application/json"},
        csrf=True,
    )
    assert too_big.status_code == 413


def test_a_head_over_16_kib_is_431(
    app: Flasgo, make_client: ClientFactory, refusal: RefusalCheck
) -> None:
    response = make_client(app).get("/", headers={"X-Big": "a" * 16_384})
    assert refusal(response) == (431, "request-head-too-large")


def test_more_than_1000_form_fields_are_refused(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    fields = "&".join(f"f{i}=v" for i in range(1_001))
    response = client.post(
        "/form",
        body="name=ada&" + fields,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        csrf=True,
    )
    assert response.status_code == 413
    ok = client.post(
        "/form",
        body="name=ada",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        csrf=True,
    )
    assert (ok.status_code, ok.json()) == (200, {"name": "ada"})


def test_a_422_lists_at_most_100_issues(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app()

    @app.post("/many")
    async def many(data: dict[str, int]) -> dict[str, int]:
        return data

    body = {f"k{i}": "not a number" for i in range(300)}
    response = make_client(app).post("/many", json=body, csrf=True)
    assert response.status_code == 422
    assert len(response.json()["errors"]) <= 100


def test_50_security_failures_in_a_minute_throttle_the_client(
    app: Flasgo, make_client: ClientFactory, refusal: RefusalCheck
) -> None:
    client = make_client(app)
    bad = {"Host": "evil.example"}
    statuses = [client.get("/", headers=bad).status_code for _ in range(50)]
    assert statuses == [400] * 50
    response = client.get("/", headers=bad)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) <= 60
    # Throttled now, even with a good request.
    assert client.get("/").status_code == 429


def test_an_incoming_request_id_is_not_trusted(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.get("/boom-404", headers={"X-Request-ID": "attacker-chosen"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] != "attacker-chosen"


def test_websocket_origins_are_enforced_and_a_missing_origin_refused(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    from flasgo import WebSocket
    from flasgo.testing import WebSocketDenied

    app = make_app()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    client = make_client(app)
    with client.websocket_connect("/ws", origin="http://localhost") as socket:
        assert socket.receive_text() == "hi"
    for origin in ("https://evil.example", None):
        with pytest.raises(WebSocketDenied), client.websocket_connect("/ws", origin=origin):
            pass


def test_metrics_docs_and_openapi_are_off(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    for path in ("/metrics", "/docs", "/openapi.json", "/healthz"):
        assert client.get(path).status_code == 404


def test_docs_on_use_upstreams_paths_and_title(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = docs_app(make_app)
    client = make_client(app)
    assert client.get("/docs").status_code == 200
    info = client.get("/openapi.json").json()["info"]
    assert info["title"] == "Flasgo API"
    # Deliberately not upstream's "0.11.0" (issue 15): the app's own package version, else 0.1.0.
    assert info["version"] == "0.1.0"


def test_tracing_is_off(app: Flasgo) -> None:
    assert app.tracing is None


def test_ssrf_guard_is_on_for_http_and_https_public_hosts_only(app: Flasgo) -> None:
    assert app.validate_outbound_url("https://example.com/x") == "https://example.com/x"
    for url in (
        "ftp://example.com/",  # SSRF_ALLOWED_SCHEMES
        "http://10.0.0.1/",  # SSRF_ALLOW_PRIVATE_NETWORKS off
        "http://user:pw@example.com/",  # SSRF_ALLOW_USERINFO off
        "http://localhost/admin",
    ):
        with pytest.raises(SSRFViolation):
            app.validate_outbound_url(url)


def test_logging_and_server_defaults() -> None:
    settings = Settings.load({"SECRET_KEY": "k" * 40})
    assert (settings.LOG_FORMAT, settings.LOG_LEVEL, settings.LOG_SECURITY_EVENTS) == (
        "text",
        "INFO",
        True,
    )
    assert settings.SERVER_LIMIT_CONCURRENCY == 1000


def test_websocket_messages_up_to_64_kib_pass_and_larger_close_1009(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    from flasgo import WebSocket
    from flasgo.testing import WebSocketClosed

    app = make_app()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    with make_client(app) as client, client.websocket_connect("/echo") as ws:
        ws.send_text("a" * 65_536)
        assert len(ws.receive_text()) == 65_536
        ws.send_text("a" * 65_537)
        with pytest.raises(WebSocketClosed) as closed:
            ws.receive_text()
    assert closed.value.code == 1009


def test_more_than_1000_multipart_parts_are_413(app: Flasgo, make_client: ClientFactory) -> None:
    boundary = "b0undary"
    part = f"--{boundary}\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"
    body = (part * 1_001 + f"--{boundary}--\r\n").encode()
    response = make_client(app).post(
        "/form",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        csrf=True,
    )
    assert (response.status_code, response.text) == (
        413,
        "More than MAX_MULTIPART_PARTS (1000) parts.",
    )


def test_the_default_security_headers(app: Flasgo, make_client: ClientFactory) -> None:
    headers = make_client(app).get("/").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in headers  # HSTS only on HTTPS requests
    secure = make_client(app, base_url="https://localhost").get("/").headers
    assert "max-age=" in secure["strict-transport-security"]


def test_docs_leave_out_an_empty_description_and_servers(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = docs_app(make_app)
    document = make_client(app).get("/openapi.json").json()
    assert "description" not in document["info"]  # API_DESCRIPTION ""
    assert "servers" not in document  # API_SERVERS []


def test_unknown_settings_raise_instead_of_landing_in_extra() -> None:
    # Deliberately stricter than upstream (which files unknown keys under EXTRA): a typo in a
    # security setting must not pass silently.
    with pytest.raises(ConfigurationError, match="Did you mean 'CSRF_ENABLED'"):
        Settings.load({"SECRET_KEY": "k" * 40, "CSRF_ENABLD": False})
