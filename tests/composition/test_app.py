"""The app through real requests: routing, coercion, hooks, errors, globals, threading."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from flasgo import (
    BuildError,
    ConfigurationError,
    HTTPException,
    NotFound,
    RedirectResponse,
    Response,
    RoutingError,
    SetupFrozenError,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    request,
    url_for,
)
from tests.asgi import call, http_scope

if TYPE_CHECKING:
    from tests.conftest import AppFactory


# -- routing -------------------------------------------------------------------------------------


def test_static_and_dynamic_routes_with_converters(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/users/<int:user_id>")
    async def user(user_id: int) -> dict[str, object]:
        return {"id": user_id, "type": type(user_id).__name__}

    @app.get("/users/me")
    async def me() -> str:
        return "me"

    @app.get("/files/<path:rest>")
    def files(rest: str) -> str:
        return rest

    @app.get("/items/<uuid:item>")
    def item(item: uuid.UUID) -> str:
        return str(item)

    client = app.test_client()
    assert client.get("/users/42").json() == {"id": 42, "type": "int"}
    assert client.get("/users/me").text == "me"
    assert client.get("/files/a/b/c.txt").text == "a/b/c.txt"
    uid = uuid.uuid4()
    assert client.get(f"/items/{uid}").text == str(uid)
    assert client.get("/users/abc").status_code == 404


def test_static_beats_dynamic_whatever_the_order(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/p/<name>")
    def dynamic(name: str) -> str:
        return f"dynamic {name}"

    @app.get("/p/static")
    def static() -> str:
        return "static"

    client = app.test_client()
    assert client.get("/p/static").text == "static"
    assert client.get("/p/other").text == "dynamic other"


def test_404_and_405_with_sorted_allow(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/thing", methods=["POST", "GET"])
    def thing() -> str:
        return "ok"

    client = app.test_client()
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert "No route matches '/nope'" in missing.text
    wrong = client.put("/thing")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert "Use one of: GET, HEAD, OPTIONS, POST" in wrong.text


def test_automatic_head_keeps_headers_drops_body(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/hello")
    def hello() -> str:
        return "hello world"

    response = app.test_client().head("/hello")
    assert response.status_code == 200
    assert response.body == b""
    assert response.headers["content-length"] == "11"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_automatic_options_lists_allowed_methods(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/a")
    def a() -> str:
        return "a"

    @app.delete("/a")
    def a_delete() -> None:
        return None

    response = app.test_client().options("/a")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"


def test_trailing_slash_is_strict_by_default(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/notes/")
    def notes() -> str:
        return "notes"

    client = app.test_client()
    assert client.get("/notes/").status_code == 200
    assert client.get("/notes").status_code == 404


def test_trailing_slash_redirect_policy_is_308_and_never_scheme_relative(
    make_app: AppFactory,
) -> None:
    app = make_app(REDIRECT_TRAILING_SLASH=True)

    @app.get("/notes/")
    def notes() -> str:
        return "notes"

    @app.get("/<path:anything>/")
    def catch_all(anything: str) -> str:
        return anything

    client = app.test_client()
    response = client.get("/notes?x=1")
    assert response.status_code == 308
    assert response.headers["location"] == "/notes/?x=1"
    # SECURITY: //evil.example must never come back as a scheme-relative Location.
    # NOTE: no route matches an empty first segment, so these are not redirected at all.
    for path in ("//evil.example", "//evil.example/"):
        result = call(app, http_scope(path))
        assert result.status == 404
        assert result.header("location") is None
    backslash = call(app, http_scope("/\\evil.example"))
    assert backslash.status == 308
    assert backslash.header("location") == "/%5Cevil.example/"
    assert RedirectResponse("//evil.example/x").headers["location"] == "/%2Fevil.example/x"
    assert RedirectResponse("/\\evil.example").headers["location"] == "/%5Cevil.example"


def test_conflicting_and_malformed_rules_are_rejected_at_registration(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/u/<int:a>")
    def first(a: int) -> str:
        return ""

    with pytest.raises(RoutingError):

        @app.get("/u/<int:b>")
        def second(b: int) -> str:
            return ""

    with pytest.raises(RoutingError):
        app.add_route("/bad/<int: x>", first)
    with pytest.raises(TypeError):
        app.add_route("/m", first, methods="GET")


def test_one_view_under_two_rules_answers_both_and_builds_either(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/users/", name="users")
    @app.route("/users/<int:page>", name="users")
    def users(page: int = 1) -> dict[str, int]:
        return {"page": page}

    @app.get("/archive")
    @app.get("/old-archive")
    def archive() -> str:
        return "archive"

    client = app.test_client()
    assert client.get("/users/").json() == {"page": 1}
    assert client.get("/users/3").json() == {"page": 3}
    assert [client.get(p).text for p in ("/archive", "/old-archive")] == ["archive", "archive"]
    assert app.url_for("users") == "/users/"
    assert app.url_for("users", page=2) == "/users/2"
    # The decorator nearest the function registers first.
    assert app.url_for("archive") == "/old-archive"
    other = make_app()

    @other.get("/a", name="home")
    def first() -> str:
        return "a"

    def second() -> str:
        return "b"

    # Two different views still cannot share a name.
    with pytest.raises(RoutingError, match="'home' is already used by rule '/a'"):
        other.add_route("/b", second, name="home")


def test_handler_must_accept_its_path_parameters(make_app: AppFactory) -> None:
    app = make_app()
    with pytest.raises(ConfigurationError, match="does not accept the path parameter"):

        @app.get("/x/<int:item_id>")
        def handler() -> str:
            return ""

    # A failed registration leaves nothing half-registered behind.
    assert app.url_map == []


def test_root_path_is_stripped_and_added_back_by_url_for(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/where")
    def where() -> dict[str, str]:
        return {"path": request.path, "url": url_for("where", q="1")}

    result = call(app, http_scope("/api/where", root_path="/api"))
    assert result.status == 200
    assert msgspec.json.decode(result.body) == {"path": "/where", "url": "/api/where?q=1"}


def test_url_for_builds_paths_and_query_and_rejects_unknown(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> str:
        return app.url_for("user", user_id=user_id + 1, tab="posts")

    assert app.test_client().get("/users/1").text == "/users/2?tab=posts"
    with pytest.raises(BuildError):
        app.url_for("nope")


# -- return coercion -----------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Item(msgspec.Struct):
    name: str
    price: float


def test_return_values_are_coerced(make_app: AppFactory) -> None:
    app = make_app()
    routes: dict[str, object] = {
        "/str": "text",
        "/bytes": b"\x00\x01",
        "/dict": {"a": 1},
        "/list": [1, 2],
        "/none": None,
        "/tuple2": ("created", 201),
        "/tuple-headers": ("hi", {"X-Extra": "1"}),
        "/tuple3": ({"ok": True}, 202, {"X-Extra": "2"}),
        "/dataclass": Point(1, 2),
        "/struct": Item("pen", 1.5),
        "/response": Response("custom", 418, {"X-Tea": "yes"}),
    }
    for path, value in routes.items():
        app.add_route(path, lambda value=value: value, name=path)

    client = app.test_client()
    assert client.get("/str").headers["content-type"] == "text/plain; charset=utf-8"
    bytes_response = client.get("/bytes")
    assert bytes_response.body == b"\x00\x01"
    assert bytes_response.headers["content-type"] == "application/octet-stream"
    assert client.get("/dict").json() == {"a": 1}
    assert client.get("/dict").headers["content-type"] == "application/json"
    assert client.get("/list").json() == [1, 2]
    none = client.get("/none")
    assert (none.status_code, none.body) == (204, b"")
    assert "content-type" not in none.headers
    assert client.get("/tuple2").status_code == 201
    assert client.get("/tuple-headers").headers["x-extra"] == "1"
    tuple3 = client.get("/tuple3")
    assert (tuple3.status_code, tuple3.json(), tuple3.headers["x-extra"]) == (
        202,
        {"ok": True},
        "2",
    )
    assert client.get("/dataclass").json() == {"x": 1, "y": 2}
    assert client.get("/struct").json() == {"name": "pen", "price": 1.5}
    teapot = client.get("/response")
    assert (teapot.status_code, teapot.text, teapot.headers["x-tea"]) == (418, "custom", "yes")


def test_json_encodes_common_python_types(make_app: AppFactory) -> None:
    app = make_app()
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @app.get("/types")
    def types() -> dict[str, object]:
        return {
            "dt": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            "date": datetime.date(2026, 1, 2),
            "uuid": uid,
            "decimal": decimal.Decimal("1.10"),
            "enum": Color.RED,
            "set": {3},
        }

    assert app.test_client().get("/types").json() == {
        "dt": "2026-01-02T03:04:05Z",
        "date": "2026-01-02",
        "uuid": str(uid),
        "decimal": "1.10",
        "enum": "red",
        "set": [3],
    }


def test_unencodable_return_is_a_clean_500_without_detail(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()

    @app.get("/bad")
    def bad() -> object:
        return object()

    @app.get("/bad-json")
    def bad_json() -> dict[str, object]:
        return {"x": object()}

    client = app.test_client()
    for path in ("/bad", "/bad-json"):
        response = client.get(path)
        assert response.status_code == 500
        assert "Traceback" not in response.text
        assert "object" not in response.text
    assert any("unhandled-exception" in r.getMessage() for r in caplog.records)


@dataclasses.dataclass
class Account:
    name: str
    _password_hash: str = "pbkdf2$secret"


class Profile(msgspec.Struct, rename="camel"):
    display_name: str
    owner: Account
    _token: str = "t0ken"


def test_private_fields_never_reach_the_client_at_any_level(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/account")
    def account() -> Account:
        return Account("ann")

    @app.get("/profiles")
    def profiles() -> dict[str, object]:
        return {"items": [Profile("Ann", Account("ann"))], "_links": {"self": "/profiles"}}

    @app.get("/struct")
    def struct() -> Profile:
        return Profile("Ann", Account("ann"))

    client = app.test_client()
    assert client.get("/account").json() == {"name": "ann"}
    # NOTE: a dict key is the handler's own choice and is kept; model fields are declared data.
    assert client.get("/profiles").json() == {
        "items": [{"displayName": "Ann", "owner": {"name": "ann"}}],
        "_links": {"self": "/profiles"},
    }
    struct_response = client.get("/struct")
    assert struct_response.json() == {"displayName": "Ann", "owner": {"name": "ann"}}
    assert b"secret" not in struct_response.body
    assert b"t0ken" not in struct_response.body


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused_not_written_as_null(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, value: float
) -> None:
    app = make_app()

    @app.get("/plain")
    def plain() -> dict[str, object]:
        return {"score": value, "note": None}

    @app.get("/explicit")
    def explicit() -> Response:
        return Response.json([1.5, {"nested": [value]}])

    client = app.test_client()
    for path in ("/plain", "/explicit"):
        response = client.get(path)
        assert response.status_code == 500
        assert "null" not in response.text
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ValueError, ValueError]
    with pytest.raises(ValueError, match="NaN and Infinity are not JSON"):
        jsonify(value)
    # A None, and text that merely looks like a float's bytes, still encode.
    encoded = Response.json([None, "\xcb\x7f\xf0", 1e308]).body
    assert encoded == b'[null,"\xc3\x8b\x7f\xc3\xb0",1e308]'


def test_a_content_length_set_by_the_handler_is_replaced_not_repeated(
    make_app: AppFactory,
) -> None:
    app = make_app()

    @app.get("/stale")
    def stale() -> Response:
        return Response("four", headers={"Content-Length": "99"})

    @app.get("/tuple")
    def as_tuple() -> tuple[str, int, dict[str, str]]:
        return "abc", 200, {"content-length": "3"}

    stale_result = call(app, http_scope("/stale"))
    assert [v for k, v in stale_result.headers if k == "content-length"] == ["4"]
    assert stale_result.body == b"four"
    tuple_result = call(app, http_scope("/tuple"))
    assert [v for k, v in tuple_result.headers if k == "content-length"] == ["3"]


def test_debug_500_shows_the_traceback(make_app: AppFactory) -> None:
    app = make_app(DEBUG=True)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "kaboom" in response.text


def test_helpers_jsonify_redirect_make_response_abort(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/j")
    def j() -> Response:
        return jsonify(a=1)

    @app.get("/r")
    def r() -> Response:
        return redirect("/j")

    @app.get("/m")
    def m() -> Response:
        response = make_response("body", 201)
        response.headers["X-Made"] = "yes"
        return response

    @app.get("/a")
    def a() -> str:
        abort(403, "nope")

    client = app.test_client()
    assert client.get("/j").json() == {"a": 1}
    assert client.get("/r").status_code == 302
    assert client.get("/r").headers["location"] == "/j"
    made = client.get("/m")
    assert (made.status_code, made.headers["x-made"]) == (201, "yes")
    aborted = client.get("/a")
    assert (aborted.status_code, aborted.text) == (403, "nope")


def test_set_cookie_validates_at_the_call() -> None:
    response = Response("x")
    with pytest.raises(ValueError):
        response.set_cookie("name", "bad\r\nSet-Cookie: evil=1")
    with pytest.raises(ValueError):
        response.set_cookie("bad name", "v")
    with pytest.raises(ValueError):
        response.headers["X-Injected"] = "a\r\nb"
    response.set_cookie("theme", "dark", max_age=60)
    assert response.cookies[0].startswith("theme=dark; Path=/; Max-Age=60")


def test_cookies_reach_the_client(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/set")
    def set_it() -> Response:
        response = Response("ok")
        response.set_cookie("theme", "dark")
        return response

    @app.get("/read")
    def read() -> dict[str, str]:
        return request.cookies

    client = app.test_client()
    assert "theme=dark" in client.get("/set").headers["set-cookie"]
    assert client.get("/read").json()["theme"] == "dark"


# -- globals, hooks, errors ---------------------------------------------------------------------


def test_request_global_g_and_current_app(make_app: AppFactory) -> None:
    app = make_app()

    @app.before_request
    def remember() -> None:
        g.user = "alice"

    @app.get("/inspect")
    def inspect() -> Response:
        return jsonify(
            {
                "method": request.method,
                "path": request.path,
                "user": g.user,
                "same_app": current_app.name == app.name,
            }
        )

    assert app.test_client().get("/inspect").json() == {
        "method": "GET",
        "path": "/inspect",
        "user": "alice",
        "same_app": True,
    }


def test_globals_outside_a_request_raise_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="outside of a request"):
        _ = request.method


def test_explicit_request_parameter(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/explicit")
    async def explicit(request) -> str:
        return str(request.args.get("q", ""))

    assert app.test_client().get("/explicit?q=hi").text == "hi"


def test_query_parameters_bind_from_annotations(make_app: AppFactory) -> None:
    app = make_app()

    @app.post("/notes/")
    async def update_note(
        note_id: int, tags: list[str] | None = None, draft: bool = False
    ) -> dict[str, object]:
        return {"updated": note_id, "tags": tags, "draft": draft}

    client = app.test_client(csrf=True)
    ok = client.post("/notes/?note_id=7&tags=a&tags=b&draft=true")
    assert ok.json() == {"updated": 7, "tags": ["a", "b"], "draft": True}
    missing = client.post("/notes/")
    assert missing.status_code == 422
    assert missing.json() == {
        "error": "validation_error",
        "detail": "Request validation failed.",
        "errors": [
            {"location": ["query", "note_id"], "code": "missing", "message": "Field required"}
        ],
    }
    bad = client.post("/notes/?note_id=%D9%A1")  # Arabic-Indic digit one
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"] == ["query", "note_id"]


def test_before_request_short_circuits_and_after_request_modifies(make_app: AppFactory) -> None:
    app = make_app()
    calls: list[str] = []

    @app.before_request
    async def gate(req) -> str | None:
        if req.args.get("block"):
            return "blocked"
        return None

    @app.after_request
    def stamp(response: Response) -> Response:
        response.headers["X-Stamped"] = "1"
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        calls.append(f"teardown {type(exc).__name__ if exc else None}")

    @app.get("/x")
    def x() -> str:
        return "handler"

    client = app.test_client()
    normal = client.get("/x")
    assert (normal.text, normal.headers["x-stamped"]) == ("handler", "1")
    blocked = client.get("/x?block=1")
    assert (blocked.text, blocked.headers["x-stamped"]) == ("blocked", "1")
    assert client.get("/missing").headers["x-stamped"] == "1"
    assert calls == ["teardown None", "teardown None", "teardown NotFound"]


def test_after_request_returning_none_is_an_error_not_a_204(
    make_app: AppFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()

    @app.after_request
    def forgetful(response: Response) -> None:
        response.headers["X-A"] = "1"

    @app.get("/x")
    def x() -> str:
        return "x"

    response = app.test_client().get("/x")
    assert response.status_code == 500
    assert any("must return the response" in r.getMessage() for r in caplog.records)


def test_teardown_runs_even_when_the_handler_fails(make_app: AppFactory) -> None:
    app = make_app()
    seen: list[object] = []

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        seen.append(exc)

    @app.get("/fail")
    def fail() -> str:
        raise ValueError("bad")

    assert app.test_client().get("/fail").status_code == 500
    assert isinstance(seen[0], ValueError)


def test_errorhandler_by_class_and_by_status_code(make_app: AppFactory) -> None:
    app = make_app()

    class Custom(Exception):
        pass

    @app.errorhandler(Custom)
    def on_custom(exc: Custom) -> tuple[dict[str, str], int]:
        return {"error": "custom"}, 409

    @app.errorhandler(404)
    def on_404(exc: HTTPException) -> tuple[str, int]:
        return "custom not found", 404

    @app.errorhandler(500)
    def on_500(request, exc: Exception) -> tuple[str, int]:
        return f"oops {request.path}", 500

    @app.get("/custom")
    def custom() -> str:
        raise Custom

    @app.get("/crash")
    def crash() -> str:
        raise KeyError("k")

    @app.get("/gone")
    def gone() -> str:
        raise NotFound

    client = app.test_client()
    assert client.get("/custom").status_code == 409
    assert client.get("/nowhere").text == "custom not found"
    assert client.get("/gone").text == "custom not found"
    crashed = client.get("/crash")
    assert (crashed.status_code, crashed.text) == (500, "oops /crash")


def test_failing_error_handler_gives_the_safe_500(make_app: AppFactory) -> None:
    app = make_app()

    @app.errorhandler(ValueError)
    def broken(exc: ValueError) -> str:
        raise RuntimeError("handler broke")

    @app.get("/x")
    def x() -> str:
        raise ValueError

    response = app.test_client().get("/x")
    assert response.status_code == 500
    assert "handler broke" not in response.text


def test_setup_is_frozen_after_the_first_request(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/")
    def index() -> str:
        return "i"

    app.test_client().get("/")
    with pytest.raises(SetupFrozenError):
        app.add_route("/late", index, name="late")
    with pytest.raises(SetupFrozenError):
        app.before_request(lambda: None)


def test_sync_handlers_run_off_the_loop_concurrently(make_app: AppFactory) -> None:
    app = make_app()
    inside = threading.Semaphore(0)
    release = threading.Event()
    threads: dict[int, str] = {}

    @app.get("/slow")
    def slow() -> str:
        threads[threading.get_ident()] = threading.current_thread().name
        inside.release()
        # NOTE: the bound only stops a broken build from hanging; the proof is the ordering.
        return "released" if release.wait(10) else "never released"

    async def main() -> tuple[list[bool], list[str], int]:
        client = app.test_client()
        calls = [asyncio.ensure_future(client.aget("/slow")) for _ in range(5)]
        # All five handlers are blocked inside at once, and the loop still runs this coroutine:
        # so they run concurrently, each in a thread of its own, and none blocks the loop.
        entered = [await asyncio.to_thread(inside.acquire, True, 10) for _ in range(5)]
        release.set()
        return entered, [(await c).text for c in calls], threading.get_ident()

    entered, texts, loop_thread = asyncio.run(main())
    assert entered == [True] * 5
    assert texts == ["released"] * 5
    assert len(threads) == 5
    assert loop_thread not in threads
    assert all(name.startswith("flasgo-sync") for name in threads.values())


def test_sync_handler_sees_the_request_global_in_its_thread(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/who")
    def who() -> str:
        return f"{request.method} {request.path} {threading.current_thread().name != 'MainThread'}"

    assert app.test_client().get("/who").text == "GET /who True"


def test_security_headers_and_no_store_are_on_every_response(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/x")
    def x() -> str:
        return "x"

    client = app.test_client()
    for response in (client.get("/x"), client.get("/missing"), client.put("/x")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "no-store" in response.headers["cache-control"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_handler_headers_win_over_defaults_and_public_cache_opt_out(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/framed")
    def framed() -> Response:
        return Response("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/public")
    def public() -> Response:
        response = Response("x", allow_public_cache=True)
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    client = app.test_client()
    assert client.get("/framed").headers["x-frame-options"] == "SAMEORIGIN"
    public_response = client.get("/public")
    assert public_response.headers["cache-control"] == "public, max-age=60"
    assert "pragma" not in public_response.headers


def test_middleware_wraps_the_app_once(make_app: AppFactory) -> None:
    app = make_app()
    built: list[int] = []

    class AddHeader:
        def __init__(self, inner, value: str) -> None:
            self.inner = inner
            self.value = value.encode()
            built.append(1)

        async def __call__(self, scope, receive, send):
            async def wrapped(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-mw", self.value)]
                await send(message)

            await self.inner(scope, receive, wrapped)

    app.add_middleware(AddHeader, value="on")

    @app.get("/")
    def index() -> str:
        return "i"

    client = app.test_client()
    assert client.get("/").headers["x-mw"] == "on"
    assert client.get("/").headers["x-mw"] == "on"
    assert built == [1]


def test_custom_converters(make_app: AppFactory) -> None:
    from flasgo import Converter

    class HexConverter(Converter):
        regex = "[0-9a-f]+"

        def to_python(self, value: str) -> object:
            if not all(c in "0123456789abcdef" for c in value):
                raise ValueError(value)
            return int(value, 16)

        def to_url(self, value: object) -> str:
            return format(value, "x")

    app = make_app()
    app.add_converter("hex", HexConverter)

    @app.get("/color/<hex:value>")
    def color(value: int) -> dict[str, object]:
        return {"value": value, "url": url_for("color", value=value)}

    client = app.test_client()
    assert client.get("/color/ff").json() == {"value": 255, "url": "/color/ff"}
    assert client.get("/color/zz").status_code == 404


def test_url_map_lists_routes_with_automatic_methods(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/a")
    def a() -> str:
        return "a"

    @app.websocket("/ws")
    async def ws(websocket: object) -> None:
        return None

    assert [(r.rule, r.methods, r.endpoint, r.websocket) for r in app.url_map] == [
        ("/a", ("GET", "HEAD", "OPTIONS"), "a", False),
        ("/ws", (), "ws", True),
    ]


def test_hostile_paths_never_500(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/files/<path:name>")
    def files(name: str) -> str:
        return name

    too_long = b"Request URL exceeds MAX_URL_LENGTH."
    for path in ["/" + "a/" * 10_000, "/" + "x" * 100_000]:
        result = call(app, http_scope(path))
        assert (result.status, result.body) == (414, too_long)
    for path in ["/\x00", "/%ZZ"]:
        result = call(app, http_scope(path))
        assert result.status == 404
        assert result.body.startswith(b"No route matches")
    # A lone surrogate routes like any text; the handler's echo encodes it as "?".
    lone = call(app, http_scope("/files/\ud800"))
    assert (lone.status, lone.body) == (200, b"?")


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({"method": ["POST"]}, "did you mean methods=?"),
        ({"status": 201}, "did you mean status_code=?"),
    ],
)
def test_an_unknown_route_option_is_a_type_error(
    make_app: AppFactory, options: dict[str, Any], hint: str
) -> None:
    app = make_app()
    with pytest.raises(TypeError, match=re.escape(hint)):

        @app.route("/", **options)
        def index() -> str:
            return "x"

    assert list(app.iter_endpoints()) == []


def test_url_for_external_and_scheme(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/notes/<int:note_id>")
    def note(note_id: int) -> dict[str, str]:
        return {
            "external": app.url_for("note", note_id=note_id, _external=True),
            "https": app.url_for("note", note_id=note_id, _scheme="https", page=2),
            "anchor": app.url_for("note", note_id=note_id, _anchor="top"),
        }

    assert app.test_client().get("/notes/3").json() == {
        "external": "http://localhost/notes/3",
        "https": "https://localhost/notes/3?page=2",
        "anchor": "/notes/3#top",
    }
    with pytest.raises(ValueError, match="_scheme must be"):
        app.url_for("note", note_id=1, _scheme="javascript")


def test_app_context_and_logger(make_app: AppFactory) -> None:
    from flasgo import Flasgo, current_app, url_for

    app = make_app()

    @app.get("/notes/<int:note_id>")
    def note(note_id: int) -> str:
        return "x"

    with app.app_context() as active:
        assert active is app
        assert current_app.settings is app.settings
        assert url_for("note", note_id=3) == "/notes/3"
    with pytest.raises(RuntimeError, match="Working outside of a request"):
        _ = current_app.settings
    assert app.logger.name == "flasgo.app"
    assert Flasgo(__name__, settings={"SECRET_KEY": "k" * 40}).logger.name == __name__
