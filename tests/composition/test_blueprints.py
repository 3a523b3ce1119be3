"""Blueprints: prefixes, nesting, names for url_for, scoped hooks and error handlers."""

from __future__ import annotations

import pytest

from flasgo import Blueprint, ConfigurationError, Flasgo, Response, request, url_for


def build() -> Flasgo:
    app = Flasgo()
    api = Blueprint("api", url_prefix="/api")
    v1 = Blueprint("v1", url_prefix="/v1")

    @api.before_request
    def mark() -> None:
        request.g.api = True

    @api.after_request
    def stamp(response: Response) -> Response:
        response.headers["X-Api"] = "1"
        return response

    @api.errorhandler(KeyError)
    def key_error(exc: KeyError) -> tuple[str, int]:
        return "api key error", 400

    @api.get("/")
    def api_index() -> str:
        return url_for(".v1.users", user_id=3)

    @v1.get("/users/<int:user_id>")
    def users(user_id: int) -> dict[str, object]:
        return {"id": user_id, "api": request.g.get("api", False), "bp": request.blueprint}

    @v1.get("/fail")
    def fail() -> str:
        raise KeyError("x")

    @v1.websocket("/ws")
    async def ws(websocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    api.register_blueprint(v1)
    app.register_blueprint(api)

    @app.get("/plain")
    def plain() -> str:
        return url_for("api.v1.users", user_id=5)

    @app.get("/fail")
    def app_fail() -> str:
        raise KeyError("x")

    return app


def test_nested_prefixes_names_and_url_for() -> None:
    client = build().test_client()
    assert client.get("/api/v1/users/7").json() == {"id": 7, "api": True, "bp": "api.v1"}
    assert client.get("/plain").text == "/api/v1/users/5"
    assert client.get("/api/").text == "/api/v1/users/3"


def test_blueprint_hooks_and_error_handlers_are_scoped() -> None:
    client = build().test_client()
    assert client.get("/api/v1/users/1").headers["x-api"] == "1"
    assert "x-api" not in client.get("/plain").headers
    assert client.get("/api/v1/fail").text == "api key error"
    assert client.get("/fail").status_code == 500


def test_blueprint_websocket_route() -> None:
    app = build()
    with app.test_client() as client, client.websocket_connect("/api/v1/ws") as ws:
        assert ws.receive_text() == "hi"


def test_url_map_lists_namespaced_endpoints() -> None:
    endpoints = {info.endpoint for info in build().url_map}
    assert {"api.api_index", "api.v1.users", "api.v1.fail", "api.v1.ws", "plain"} <= endpoints


def test_duplicate_blueprint_names_and_late_changes_are_errors() -> None:
    app = Flasgo()
    bp = Blueprint("bp")

    @bp.get("/x")
    def x() -> str:
        return "x"

    app.register_blueprint(bp)
    with pytest.raises(ConfigurationError):
        app.register_blueprint(bp)
    app.register_blueprint(bp, name="bp2", url_prefix="/two")
    assert app.test_client().get("/two/x").text == "x"
    with pytest.raises(ConfigurationError):
        bp.get("/y")(x)
    with pytest.raises(ConfigurationError):
        Blueprint("a.b")
