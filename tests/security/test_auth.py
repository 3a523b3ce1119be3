"""Authentication and authorization through real requests: outcomes, messages, backends,
permissions, blueprints, the session login backend, `current_user`, OpenAPI and the docs."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

import pytest

from flasgo import (
    AllowAny,
    AuthResult,
    Blueprint,
    ConfigurationError,
    Flasgo,
    HasScope,
    IsAuthenticated,
    Request,
    User,
    bearer_token_backend,
    current_user,
    extract_bearer_token,
    login,
    logout,
    session,
)

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck

UNAUTHORIZED = "Authentication required. Provide valid credentials and retry."
FORBIDDEN = "Forbidden. The authenticated user does not have permission to access this route."
SERVER_ERROR = "Internal Server Error. Check the application logs for the original failure."
THROTTLED = "security-failure-rate-limit-exceeded"
ERROR = "permission-check-error"

ALICE = User(id="alice", is_authenticated=True, scopes=frozenset({"admin", "read"}))
BOB = User(id="bob", is_authenticated=True, scopes=frozenset({"read"}))
TOKENS = {"alice-token": ALICE, "bob-token": BOB}


def validate(token: str) -> User | None:
    return TOKENS.get(token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def bearer_app(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**settings)
        app.register_auth_backend("bearer", bearer_token_backend(validate))
        return app

    return build


def security_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if hasattr(r, "security")]


def security_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [line.split()[0] for line in security_lines(caplog)]


# -- outcomes --------------------------------------------------------------------------------


def test_readme_seed_example_401_403_200(bearer_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = bearer_app()

    @app.get("/admin")
    @app.authorize(IsAuthenticated(), HasScope("admin"), backend="bearer")
    def admin() -> str:
        return "ok"

    client = app.test_client()
    anonymous = client.get("/admin")
    assert refusal(anonymous) == (401, "permission-denied")
    assert anonymous.text == UNAUTHORIZED
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["x-content-type-options"] == "nosniff"

    denied = client.get("/admin", headers=bearer("bob-token"))
    assert refusal(denied) == (403, "permission-denied")
    assert denied.text == FORBIDDEN
    assert "www-authenticate" not in denied.headers

    wrong = client.get("/admin", headers=bearer("nope"))
    assert refusal(wrong) == (401, "permission-denied")
    assert wrong.text == UNAUTHORIZED

    allowed = client.get("/admin", headers=bearer("alice-token"))
    assert (allowed.status_code, allowed.text) == (200, "ok")


@pytest.mark.parametrize("order", ["route-outside", "route-inside"])
def test_decorator_order_does_not_matter(
    bearer_app: AppBuilder, refusal: RefusalCheck, order: str
) -> None:
    app = bearer_app()

    def handler() -> str:
        return "secret"

    if order == "route-outside":
        app.get("/x")(app.authorize(backend="bearer")(handler))
    else:
        app.authorize(backend="bearer")(app.get("/x")(handler))

    client = app.test_client()
    assert refusal(client.get("/x")) == (401, "permission-denied")
    assert client.get("/x", headers=bearer("bob-token")).text == "secret"


def test_no_permissions_means_is_authenticated_and_head_is_protected(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app()

    @app.authorize(backend="bearer")
    @app.get("/me")
    def me() -> str:
        return "me"

    client = app.test_client()
    assert refusal(client.get("/me")) == (401, "permission-denied")
    assert refusal(client.head("/me")) == (401, "permission-denied")
    assert client.options("/me").status_code == 204  # automatic OPTIONS is not a resource
    assert client.get("/me", headers=bearer("bob-token")).status_code == 200


def test_a_backend_without_challenge_sends_no_www_authenticate(refusal: RefusalCheck) -> None:
    app = Flasgo()
    app.register_auth_backend("nobody", lambda request: None)

    @app.get("/x")
    @app.authorize(backend="nobody")
    def x() -> str:
        return "x"

    response = app.test_client().get("/x")
    assert refusal(response) == (401, "permission-denied")
    assert "www-authenticate" not in response.headers


def test_the_default_backend_finds_nobody_until_replaced(refusal: RefusalCheck) -> None:
    app = Flasgo()

    @app.get("/x")
    @app.authorize()
    def x() -> str:
        return "x"

    assert refusal(app.test_client().get("/x")) == (401, "permission-denied")

    other = Flasgo()
    other.register_auth_backend("default", lambda request: ALICE)
    other.get("/x")(other.authorize()(lambda: "x"))
    assert other.test_client().get("/x").status_code == 200


def test_a_backend_error_is_a_clean_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = Flasgo()

    def broken(request: Request) -> User:
        raise RuntimeError("database password is hunter2")

    app.register_auth_backend("broken", broken)

    @app.get("/x")
    @app.authorize(backend="broken")
    def x() -> str:  # pragma: no cover - never reached
        return "x"

    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/x")
    assert response.status_code == 500
    assert response.text == SERVER_ERROR
    assert "hunter2" not in response.text
    assert "auth-backend-error" in security_events(caplog)


@pytest.mark.parametrize("returned", ["a string", 42, AuthResult])
def test_a_backend_returning_nonsense_is_a_500(returned: Any) -> None:
    app = Flasgo()
    app.register_auth_backend("odd", lambda request: returned)
    app.get("/x")(app.authorize(AllowAny(), backend="odd")(lambda: "x"))

    assert app.test_client().get("/x").status_code == 500


def test_an_unknown_backend_fails_at_startup() -> None:
    app = Flasgo()
    app.get("/x")(app.authorize(backend="missing")(lambda: "x"))

    with pytest.raises(ConfigurationError, match="'missing', which is not registered"):
        app.test_client().get("/x")


def test_refusals_are_security_events(
    bearer_app: AppBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    app = bearer_app()
    app.get("/x")(app.authorize(HasScope("admin"), backend="bearer")(lambda: "x"))
    client = app.test_client()

    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        client.get("/x")
        client.get("/x", headers=bearer("bob-token"))
    lines = security_lines(caplog)
    assert [line.split()[0] for line in lines] == ["permission-denied", "permission-denied"]
    assert "status=401" in lines[0]
    assert "status=403" in lines[1]


def test_auth_refusals_count_towards_the_security_failure_throttle(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app(SECURITY_FAILURE_RATE_LIMIT=2)
    app.get("/x")(app.authorize(HasScope("admin"), backend="bearer")(lambda: "x"))
    client = app.test_client()

    assert refusal(client.get("/x")) == (401, "permission-denied")
    assert refusal(client.get("/x", headers=bearer("bob-token"))) == (403, "permission-denied")
    throttled = client.get("/x", headers=bearer("bob-token"))
    assert refusal(throttled) == (429, THROTTLED)
    assert "retry-after" in throttled.headers
    # Over the limit, even valid credentials wait.
    assert refusal(client.get("/x", headers=bearer("alice-token"))) == (429, THROTTLED)


def test_error_handlers_and_after_hooks_see_auth_refusals(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app()
    app.get("/x")(app.authorize(backend="bearer")(lambda: "x"))

    @app.errorhandler(401)
    def login_page(exc: Exception) -> tuple[str, int]:
        return "please log in", 401

    @app.after_request
    def mark(response: Any) -> Any:
        response.headers["x-after"] = "yes"
        return response

    response = app.test_client().get("/x")
    assert refusal(response) == (401, "permission-denied")
    assert response.text == "please log in"
    assert response.headers["x-after"] == "yes"


def test_auth_runs_before_the_before_request_hooks(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app()
    seen: list[Any] = []

    @app.before_request
    def hook() -> None:
        seen.append(current_user.id)

    app.get("/x")(app.authorize(backend="bearer")(lambda: "x"))
    client = app.test_client()

    assert refusal(client.get("/x")) == (401, "permission-denied")
    assert seen == []
    client.get("/x", headers=bearer("bob-token"))
    assert seen == ["bob"]


# -- sync and async ----------------------------------------------------------------------------


def test_sync_backends_and_permissions_run_in_the_thread_pool() -> None:
    app = Flasgo()
    threads: list[str] = []

    def backend(request: Request) -> User:
        threads.append(threading.current_thread().name)
        return BOB

    def is_bob(request: Request, user: User) -> bool:
        threads.append(threading.current_thread().name)
        return user.id == "bob"

    class Weekday:
        def has_permission(self, request: Request, user: User) -> bool:
            threads.append(threading.current_thread().name)
            return True

    app.register_auth_backend("sync", backend)
    app.get("/x")(app.authorize(is_bob, Weekday(), backend="sync")(lambda: "x"))

    assert app.test_client().get("/x").status_code == 200
    assert len(threads) == 3
    assert all(name.startswith("flasgo-sync") for name in threads)


def test_async_backends_and_permissions_are_awaited_on_the_loop(refusal: RefusalCheck) -> None:
    app = Flasgo()
    threads: list[str] = []

    async def backend(request: Request) -> AuthResult:
        await asyncio.sleep(0)
        threads.append(threading.current_thread().name)
        return AuthResult(ALICE)

    class Admin:
        async def has_permission(self, request: Request, user: User) -> bool:
            threads.append(threading.current_thread().name)
            return "admin" in user.scopes

    async def never(request: Request, user: User) -> bool:
        return False

    app.register_auth_backend("async", backend)
    app.get("/ok", name="ok")(app.authorize(Admin(), backend="async")(lambda: "ok"))
    app.get("/no", name="no")(app.authorize(never, backend="async")(lambda: "no"))
    client = app.test_client()

    assert client.get("/ok").status_code == 200
    assert refusal(client.get("/no")) == (403, "permission-denied")
    assert not any(name.startswith("flasgo-sync") for name in threads)


def test_permissions_fail_closed(
    bearer_app: AppBuilder, caplog: pytest.LogCaptureFixture, refusal: RefusalCheck
) -> None:
    app = bearer_app()

    def explodes(request: Request, user: User) -> bool:
        raise ValueError("boom")

    def truthy(request: Request, user: User) -> Any:
        return "yes"

    app.get("/explodes", name="e")(app.authorize(explodes, backend="bearer")(lambda: "x"))
    app.get("/truthy", name="t")(app.authorize(truthy, backend="bearer")(lambda: "x"))
    client = app.test_client()

    with caplog.at_level(logging.WARNING):
        exploded = client.get("/explodes", headers=bearer("bob-token"))
        assert refusal(exploded) == (403, ERROR, "permission-denied")
        assert refusal(client.get("/truthy", headers=bearer("bob-token"))) == (
            403,
            ERROR,
            "permission-denied",
        )
        # An anonymous caller refused by a failing check still gets the 401.
        assert refusal(client.get("/explodes")) == (401, ERROR, "permission-denied")
    assert security_events(caplog).count("permission-check-error") == 3


def test_allow_any_resolves_the_user_but_never_refuses(bearer_app: AppBuilder) -> None:
    app = bearer_app()

    @app.get("/hello")
    @app.authorize(AllowAny(), backend="bearer")
    def hello() -> str:
        return f"hello {current_user.id or 'stranger'}"

    client = app.test_client()
    assert client.get("/hello").text == "hello stranger"
    assert client.get("/hello", headers=bearer("alice-token")).text == "hello alice"


def test_authorize_twice_adds_up_and_backends_must_agree(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app()

    @app.get("/x")
    @app.authorize(HasScope("read"), backend="bearer")
    @app.authorize(HasScope("admin"), backend="bearer")
    def x() -> str:
        return "x"

    client = app.test_client()
    assert refusal(client.get("/x", headers=bearer("bob-token"))) == (403, "permission-denied")
    assert client.get("/x", headers=bearer("alice-token")).status_code == 200

    with pytest.raises(ConfigurationError, match="one backend"):
        app.authorize(backend="a")(app.authorize(backend="b")(lambda: "x"))


# -- blueprints --------------------------------------------------------------------------------


def test_blueprint_permissions_apply_to_every_route_and_cannot_be_dropped(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app()
    admin = Blueprint("admin", url_prefix="/admin", permissions=[HasScope("admin")])
    inner = Blueprint("inner", url_prefix="/inner")

    @admin.get("/plain")
    def plain() -> str:
        return "plain"

    @admin.get("/open")
    @admin.authorize(AllowAny(), backend="bearer")
    def still_closed() -> str:
        return "open?"

    @inner.get("/deep")
    def deep() -> str:
        return "deep"

    admin.register_blueprint(inner)
    # The blueprint names no backend: its routes use the app's "default" one, unless the
    # route names one.
    app.register_blueprint(admin)
    client = app.test_client()

    assert refusal(client.get("/admin/plain", headers=bearer("alice-token"))) == (
        401,
        "permission-denied",
    )
    assert refusal(client.get("/admin/open", headers=bearer("bob-token"))) == (
        403,
        "permission-denied",
    )
    assert client.get("/admin/open", headers=bearer("alice-token")).status_code == 200
    assert refusal(client.get("/admin/inner/deep")) == (401, "permission-denied")


def test_blueprint_auth_backend_alone_means_authenticated(
    bearer_app: AppBuilder, refusal: RefusalCheck
) -> None:
    app = bearer_app()
    api = Blueprint("api", url_prefix="/api", auth_backend="bearer")
    api.get("/me", name="me")(lambda: current_user.id)
    api.get("/scoped", name="scoped")(api.authorize(HasScope("admin"))(lambda: "scoped"))
    app.register_blueprint(api)
    client = app.test_client()

    assert refusal(client.get("/api/me")) == (401, "permission-denied")
    assert client.get("/api/me", headers=bearer("bob-token")).text == "bob"
    assert refusal(client.get("/api/scoped", headers=bearer("bob-token"))) == (
        403,
        "permission-denied",
    )
    assert client.get("/api/scoped", headers=bearer("alice-token")).status_code == 200


# -- the session backend and current_user ----------------------------------------------------


def session_app(loader: Any = None) -> Flasgo:
    app = Flasgo({"SECRET_KEY": "s" * 40})
    if loader is not None:
        app.user_loader(loader)

    # NOTE: GET only to keep these tests independent of CSRF; log in with POST in real apps.
    @app.get("/login/<name>")
    def do_login(name: str) -> str:
        login(session, name)
        return "in"

    @app.get("/logout")
    def do_logout() -> str:
        logout(session)
        return "out"

    @app.get("/private")
    @app.authorize(backend="session")
    def private(user: User) -> dict[str, Any]:
        return {"id": user.id, "scopes": sorted(user.scopes)}

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"id": current_user.id, "authenticated": current_user.is_authenticated}

    return app


def test_session_login_backend_without_a_loader(refusal: RefusalCheck) -> None:
    client = session_app().test_client()

    assert refusal(client.get("/private")) == (401, "permission-denied")
    assert client.get("/public").json() == {"id": None, "authenticated": False}
    client.get("/login/carol")
    assert client.get("/private").json() == {"id": "carol", "scopes": []}
    assert client.get("/public").json() == {"id": "carol", "authenticated": True}
    client.get("/logout")
    assert refusal(client.get("/private")) == (401, "permission-denied")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_session_backend_with_a_user_loader(kind: str, refusal: RefusalCheck) -> None:
    threads: list[str] = []

    def lookup(user_id: str) -> User | None:
        threads.append(threading.current_thread().name)
        if user_id == "ghost":
            return None
        return User(id=user_id, is_authenticated=True, scopes=frozenset({"staff"}))

    async def alookup(user_id: str) -> User | None:
        return lookup(user_id)

    app = session_app(lookup if kind == "sync" else alookup)
    client = app.test_client()
    client.get("/login/dave")
    assert client.get("/private").json() == {"id": "dave", "scopes": ["staff"]}
    # A sync public handler runs in the pool: the loader may run lazily there.
    if kind == "sync":
        assert client.get("/public").json() == {"id": "dave", "authenticated": True}
        assert all(name.startswith("flasgo-sync") for name in threads)
    client.get("/login/ghost")  # the loader no longer knows this id
    assert refusal(client.get("/private")) == (401, "permission-denied")


def test_a_user_parameter_loads_the_user_before_an_async_handler() -> None:
    app = session_app(lambda user_id: User(id=user_id, is_authenticated=True))

    @app.get("/whoami")
    async def whoami(user: User) -> str:
        return f"{user.id}|{current_user.id}"

    client = app.test_client()
    assert client.get("/whoami").text == "None|None"
    client.get("/login/erin")
    assert client.get("/whoami").text == "erin|erin"


def test_current_user_with_a_loader_in_async_code_says_how_to_fix_it() -> None:
    app = session_app(lambda user_id: None)

    @app.get("/async-public")
    async def async_public() -> str:  # pragma: no cover - raises before returning
        return str(current_user.id)

    response = app.test_client().get("/async-public")
    assert response.status_code == 500


def test_current_user_is_lazy_and_anonymous_without_a_session() -> None:
    app = Flasgo()

    @app.get("/untouched")
    def untouched() -> str:
        return "nothing read"

    @app.get("/who")
    async def who(request: Request, user: User) -> dict[str, Any]:
        return {
            "same": request.user is user and current_user == user,
            "anonymous": user == User.anonymous(),
        }

    client = app.test_client()
    response = client.get("/untouched")
    assert "vary" not in response.headers
    assert client.get("/who").json() == {"same": True, "anonymous": True}


def test_current_user_outside_a_request() -> None:
    with pytest.raises(RuntimeError, match="outside of a request"):
        _ = current_user.id


# -- values and validation ---------------------------------------------------------------------


def test_user_values() -> None:
    user = User(id=1, is_authenticated=True, scopes={"a"}, data={"k": "v"})  # type: ignore[arg-type]
    assert user.scopes == frozenset({"a"})
    assert user.data["k"] == "v"
    with pytest.raises(TypeError):
        user.data["k"] = "w"  # type: ignore[index]
    assert hash(user) == hash(User(id=1, is_authenticated=True, scopes=frozenset({"a"})))
    assert User.anonymous() == User()
    assert not User.anonymous().is_authenticated
    with pytest.raises(TypeError, match="one string"):
        User(scopes="admin")  # type: ignore[arg-type]


def test_auth_result_refuses_header_injection_and_non_users() -> None:
    with pytest.raises(ValueError, match="header value"):
        AuthResult(None, "Bearer\r\nSet-Cookie: x=1")
    with pytest.raises(TypeError):
        AuthResult("alice")  # type: ignore[arg-type]


def test_registration_is_validated() -> None:
    app = Flasgo()
    with pytest.raises(ConfigurationError, match="letters, digits"):
        app.register_auth_backend("bad name", lambda request: None)
    with pytest.raises(ConfigurationError, match="not callable"):
        app.register_auth_backend("x", "nope")  # type: ignore[arg-type]
    app.register_auth_backend("x", lambda request: None)
    with pytest.raises(ConfigurationError, match="already registered"):
        app.register_auth_backend("x", lambda request: None)
    with pytest.raises(ConfigurationError, match="pass an instance"):
        app.authorize(IsAuthenticated)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="permission objects"):
        app.authorize(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="RFC 6749"):
        HasScope("two words")
    with pytest.raises(ConfigurationError, match="name a registered"):
        app.authorize(backend="")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def-ghi_~+/==", "abc.def-ghi_~+/=="),
        ("bearer  abc", "abc"),
        ("BEARER abc", "abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic abc", None),
        ("Bearer a b", None),
        ("Bearer a,b", None),
        ("Bearerabc", None),
    ],
)
def test_extract_bearer_token(header: str | None, token: str | None) -> None:
    assert extract_bearer_token(header) == token


def test_extract_with_another_scheme_and_custom_challenge() -> None:
    assert extract_bearer_token("Token xyz", scheme="Token") == "xyz"
    app = Flasgo()
    app.register_auth_backend("token", bearer_token_backend(validate, scheme="Token"))
    app.get("/x")(app.authorize(backend="token")(lambda: "x"))
    client = app.test_client()
    assert client.get("/x").headers["www-authenticate"] == "Token"
    assert client.get("/x", headers={"Authorization": "Token bob-token"}).status_code == 200
    with pytest.raises(ConfigurationError):
        bearer_token_backend(validate, scheme="Bad Scheme")


def test_async_token_validation(refusal: RefusalCheck) -> None:
    async def avalidate(token: str) -> User | None:
        return TOKENS.get(token)

    app = Flasgo()
    app.register_auth_backend("bearer", bearer_token_backend(avalidate))
    app.get("/x")(app.authorize(backend="bearer")(lambda: "x"))
    client = app.test_client()
    assert refusal(client.get("/x")) == (401, "permission-denied")
    assert refusal(client.get("/x", headers=bearer("nope"))) == (401, "permission-denied")
    assert client.get("/x", headers=bearer("bob-token")).status_code == 200


# -- OpenAPI and the docs ----------------------------------------------------------------------


def test_openapi_security_and_auth_responses() -> None:
    app = Flasgo()
    app.register_auth_backend(
        "bearer",
        bearer_token_backend(validate),
        openapi_scheme={"type": "http", "scheme": "bearer", "bearerFormat": "opaque"},
    )
    app.register_auth_backend("nodoc", lambda request: None)
    scoped = app.authorize(HasScope("write"), HasScope("admin"), backend="bearer")
    app.get("/admin", name="admin")(scoped(lambda: "x"))
    app.get("/maybe", name="maybe")(app.authorize(AllowAny(), backend="bearer")(lambda: "x"))
    app.get("/undocumented", name="nodoc")(app.authorize(backend="nodoc")(lambda: "x"))
    app.get("/public", name="public")(lambda: "x")

    document = app.openapi()
    paths = document["paths"]
    admin = paths["/admin"]["get"]
    assert admin["security"] == [{"bearer": ["admin", "write"]}]
    assert set(admin["responses"]) >= {"200", "401", "403"}
    assert paths["/maybe"]["get"]["security"] == [{"bearer": []}, {}]
    assert "401" not in paths["/maybe"]["get"]["responses"]
    assert "security" not in paths["/undocumented"]["get"]
    assert "401" in paths["/undocumented"]["get"]["responses"]
    assert "security" not in paths["/public"]["get"]
    assert "401" not in paths["/public"]["get"]["responses"]
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
    }


@pytest.mark.parametrize(
    ("scheme", "message"),
    [
        ("bearer", "must be a dict"),
        ({"type": "magic"}, "type must be one of"),
        ({"type": "http"}, "'scheme' must be"),
        ({"type": "http", "scheme": "bearer", "$ref": "#/x"}, r"\$ref"),
        ({"type": "http", "scheme": "bearer", "extra": 1}, "unknown field"),
        ({"type": "apiKey", "name": "k", "in": "body"}, "'in' must be"),
        ({"type": "openIdConnect", "openIdConnectUrl": "http://id.example"}, "https"),
        ({"type": "oauth2", "flows": {}}, "non-empty 'flows'"),
        ({"type": "oauth2", "flows": {"magic": {}}}, "unknown OAuth flow"),
        (
            {"type": "oauth2", "flows": {"password": {"tokenUrl": "https://t.example"}}},
            "needs 'scopes'",
        ),
        (
            {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "/a", "scopes": {}}}},
            "https",
        ),
    ],
)
def test_openapi_schemes_are_validated(scheme: Any, message: str) -> None:
    app = Flasgo()
    with pytest.raises(ConfigurationError, match=message):
        app.register_auth_backend("b", lambda request: None, openapi_scheme=scheme)


def test_valid_openapi_schemes_are_accepted() -> None:
    app = Flasgo()
    schemes: list[dict[str, Any]] = [
        {"type": "apiKey", "name": "X-Key", "in": "header", "x-note": "ok"},
        {"type": "mutualTLS", "description": "client certificates"},
        {"type": "openIdConnect", "openIdConnectUrl": "https://id.example/.well-known"},
        {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "https://id.example/auth",
                    "tokenUrl": "https://id.example/token",
                    "refreshUrl": "https://id.example/refresh",
                    "scopes": {"read": "Read things"},
                }
            },
        },
    ]
    for number, scheme in enumerate(schemes):
        app.register_auth_backend(f"s{number}", lambda request: None, openapi_scheme=scheme)
    assert len(app.openapi()["components"]["securitySchemes"]) == 4


def test_docs_auth_backend_protects_the_spec_and_pages(
    bearer_app: AppBuilder, caplog: pytest.LogCaptureFixture, refusal: RefusalCheck
) -> None:
    app = bearer_app(ENABLE_DOCS=True, DOCS_AUTH_BACKEND="bearer")
    app.get("/x")(lambda: "x")
    client = app.test_client()

    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        for url in ("/openapi.json", "/docs", "/docs/redoc"):
            response = client.get(url)
            assert refusal(response) == (401, "docs-auth-failed"), url
            assert response.headers["www-authenticate"] == "Bearer"
            assert client.get(url, headers=bearer("bob-token")).status_code == 200
    assert set(security_events(caplog)) == {"docs-auth-failed"}
    assert client.get("/docs/static/swagger-ui.css").status_code == 200
    assert "/x" in client.get("/openapi.json", headers=bearer("bob-token")).json()["paths"]


def test_docs_auth_backend_must_exist() -> None:
    app = Flasgo({"ENABLE_DOCS": True, "DOCS_AUTH_BACKEND": "nope"})

    with pytest.raises(ConfigurationError, match="'nope', which is not registered"):
        app.test_client().get("/docs")
