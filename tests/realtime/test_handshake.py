"""The WebSocket handshake goes through the HTTP screen, the Origin check, the session and auth.

Each refusal is asserted by status, body and the security event it logged; failed security
checks count against the client exactly as HTTP ones do.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flasgo import Flasgo, HasScope, SecurityFailureThrottle, Session, User, WebSocket, login
from flasgo.security.jwt import bearer_token_backend
from flasgo.testing import WebSocketDenied
from tests.conftest import AppFactory, ClientFactory

THROTTLED = "Too many failed security checks from this client. Wait a moment before retrying."
ALICE = User(id="alice", is_authenticated=True, scopes=frozenset({"chat"}))
BOB = User(id="bob", is_authenticated=True, scopes=frozenset())
TOKENS = {"alice-token": ALICE, "bob-token": BOB}


class Clock:
    """A clock the test moves; the throttle never sees wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def socket_app(make_app: AppFactory, **settings: Any) -> tuple[Flasgo, list[str]]:
    """An app with an echo socket that records each handler call."""
    calls: list[str] = []
    app = make_app(**settings)

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        calls.append("ws")
        await websocket.accept()
        await websocket.send_text("hello")

    return app, calls


def denial(client: Any, path: str = "/ws", **options: Any) -> WebSocketDenied:
    with pytest.raises(WebSocketDenied) as denied, client.websocket_connect(path, **options):
        pass
    return denied.value


# -- the HTTP screen ---------------------------------------------------------------------------


def test_a_throttled_client_gets_no_socket(
    make_app: AppFactory, security_events: list[str]
) -> None:
    throttle = SecurityFailureThrottle(2, 60, clock=Clock())
    app, calls = socket_app(make_app, security_throttle=throttle)
    client = app.test_client()
    assert [client.get("/", headers={"host": "evil.example"}).status_code] * 2 == [400, 400]
    client.get("/", headers={"host": "evil.example"})
    refused = denial(client)
    assert (refused.status_code, refused.body.decode()) == (429, THROTTLED)
    assert calls == []
    assert security_events[-1] == "security-failure-rate-limit-exceeded"


def test_handshake_refusals_are_counted_by_the_throttle(
    make_app: AppFactory, security_events: list[str]
) -> None:
    throttle = SecurityFailureThrottle(2, 60, clock=Clock())
    app, calls = socket_app(make_app, security_throttle=throttle)
    client = app.test_client()
    statuses = [denial(client, origin="https://evil.example").status_code for _ in range(3)]
    assert statuses == [403, 403, 429]
    assert security_events == [
        "websocket-origin-failed",
        "websocket-origin-failed",
        "security-failure-rate-limit-exceeded",
    ]
    # Now even a good handshake, and plain HTTP, are refused.
    assert denial(client).status_code == 429
    assert client.get("/").status_code == 429
    assert calls == []


def test_too_many_header_fields_are_refused_as_for_http(
    make_app: AppFactory, security_events: list[str]
) -> None:
    app, calls = socket_app(make_app)
    client = app.test_client()
    many = [(f"x-h{i}", "v") for i in range(100)]
    assert client.get("/", headers=many).status_code == 431
    refused = denial(client, headers=many)
    assert (refused.status_code, refused.body) == (
        431,
        b"Request headers exceed MAX_REQUEST_HEAD_BYTES.",
    )
    assert security_events == ["request-head-too-large"] * 2
    assert calls == []


def test_an_oversized_head_is_refused(make_app: AppFactory, security_events: list[str]) -> None:
    app, _ = socket_app(make_app, MAX_REQUEST_HEAD_BYTES=2048)
    refused = denial(app.test_client(), headers={"x-big": "v" * 2048})
    assert refused.status_code == 431
    assert security_events == ["request-head-too-large"]


def test_a_bad_host_is_refused_and_counted(
    make_app: AppFactory, security_events: list[str]
) -> None:
    throttle = SecurityFailureThrottle(1, 60, clock=Clock())
    app, _ = socket_app(make_app, security_throttle=throttle)
    client = app.test_client()
    first = denial(client, headers={"host": "evil.example"})
    assert first.status_code == 400
    assert first.body.startswith(b"Invalid Host header.")
    assert denial(client, headers={"host": "evil.example"}).status_code == 429
    assert security_events == ["websocket-host-failed", "security-failure-rate-limit-exceeded"]


