"""What one connection enforces after the handshake: size, UTF-8, rate and burst, idle time,
`WebSocketException` close codes. Each closes with its code and logs its security event."""

from __future__ import annotations

from typing import Any

import pytest

from flasgo import Flasgo, WebSocket, WebSocketException
from flasgo.testing import WebSocketClosed, WebSocketDenied
from tests.conftest import AppFactory


def echo_app(make_app: AppFactory, **settings: Any) -> Flasgo:
    app = make_app(**settings)

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    @app.websocket("/raise/<int:code>")
    async def raising(websocket: WebSocket, code: int) -> None:
        if websocket.args.get("before") is None:
            await websocket.accept()
        raise WebSocketException(code, "policy says no")

    return app


def closed_with(ws: Any) -> tuple[int, str]:
    with pytest.raises(WebSocketClosed) as closed:
        ws.receive_text()
    return closed.value.code, closed.value.reason


def test_a_flood_past_the_burst_closes_1008(
    make_app: AppFactory, security_events: list[str]
) -> None:
    # One message a minute sustained, three at once: the fourth is over the limit.
    app = echo_app(make_app, WEBSOCKET_MAX_MESSAGES_PER_MINUTE=1, WEBSOCKET_MESSAGE_BURST=3)
    with app.test_client() as client, client.websocket_connect("/echo") as ws:
        for n in range(3):
            ws.send_text(f"m{n}")
            assert ws.receive_text() == f"m{n}"
        ws.send_text("one too many")
        assert closed_with(ws) == (1008, "Too many messages")
    assert security_events == ["websocket-rate-limited"]


def test_an_oversized_message_closes_1009(make_app: AppFactory, security_events: list[str]) -> None:
    app = echo_app(make_app, WEBSOCKET_MAX_MESSAGE_BYTES=8)
    with app.test_client() as client, client.websocket_connect("/echo") as ws:
        ws.send_text("é" * 4)  # 8 bytes: exactly the limit
        assert ws.receive_text() == "é" * 4
        ws.send_text("é" * 5)  # 5 characters, 10 bytes
        assert closed_with(ws) == (1009, "Message too big")
    assert security_events == ["websocket-message-too-big"]


def test_text_that_is_not_utf8_closes_1007(
    make_app: AppFactory, security_events: list[str]
) -> None:
    app = echo_app(make_app)
    with app.test_client() as client, client.websocket_connect("/echo") as ws:
        ws.send_text("lone \ud800 surrogate")
        assert closed_with(ws) == (1007, "Invalid UTF-8")
    assert security_events == ["websocket-invalid-utf8"]


def test_a_binary_frame_where_text_is_expected_closes_1003(
    make_app: AppFactory, security_events: list[str]
) -> None:
    app = echo_app(make_app)
    with app.test_client() as client, client.websocket_connect("/echo") as ws:
        ws.send_bytes(b"\x00\x01")
        assert closed_with(ws) == (1003, "Expected a text message")
    assert security_events == ["websocket-wrong-frame"]


def test_an_idle_peer_is_closed_1001(make_app: AppFactory, security_events: list[str]) -> None:
    app = echo_app(make_app, WEBSOCKET_IDLE_TIMEOUT=0.05)
    with app.test_client() as client, client.websocket_connect("/echo") as ws:
        ws.send_text("awake")
        assert ws.receive_text() == "awake"
        assert closed_with(ws) == (1001, "Idle timeout")
    assert security_events == ["websocket-idle-timeout"]


@pytest.mark.parametrize("code", [1008, 4001])
def test_websocket_exception_closes_with_its_code(code: int, make_app: AppFactory) -> None:
    with (
        echo_app(make_app).test_client() as client,
        client.websocket_connect(f"/raise/{code}") as ws,
    ):
        assert closed_with(ws) == (code, "policy says no")


def test_websocket_exception_before_accept_refuses_the_handshake(make_app: AppFactory) -> None:
    with (
        echo_app(make_app).test_client() as client,
        pytest.raises(WebSocketDenied) as denied,
        client.websocket_connect("/raise/4001?before=1"),
    ):
        pass
    assert denied.value.status_code == 403


@pytest.mark.parametrize(("code", "reason"), [(1005, ""), (1006, ""), (999, ""), (1000, "x" * 124)])
def test_websocket_exception_checks_its_code(code: int, reason: str) -> None:
    with pytest.raises(ValueError, match=r"close code|at most 123 bytes"):
        WebSocketException(code, reason)
