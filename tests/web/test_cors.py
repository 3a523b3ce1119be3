"""CORS: validated config, preflight before 404/405 and app code, headers on responses."""

from __future__ import annotations

from typing import Any

import pytest

from flasgo import Blueprint, ConfigurationError, CORSConfig, Flasgo
from tests.conftest import AppFactory, ClientFactory

SPA = "https://spa.example"
EVIL = "https://evil.example"


def preflight(method: str = "POST", origin: str = SPA, **extra: str) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": method, **extra}


@pytest.fixture
def app(make_app: AppFactory) -> Flasgo:
    app = make_app(CSRF_ENABLED=False, ENABLE_DOCS=True)
    app.cors = CORSConfig(
        [SPA],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
        expose_headers=["X-Total"],
        allow_credentials=True,
        max_age=300,
    )
    calls: list[str] = []
    app.state.calls = calls

    @app.before_request
    def count() -> None:
        calls.append("hook")

    @app.post("/notes")
    def create() -> dict[str, Any]:
        calls.append("handler")
        return {"ok": True}

    @app.get("/private", cors=False)
    def private() -> str:
        return "no cors"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("x")

    public = Blueprint("public", cors=CORSConfig(["*"]))

    @public.get("/feed")
    def feed() -> str:
        return "feed"

    app.register_blueprint(public, url_prefix="/public")
    return app


def test_a_preflight_is_answered_without_app_code(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).options(
        "/notes", headers=preflight(**{"access-control-request-headers": "X-Token, Content-Type"})
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SPA
    assert response.headers["access-control-allow-methods"] == "POST"
    assert response.headers["access-control-allow-headers"] == "x-token, content-type"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-max-age"] == "300"
    assert response.headers["vary"] == (
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    assert "set-cookie" not in response.headers
    assert app.state.calls == []


def test_a_preflight_for_an_unknown_path_is_answered_before_404(
    app: Flasgo, make_client: ClientFactory
) -> None:
    response = make_client(app).options("/nowhere", headers=preflight("GET"))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SPA


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (preflight(origin=EVIL), "cors-preflight-denied"),
        (preflight(origin="null"), "cors-preflight-denied"),
        (preflight(origin="https://spa.example.evil.example"), "cors-preflight-denied"),
        (preflight(origin="http://spa.example"), "cors-preflight-denied"),
        (preflight("DELETE"), "cors-preflight-denied"),
        (preflight(**{"access-control-request-headers": "X-Other"}), "cors-preflight-denied"),
        (
            preflight(**{"access-control-request-headers": "x-token, authorization"}),
            "cors-preflight-denied",
        ),
        (preflight("PO ST"), "cors-preflight-invalid"),
        (preflight(""), "cors-preflight-invalid"),
        (preflight(**{"access-control-request-headers": "x token"}), "cors-preflight-invalid"),
        (
            preflight(**{"access-control-request-headers": ",".join(["x-token"] * 65)}),
            "cors-preflight-invalid",
        ),
    ],
)
def test_bad_preflights_are_refused(
    app: Flasgo,
    make_client: ClientFactory,
    security_events: list[str],
    headers: dict[str, str],
    reason: str,
) -> None:
    response = make_client(app).options("/notes", headers=headers)
    assert response.status_code == (400 if reason.endswith("invalid") else 403)
    assert security_events == [reason]
    assert app.state.calls == []


def test_a_repeated_origin_is_invalid(
    app: Flasgo, make_client: ClientFactory, security_events: list[str]
) -> None:
    from tests.asgi import call, http_scope

    scope = http_scope(
        "/notes",
        "OPTIONS",
        headers=[
            (b"origin", SPA.encode()),
            (b"origin", EVIL.encode()),
            (b"access-control-request-method", b"POST"),
        ],
    )
    result = call(app, scope)
    assert result.status == 400
    assert security_events == ["cors-preflight-invalid"]


def test_actual_responses_get_the_headers(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.post("/notes", headers={"origin": SPA})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "X-Total"
    assert response.headers["vary"] == "Origin"
    other = client.post("/notes", headers={"origin": EVIL})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"
    bare = client.post("/notes")
    assert "access-control-allow-origin" not in bare.headers


def test_errors_carry_the_headers_too(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    failed = client.get("/boom", headers={"origin": SPA})
    assert failed.status_code == 500
    assert failed.headers["access-control-allow-origin"] == SPA
    missing = client.get("/nowhere", headers={"origin": SPA})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == SPA


def test_a_route_can_opt_out_and_docs_never_inherit(
    app: Flasgo, make_client: ClientFactory, security_events: list[str]
) -> None:
    client = make_client(app)
    private = client.get("/private", headers={"origin": SPA})
    assert "access-control-allow-origin" not in private.headers
    assert "vary" not in private.headers
    docs = client.get("/openapi.json", headers={"origin": SPA})
    assert docs.status_code == 200
    assert "access-control-allow-origin" not in docs.headers
    plain_options = client.options("/private", headers=preflight("GET"))
    assert plain_options.status_code == 204
    assert "access-control-allow-origin" not in plain_options.headers


def test_a_blueprint_config_wins_inside_it(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.get("/public/feed", headers={"origin": EVIL})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    answered = client.options("/public/feed", headers=preflight("GET", origin=EVIL))
    assert answered.status_code == 204
    assert answered.headers["access-control-allow-origin"] == "*"


def test_cors_is_not_csrf_trust(
    make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
) -> None:
    app = make_app()
    app.cors = CORSConfig([SPA], allow_methods=["POST"])

    @app.post("/change")
    def change() -> str:
        return "changed"

    response = make_client(app).post("/change", headers={"origin": SPA})
    assert response.status_code == 403
    assert security_events == ["csrf-check-failed"]


def test_routes_without_cors_stay_plain(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app()

    @app.get("/")
    def index() -> str:
        return "x"

    make_client(app).get("/")
    assert app.pipeline is not None
    match = app.pipeline._router.match("/")
    assert match is not None
    target = match[0].targets["GET"]
    assert target.cors is None
    assert target.plain is True
    assert target.steps == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allow_origins": "https://a.example"}, "list of origins"),
        ({"allow_origins": ["*", SPA]}, "only entry"),
        ({"allow_origins": ["*"], "allow_credentials": True}, "credentials"),
        ({"allow_origins": ["https://a.example/path"]}, "https://app.example"),
        ({"allow_origins": ["ftp://a.example"]}, "http or https"),
        ({"allow_origins": ["https://bücher.example"]}, "ASCII"),
        ({"allow_origins": [SPA], "allow_methods": ["*"]}, "not supported"),
        ({"allow_origins": [SPA], "allow_headers": ["*"]}, "not supported"),
        ({"allow_origins": [SPA], "allow_headers": ["bad header"]}, "not a valid name"),
        ({"allow_origins": [SPA], "expose_headers": ["Set-Cookie"]}, "Set-Cookie"),
        ({"allow_origins": [SPA], "max_age": 86401}, "max_age"),
        ({"allow_origins": [SPA], "max_age": -1}, "max_age"),
        ({"allow_origins": [SPA], "allow_methods": "GET"}, "not a string"),
    ],
)
def test_config_is_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CORSConfig(**kwargs)


def test_a_bad_route_option_is_refused_at_startup(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/", cors="yes")
    def index() -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="must be a CORSConfig or False"):
        app.freeze()