@pytest.mark.parametrize("trusted", [True, False])
def test_forwarded_headers_count_as_for_http(
    trusted: bool, make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
) -> None:
    settings: dict[str, Any] = {"ALLOWED_HOSTS": {"chat.example.com"}}
    if trusted:
        settings["TRUSTED_PROXIES"] = {"10.0.0.0/8"}
    app, _ = socket_app(make_app, **settings)
    client = make_client(app, client=("10.0.0.5", 4000))
    forwarded = {
        "host": "internal:8000",
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-host": "chat.example.com",
        "x-forwarded-proto": "https",
    }
    http = client.get("/", headers=forwarded)
    if trusted:
        assert http.status_code == 200
        with client.websocket_connect(
            "/ws", headers=forwarded, origin="https://chat.example.com"
        ) as ws:
            assert ws.receive_text() == "hello"
        assert security_events == []
    else:
        assert http.status_code == 400
        refused = denial(client, headers=forwarded, origin="https://chat.example.com")
        assert refused.status_code == 400
        assert security_events == ["host-check-failed", "websocket-host-failed"]


def test_an_unknown_path_is_404(make_app: AppFactory) -> None:
    app, _ = socket_app(make_app)
    refused = denial(app.test_client(), "/nowhere")
    assert (refused.status_code, refused.body) == (404, b"No WebSocket route matches this path.")


# -- session and auth in the handshake -------------------------------------------------------


def auth_app(make_app: AppFactory) -> Flasgo:
    app = make_app()
    app.register_auth_backend("bearer", bearer_token_backend(TOKENS.get))

    @app.websocket("/private")
    @app.authorize(HasScope("chat"), backend="bearer")
    async def private(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"user": websocket.user.id})

    return app


def test_auth_in_the_handshake_401_403_and_accept(
    make_app: AppFactory, security_events: list[str]
) -> None:
    client = auth_app(make_app).test_client()
    anonymous = denial(client, "/private")
    assert anonymous.status_code == 401
    assert ("www-authenticate", "Bearer") in anonymous.headers
    forbidden = denial(client, "/private", headers={"authorization": "Bearer bob-token"})
    assert forbidden.status_code == 403
    assert security_events == ["permission-denied"] * 2
    with client.websocket_connect(
        "/private", headers={"authorization": "Bearer alice-token"}
    ) as ws:
        assert ws.receive_json() == {"user": "alice"}


def test_auth_refusal_without_the_denial_extension_closes_1008(make_app: AppFactory) -> None:
    app = auth_app(make_app)
    app.freeze()
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/private",
        "raw_path": b"/private",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"origin", b"http://localhost")],
        "client": ("127.0.0.1", 5000),
        "subprotocols": [],
        "extensions": {},
    }
    asyncio.run(app(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_the_session_is_readable_in_the_handshake(make_app: AppFactory) -> None:
    app = make_app(CSRF_ENABLED=False)

    @app.post("/login")
    def sign_in(session: Session) -> str:
        login(session, "carol")
        session["room"] = "lobby"
        return "in"

    @app.websocket("/me")
    async def me(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"room": websocket.session.get("room")})

    client = app.test_client()
    with client.websocket_connect("/me") as ws:
        assert ws.receive_json() == {"room": None}
    assert client.post("/login").status_code == 200
    with client.websocket_connect("/me") as ws:
        assert ws.receive_json() == {"room": "lobby"}


# -- subprotocols and timeouts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["v1", "v2"], "v2"), (["v1"], "v1"), (["other"], None), ([], None)],
)
def test_route_subprotocols_in_server_preference(
    offered: list[str], chosen: str | None, make_app: AppFactory
) -> None:
    app = make_app()

    @app.websocket("/p", subprotocols=("v2", "v1"))
    async def negotiated(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(str(websocket.accepted_subprotocol))

    with app.test_client() as client, client.websocket_connect("/p", subprotocols=offered) as ws:
        assert ws.accepted_subprotocol == chosen
        assert ws.receive_text() == str(chosen)


def test_a_handler_that_never_accepts_is_refused_408(make_app: AppFactory) -> None:
    app = make_app(WEBSOCKET_HANDSHAKE_TIMEOUT=0.05)
    finished: list[str] = []

    @app.websocket("/slow")
    async def slow(websocket: WebSocket) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            finished.append("cleaned up")

    with app.test_client() as client:
        refused = denial(client, "/slow")
    assert (refused.status_code, refused.body) == (
        408,
        b"The WebSocket handshake was not accepted in time.",
    )
    assert finished == ["cleaned up"]


def test_the_handshake_timeout_ends_at_accept(make_app: AppFactory) -> None:
    app = make_app(WEBSOCKET_HANDSHAKE_TIMEOUT=0.05)

    @app.websocket("/long")
    async def long_lived(websocket: WebSocket) -> None:
        await websocket.accept()
        await asyncio.sleep(0.2)  # well past the handshake timeout
        await websocket.send_text("still here")

    with app.test_client() as client, client.websocket_connect("/long") as ws:
        assert ws.receive_text() == "still here"
