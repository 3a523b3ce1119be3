"""Sessions through real requests: the global, injection, cookies, caching, failures, stores."""

from __future__ import annotations

from typing import Any

from flasgo import (
    Flasgo,
    MemoryStore,
    Response,
    ServerSideSessions,
    Session,
    Settings,
    login,
    session,
)


def build(app: Flasgo | None = None) -> Flasgo:
    app = app or Flasgo()

    @app.post("/set")
    def set_value(value: str) -> str:
        session["value"] = value
        return "stored"

    @app.get("/get")
    def get_value() -> dict[str, Any]:
        return {"value": session.get("value")}

    @app.get("/typed")
    def typed(current: Session) -> dict[str, Any]:
        return {"value": current.get("value"), "new": current.new}

    @app.get("/untouched")
    def untouched() -> str:
        return "no session here"

    @app.post("/fail")
    def fail() -> str:
        session["value"] = "should not persist"
        raise RuntimeError("boom")

    @app.post("/login")
    def do_login() -> Response:
        login(session, "alice")
        return Response("logged in")

    @app.post("/clear")
    def clear() -> None:
        session.clear()

    return app


def test_a_written_session_comes_back_on_the_next_request() -> None:
    client = build().test_client(csrf=True)
    stored = client.post("/set?value=hello")
    cookie = stored.headers["set-cookie"]
    assert cookie.startswith("flasgo-session=")
    for flag in ("Path=/", "Max-Age=604800", "Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie
    assert client.get("/get").json() == {"value": "hello"}
    assert client.get("/typed").json() == {"value": "hello", "new": False}


def test_reading_the_session_makes_the_response_private_and_vary_cookie() -> None:
    client = build().test_client(csrf=True)
    client.post("/set?value=x")
    read = client.get("/get")
    assert "Cookie" in read.headers["vary"]
    assert "set-cookie" not in read.headers  # nothing changed, nothing written
    untouched = client.get("/untouched")
    assert "vary" not in untouched.headers
    assert "set-cookie" not in untouched.headers


def test_failed_handlers_do_not_persist_session_changes() -> None:
    client = build().test_client(csrf=True)
    client.post("/set?value=kept")
    assert client.post("/fail").status_code == 500
    assert client.get("/get").json() == {"value": "kept"}


def test_tampered_cookie_is_an_anonymous_session() -> None:
    client = build().test_client(csrf=True)
    client.post("/set?value=x")
    client.cookies["flasgo-session"] = client.cookies["flasgo-session"][:-2] + "AA"
    assert client.get("/get").json() == {"value": None}


def test_clearing_deletes_the_cookie() -> None:
    client = build().test_client(csrf=True)
    client.post("/set?value=x")
    cleared = client.post("/clear")
    assert "Max-Age=0" in cleared.headers["set-cookie"]
    assert client.get("/get").json() == {"value": None}


def test_server_side_sessions_rotate_on_login() -> None:
    settings = Settings.load({"SECRET_KEY": "k" * 40}, environ={})
    app = build(Flasgo(settings, session_backend=ServerSideSessions(MemoryStore(), settings)))
    client = app.test_client(csrf=True)
    client.post("/set?value=v")
    before = client.cookies["flasgo-session"]
    client.post("/login")
    after = client.cookies["flasgo-session"]
    assert before != after
    assert client.get("/get").json() == {"value": "v"}


def test_redis_url_moves_sessions_to_redis(redis_url: str) -> None:
    app = build(Flasgo({"REDIS_URL": redis_url, "SECRET_KEY": "k" * 40}))
    # One event loop for the whole block, as under a real server; shutdown closes the store.
    with app.test_client(csrf=True) as client:
        client.post("/set?value=in-redis")
        assert len(client.cookies["flasgo-session"]) == 43  # an opaque id, not signed data
        assert client.get("/get").json() == {"value": "in-redis"}
