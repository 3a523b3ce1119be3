"""CSRF protection through real requests: provenance, double submit, binding, exemptions."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flasgo import Blueprint, Body, Flasgo, Response, Session, csrf_exempt, csrf_token, login
from flasgo.security.csrf import (
    CSRF_FAILED,
    SESSION_SECRET_KEY,
    CSRFProtection,
    mask_token,
    unmask_token,
)
from flasgo.sessions import ServerSideSessions
from flasgo.settings import Settings
from flasgo.stores import MemoryStore
from flasgo.testing import TestClient
from tests.asgi import call, http_scope

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck

KEY = "k" * 40
OLD_KEY = "o" * 40
ORIGIN = "http://localhost"
CSRF = "csrf-check-failed"
UNSUPPORTED = "Expected a JSON body: send it with Content-Type: application/json."
TOO_LARGE = "Request body exceeds MAX_REQUEST_BODY_BYTES (10 bytes)."


@pytest.fixture(scope="session")
def csrf_app(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**{"SECRET_KEY": KEY, **settings})

        @app.get("/")
        def index() -> Response:
            return Response.html("<p>ok</p>")  # a page: where browsers get their token

        @app.get("/api")
        def api() -> dict[str, str]:
            return {"ok": "yes"}

        @app.post("/submit")
        def submit() -> str:
            return "done"

        return app

    return build


def token_headers(client: TestClient, origin: str | None = ORIGIN) -> dict[str, str]:
    headers = {"x-csrf-token": client.csrf_token()}
    if origin is not None:
        headers["origin"] = origin
    return headers


def csrf_cookie(response: Any, name: str = "flasgo-csrf") -> str | None:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return str(value)
    return None


# -- defaults ------------------------------------------------------------------------------


def test_csrf_is_on_by_default(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    assert Settings.load({"SECRET_KEY": KEY}).CSRF_ENABLED is True
    client = TestClient(csrf_app())
    response = client.post("/submit")
    assert refusal(response) == (403, CSRF)
    assert response.text == CSRF_FAILED


def test_failure_logs_security_event(
    csrf_app: AppBuilder, caplog: pytest.LogCaptureFixture, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app())
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        response = client.post("/submit", headers={"origin": ORIGIN})
    assert refusal(response) == (403, CSRF)
    assert response.headers["content-type"].startswith("text/plain")
    assert any(r.getMessage().startswith("csrf-check-failed") for r in caplog.records)


def test_safe_methods_and_disabled_setting_pass(csrf_app: AppBuilder) -> None:
    client = TestClient(csrf_app())
    assert client.get("/").status_code == 200
    assert client.head("/").status_code == 200
    assert client.options("/submit").status_code == 204
    off = TestClient(csrf_app(CSRF_ENABLED=False))
    assert off.post("/submit").status_code == 200
    assert csrf_cookie(off.get("/")) is None


def test_custom_methods_are_checked(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = csrf_app()

    @app.route("/custom", methods=["PROPFIND"])
    def custom() -> str:
        return "x"

    assert refusal(TestClient(app).request("PROPFIND", "/custom")) == (403, CSRF)


# -- issuing -------------------------------------------------------------------------------


def test_cookie_issued_once_with_attributes(csrf_app: AppBuilder) -> None:
    client = TestClient(csrf_app())
    first = client.get("/")
    cookie = csrf_cookie(first)
    assert cookie is not None
    assert cookie.endswith("; Path=/; Secure; SameSite=Lax")
    assert "HttpOnly" not in cookie
    assert "Max-Age" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token.startswith("v1.")
    assert len(token.split(".")) == 3
    # The client holds it now: no new cookie on safe requests.
    assert csrf_cookie(client.get("/")) is None


def test_insecure_cookie_setting(csrf_app: AppBuilder) -> None:
    client = TestClient(csrf_app(CSRF_COOKIE_SECURE=False))
    cookie = csrf_cookie(client.get("/"))
    assert cookie is not None
    assert "Secure" not in cookie


def test_host_prefixed_cookie_on_https(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    client = TestClient(csrf_app(), base_url="https://localhost")
    assert csrf_cookie(client.get("/"), "__Host-flasgo-csrf") is not None
    ok = client.post("/submit", csrf=True)
    assert ok.status_code == 200
    # The bare name is never read on HTTPS (a sibling subdomain could have set it).
    token = client.cookies["__Host-flasgo-csrf"]
    raw = TestClient(csrf_app(), base_url="https://localhost")
    response = raw.post(
        "/submit",
        headers={"origin": "https://localhost", "x-csrf-token": token},
        cookies={"flasgo-csrf": token},
    )
    assert refusal(response) == (403, CSRF)


def test_no_cookie_on_public_cache_responses_or_unmatched_paths(csrf_app: AppBuilder) -> None:
    app = csrf_app()

    @app.get("/public")
    def public() -> Response:
        return Response("cached", allow_public_cache=True)

    client = TestClient(app)
    assert csrf_cookie(client.get("/public")) is None
    assert csrf_cookie(client.get("/missing")) is None
    # PERF: API responses to cookie-less clients carry no token (no crypto per request);
    # pages, csrf_token() and a CSRF 403 hand one out.
    assert csrf_cookie(client.get("/api")) is None
    assert csrf_cookie(client.get("/")) is not None


def test_csrf_token_helper_issues_and_reuses(csrf_app: AppBuilder) -> None:
    app = csrf_app()

    @app.get("/form")
    def form() -> dict[str, str]:
        return {"token": csrf_token(), "again": csrf_token()}

    client = TestClient(app)
    response = client.get("/form")
    body = response.json()
    # Masked afresh per call (BREACH), each unmasking to the cookie's token.
    assert body["token"] != body["again"]
    assert unmask_token(body["token"]) == unmask_token(body["again"])
    assert client.cookies["flasgo-csrf"] == unmask_token(body["token"])
    # With a valid cookie the helper returns it and sets nothing.
    second = client.get("/form")
    assert unmask_token(second.json()["token"]) == unmask_token(body["token"])
    assert csrf_cookie(second) is None
    with pytest.raises(RuntimeError):
        csrf_token()


def test_masked_tokens_pass_and_tampered_ones_fail(
    csrf_app: AppBuilder, security_events: list[str]
) -> None:
    client = TestClient(csrf_app())
    token = client.csrf_token()
    origin = {"origin": "http://localhost"}
    first, second = mask_token(token), mask_token(token)
    assert first != second
    assert first.startswith("m1.")
    assert client.post("/submit", headers={"x-csrf-token": first, **origin}).status_code == 200
    assert client.post("/submit", data={"csrf_token": second}, headers=origin).status_code == 200
    tampered = first[:-2] + ("A" if first[-2] != "A" else "B") + first[-1]
    refused = client.post("/submit", headers={"x-csrf-token": tampered, **origin})
    assert refused.status_code == 403
    assert security_events == ["csrf-check-failed"]
    for odd in ("m1.", "m1.!!!", "m1.QUJD", "m1." + "A" * 2000):
        assert unmask_token(odd) == odd


# -- double submit -------------------------------------------------------------------------


def test_helper_passes_and_raw_post_fails(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    client = TestClient(csrf_app())
    assert client.post("/submit", csrf=True).status_code == 200
    assert refusal(client.post("/submit")) == (403, CSRF)
    assert TestClient(csrf_app(), csrf=True).post("/submit").status_code == 200


@pytest.mark.parametrize(
    ("cookie", "header", "reason"),
    [
        (None, "token", "missing cookie"),
        ("token", None, "missing header"),
        ("token", "other", "mismatch"),
    ],
)
def test_cookie_and_header_must_match(
    csrf_app: AppBuilder, cookie: str | None, header: str | None, reason: str, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app())
    token = client.csrf_token()
    client.clear_cookies()
    values = {"token": token, "other": client.csrf_token()}
    client.clear_cookies()
    headers = {"origin": ORIGIN}
    if header is not None:
        headers["x-csrf-token"] = values[header]
    cookies = {"flasgo-csrf": values[cookie]} if cookie is not None else None
    assert refusal(client.post("/submit", headers=headers, cookies=cookies)) == (403, CSRF), reason


def test_duplicate_cookie_or_header_fails(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = csrf_app()
    client = TestClient(app)
    token = client.csrf_token()
    cookie = f"flasgo-csrf={token}".encode()
    scope = http_scope(
        "/submit",
        "POST",
        [(b"origin", ORIGIN.encode()), (b"x-csrf-token", token.encode()), (b"cookie", cookie)],
    )
    assert call(app, scope).status == 200
    twice = http_scope(
        "/submit",
        "POST",
        [
            (b"origin", ORIGIN.encode()),
            (b"x-csrf-token", token.encode()),
            (b"cookie", cookie + b"; " + cookie),
        ],
    )
    assert refusal(call(app, twice)) == (403, CSRF)
    header_twice = http_scope(
        "/submit",
        "POST",
        [
            (b"origin", ORIGIN.encode()),
            (b"x-csrf-token", token.encode()),
            (b"x-csrf-token", token.encode()),
            (b"cookie", cookie),
        ],
    )
    assert refusal(call(app, header_twice)) == (403, CSRF)


def test_forged_signature_fails_and_gets_a_new_cookie(
    csrf_app: AppBuilder, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app())
    token = client.csrf_token()
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.post(
        "/submit",
        headers={"origin": ORIGIN, "x-csrf-token": forged},
        cookies={"flasgo-csrf": forged},
    )
    assert refusal(response) == (403, CSRF)
    assert csrf_cookie(response) is not None


def test_old_secret_key_verifies_through_fallbacks(
    csrf_app: AppBuilder, refusal: RefusalCheck
) -> None:
    old = TestClient(csrf_app())
    old_app = Flasgo({"SECRET_KEY": OLD_KEY})
    token = TestClient(old_app).csrf_token()
    rotated = csrf_app(SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=[OLD_KEY])
    headers = {"origin": ORIGIN, "x-csrf-token": token}
    cookies = {"flasgo-csrf": token}
    assert TestClient(rotated).post("/submit", headers=headers, cookies=cookies).status_code == 200
    assert refusal(old.post("/submit", headers=headers, cookies=cookies)) == (403, CSRF)


def test_form_field_token(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    client = TestClient(csrf_app())
    token = client.csrf_token()
    ok = client.post("/submit", data={"csrf_token": token}, headers={"origin": ORIGIN})
    assert ok.status_code == 200
    wrong = client.post("/submit", data={"csrf_token": "v1.x.y"}, headers={"origin": ORIGIN})
    assert refusal(wrong) == (403, CSRF)
    twice = client.post(
        "/submit", body=f"csrf_token={token}&csrf_token={token}", headers={
            "origin": ORIGIN, "content-type": "application/x-www-form-urlencoded"
        },
    )  # fmt: skip
    assert refusal(twice) == (403, CSRF)
    plain = client.post(
        "/submit", body=f"csrf_token={token}",
        headers={"origin": ORIGIN, "content-type": "text/plain"},
    )  # fmt: skip
    assert refusal(plain) == (403, CSRF)


# -- provenance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "http://localhost"}, 200),
        ({"origin": "http://LOCALHOST:80"}, 200),
        ({"origin": "https://localhost"}, 403),
        ({"origin": "http://localhost:8080"}, 403),
        ({"origin": "http://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"origin": "http://localhost/path"}, 403),
        ({"sec-fetch-site": "same-origin"}, 200),
        ({"sec-fetch-site": "none"}, 200),
        ({"sec-fetch-site": "same-site"}, 403),
        ({"sec-fetch-site": "cross-site"}, 403),
        ({"sec-fetch-site": "bogus"}, 403),
        ({"referer": "http://localhost/page"}, 200),
        ({"referer": "http://evil.example/page"}, 403),
        ({"referer": "not a url"}, 403),
        ({}, 200),  # a non-browser client with the header token
    ],
)
def test_provenance(
    csrf_app: AppBuilder, headers: dict[str, str], status: int, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app())
    token = client.csrf_token()
    response = client.post("/submit", headers={**headers, "x-csrf-token": token})
    assert refusal(response) == ((403, CSRF) if status == 403 else (status,))


def test_duplicate_origin_fails(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = csrf_app()
    token = TestClient(app).csrf_token()
    scope = http_scope(
        "/submit",
        "POST",
        [
            (b"origin", ORIGIN.encode()),
            (b"origin", ORIGIN.encode()),
            (b"x-csrf-token", token.encode()),
            (b"cookie", f"flasgo-csrf={token}".encode()),
        ],
    )
    assert refusal(call(app, scope)) == (403, CSRF)


def test_https_referer_must_be_same_origin(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    client = TestClient(csrf_app(), base_url="https://localhost")
    token = client.csrf_token()
    good = client.post("/submit", headers={"referer": "https://localhost/x", "x-csrf-token": token})
    assert good.status_code == 200
    downgraded = client.post(
        "/submit", headers={"referer": "http://localhost/x", "x-csrf-token": token}
    )
    assert refusal(downgraded) == (403, CSRF)


def test_no_provenance_needs_header_token_unless_not_required(
    csrf_app: AppBuilder, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app())
    token = client.csrf_token()
    form_only = client.post("/submit", data={"csrf_token": token})
    assert refusal(form_only) == (403, CSRF)
    lax = TestClient(csrf_app(CSRF_REQUIRE_ORIGIN=False))
    token = lax.csrf_token()
    assert lax.post("/submit", data={"csrf_token": token}).status_code == 200


def test_origin_check_can_be_turned_off(csrf_app: AppBuilder) -> None:
    client = TestClient(csrf_app(CSRF_CHECK_ORIGIN=False))
    token = client.csrf_token()
    headers = {"origin": "http://evil.example", "x-csrf-token": token}
    assert client.post("/submit", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("trusted", "origin", "status"),
    [
        ("https://app.example.com", "https://app.example.com", 200),
        ("https://app.example.com", "https://app.example.com:443", 200),
        ("https://app.example.com", "http://app.example.com", 403),
        ("https://*.example.com", "https://a.example.com", 200),
        ("https://*.example.com", "https://example.com", 403),
        ("https://*.example.com", "http://a.example.com", 403),
        ("https://*.example.com", "https://a.example.com:8443", 403),
        ("app.example.com", "https://app.example.com", 200),
        ("app.example.com", "http://app.example.com", 403),
        (".example.com", "https://example.com", 200),
        (".example.com", "https://deep.a.example.com", 200),
        (".example.com", "https://badexample.com", 403),
    ],
)
def test_trusted_origins(
    csrf_app: AppBuilder, trusted: str, origin: str, status: int, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app(CSRF_TRUSTED_ORIGINS=[trusted]), base_url="https://localhost")
    token = client.csrf_token()
    response = client.post("/submit", headers={"origin": origin, "x-csrf-token": token})
    assert refusal(response) == ((403, CSRF) if status == 403 else (status,))


def test_cross_site_fetch_passes_only_from_a_trusted_referer(
    csrf_app: AppBuilder, refusal: RefusalCheck
) -> None:
    client = TestClient(csrf_app(CSRF_TRUSTED_ORIGINS=["https://partner.example"]))
    token = client.csrf_token()
    headers = {"sec-fetch-site": "cross-site", "x-csrf-token": token}
    trusted = {**headers, "referer": "http://partner.example/a"}
    assert client.post("/submit", headers=trusted).status_code == 403  # scheme differs
    assert refusal(client.post("/submit", headers=headers)) == (403, CSRF)
    https = TestClient(
        csrf_app(CSRF_TRUSTED_ORIGINS=["https://partner.example"]), base_url="https://localhost"
    )
    token = https.csrf_token()
    ok = {
        "sec-fetch-site": "cross-site",
        "x-csrf-token": token,
        "referer": "https://partner.example/",
    }
    assert https.post("/submit", headers=ok).status_code == 200


# -- exemptions ----------------------------------------------------------------------------


def test_exemptions(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = csrf_app()

    @csrf_exempt
    @app.post("/outer")
    def outer() -> str:
        return "outer"

    @app.post("/inner")
    @csrf_exempt
    def inner() -> str:
        return "inner"

    @app.post("/option", csrf=False)
    def option() -> str:
        return "option"

    hooks = Blueprint("hooks", url_prefix="/hooks", csrf_exempt=True)

    @hooks.post("/a")
    def hook_a() -> str:
        return "a"

    webhooks = Blueprint("webhooks", url_prefix="/webhooks")

    @webhooks.post("/b")
    def hook_b() -> str:
        return "b"

    guarded = Blueprint("guarded", url_prefix="/guarded")

    @guarded.post("/c")
    def hook_c() -> str:
        return "c"

    app.register_blueprint(hooks)
    app.register_blueprint(webhooks, csrf_exempt=True)
    app.register_blueprint(guarded)
    client = TestClient(app)
    for path in ("/outer", "/inner", "/option", "/hooks/a", "/webhooks/b"):
        assert client.post(path).status_code == 200, path
    assert refusal(client.post("/guarded/c")) == (403, CSRF)
    assert refusal(client.post("/submit")) == (403, CSRF)


def test_bad_csrf_option_fails_at_startup(csrf_app: AppBuilder) -> None:
    app = csrf_app()

    @app.post("/x", csrf="no")
    def x() -> str:
        return "x"

    with pytest.raises(TypeError, match="csrf="):
        TestClient(app).get("/")


# -- binding -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def session_app(csrf_app: AppBuilder) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = csrf_app(**settings)

        @app.post("/write")
        def write(session: Session) -> str:
            session["n"] = session.get("n", 0) + 1
            return str(session["n"])

        @app.post("/login")
        def do_login(session: Session) -> str:
            login(session, "alice")
            return "in"

        return app

    return build


def test_token_stable_across_session_writes_rotated_on_login(
    session_app: AppBuilder, refusal: RefusalCheck
) -> None:
    client = TestClient(session_app())
    assert client.post("/write", csrf=True).status_code == 200
    token = client.cookies["flasgo-csrf"]
    for expected in ("2", "3"):
        response = client.post("/write", csrf=True)
        assert response.text == expected
        assert csrf_cookie(response) is None
    assert client.cookies["flasgo-csrf"] == token
    response = client.post("/login", csrf=True)
    assert response.status_code == 200
    assert csrf_cookie(response) is not None
    assert client.cookies["flasgo-csrf"] != token
    # The old token no longer fits the session.
    stale = client.post(
        "/write", headers={"origin": ORIGIN, "x-csrf-token": token}, cookies={"flasgo-csrf": token}
    )
    assert refusal(stale) == (403, CSRF)
    assert client.post("/write", csrf=True).status_code == 200


def test_anonymous_token_does_not_fit_a_session(
    session_app: AppBuilder, refusal: RefusalCheck
) -> None:
    client = TestClient(session_app())
    anonymous = TestClient(session_app()).csrf_token()
    client.post("/login", csrf=True)
    headers = {"origin": ORIGIN, "x-csrf-token": anonymous}
    response = client.post("/write", headers=headers, cookies={"flasgo-csrf": anonymous})
    assert refusal(response) == (403, CSRF)


def test_signed_session_keeps_a_binding_secret(session_app: AppBuilder) -> None:
    app = session_app()

    @app.get("/secret")
    def secret(session: Session) -> str:
        return str(session.get(SESSION_SECRET_KEY))

    client = TestClient(app)
    client.post("/write", csrf=True)
    first = client.get("/secret").text
    assert len(first) == 43
    client.post("/login", csrf=True)
    assert client.get("/secret").text != first


def test_server_side_sessions_bind_to_the_session_id() -> None:
    settings = Settings.load({"SECRET_KEY": KEY})
    app = Flasgo(settings, session_backend=ServerSideSessions(MemoryStore(), settings))

    @app.post("/write")
    def write(session: Session) -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.post("/login")
    def do_login(session: Session) -> str:
        login(session, "bob")
        return "in"

    client = TestClient(app)
    client.post("/write", csrf=True)
    token = client.cookies["flasgo-csrf"]
    assert client.post("/write", csrf=True).text == "2"
    assert client.cookies["flasgo-csrf"] == token
    response = client.post("/login", csrf=True)
    assert csrf_cookie(response) is not None
    assert client.cookies["flasgo-csrf"] != token
    assert client.post("/write", csrf=True).status_code == 200


# -- bodies --------------------------------------------------------------------------------


class Item(msgspec.Struct):
    name: str


def test_json_endpoint_refuses_text_plain_even_with_a_valid_token(
    csrf_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = csrf_app()

    @app.post("/items")
    def create(item: Annotated[Item, Body()]) -> dict[str, str]:
        return {"name": item.name}

    client = TestClient(app)
    body = b'{"name": "x"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(
            "/items", body=body, headers={"content-type": content_type}, csrf=True
        )
        assert (response.status_code, response.text) == (415, UNSUPPORTED), content_type
    assert client.post("/items", json={"name": "x"}, csrf=True).status_code == 200
    # Without the token the same text/plain request is refused by CSRF first.
    plain = client.post("/items", body=body, headers={"content-type": "text/plain"})
    assert refusal(plain) == (403, CSRF)


def test_form_body_too_large_is_413_not_403(csrf_app: AppBuilder, refusal: RefusalCheck) -> None:
    client = TestClient(csrf_app(MAX_REQUEST_BODY_BYTES=10))
    token = client.csrf_token()
    response = client.post(
        "/submit", data={"x": "y" * 100, "csrf_token": token}, headers={"origin": ORIGIN}
    )
    assert refusal(response) == (413,)  # a limit: no security event, nothing counted
    assert response.text == TOO_LARGE


# -- unit: tokens --------------------------------------------------------------------------


def test_token_format_and_binding() -> None:
    protection = CSRFProtection(Settings.load({"SECRET_KEY": KEY}))
    token = protection.new_token("anonymous")
    version, nonce, signature = token.split(".")
    assert version == "v1"
    assert len(nonce) == 32
    assert len(signature) == 43
    assert protection.is_valid(token, "anonymous")
    assert not protection.is_valid(token, "other")
    assert not protection.is_valid("v2." + token[3:], "anonymous")
    assert not protection.is_valid(token + "é", "anonymous")
    assert not protection.is_valid("v1.short.sig", "anonymous")


# -- property: hostile headers never break the check -------------------------------------

_text = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=80)


@pytest.fixture(scope="module")
def fuzz_app(csrf_app: AppBuilder) -> tuple[Flasgo, str]:
    # NOTE: the failure throttle is off so every example is judged on its own headers.
    app = csrf_app(SECURITY_FAILURE_RATE_LIMIT=0)
    return app, TestClient(app).csrf_token()


def post_submit(app: Flasgo, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    message = {"type": "http.request", "body": body, "more_body": False}
    return call(app, http_scope("/submit", "POST", headers), [message]).status


def encoded(pairs: list[tuple[bytes, str | None]]) -> list[tuple[bytes, bytes]]:
    return [(name, value.encode("latin-1")) for name, value in pairs if value is not None]


# NOTE: the events list is cleared at the start of every example.
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    origin=st.one_of(st.none(), _text, st.just(ORIGIN)),
    site=st.one_of(st.none(), _text, st.sampled_from(["same-origin", "cross-site", "none"])),
    referer=st.one_of(st.none(), _text),
    cookie=st.one_of(st.none(), _text.map(lambda text: f"flasgo-csrf={text}")),
    use_token=st.booleans(),
    content_type=st.one_of(st.none(), _text, st.just("application/x-www-form-urlencoded")),
)
def test_hostile_headers_without_the_issued_cookie_are_refused(
    fuzz_app: tuple[Flasgo, str],
    security_events: list[str],
    origin: str | None,
    site: str | None,
    referer: str | None,
    cookie: str | None,
    use_token: bool,
    content_type: str | None,
) -> None:
    app, token = fuzz_app
    assume(cookie != f"flasgo-csrf={token}")
    security_events.clear()
    pairs = [
        (b"origin", origin),
        (b"sec-fetch-site", site),
        (b"referer", referer),
        (b"cookie", cookie),
        (b"x-csrf-token", token if use_token else None),
        (b"content-type", content_type),
    ]
    status = post_submit(app, encoded(pairs), f"csrf_token={token}".encode())
    assert status == 403
    assert security_events == ["csrf-check-failed"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site=st.one_of(st.none(), _text),
    content_type=st.one_of(st.none(), _text),
    body=st.binary(max_size=80),
)
def test_a_trusted_origin_with_the_issued_token_passes_whatever_else_is_sent(
    fuzz_app: tuple[Flasgo, str], site: str | None, content_type: str | None, body: bytes
) -> None:
    # NOTE: a trusted Origin decides provenance, so Sec-Fetch-Site is not consulted, and the
    # header token means the body is never read.
    app, token = fuzz_app
    pairs = [
        (b"origin", ORIGIN),
        (b"sec-fetch-site", site),
        (b"cookie", f"flasgo-csrf={token}"),
        (b"x-csrf-token", token),
        (b"content-type", content_type),
    ]
    assert post_submit(app, encoded(pairs), body) == 200
