"""WebSockets through the test client: accept, subprotocols, messages, close codes, denial."""

from __future__ import annotations

import pytest

from flasgo import Flasgo, WebSocket
from flasgo.testing import WebSocketDenied


def build() -> Flasgo:
    app = Flasgo(settings={"WEBSOCKET_MAX_MESSAGE_BYTES": 64})

    @app.websocket("/echo/<int:room>")
    async def echo(websocket: WebSocket, room: int) -> None:
        await websocket.accept(subprotocol="chat" if "chat" in websocket.subprotocols else None)
        await websocket.send_json({"room": room, "q": websocket.args.get("q")})
        async for text in websocket.iter_text():
            if text == "bye":
                await websocket.close(4000, "bye")
                return
            await websocket.send_text(text.upper())

    @app.websocket("/json")
    async def json_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(await websocket.receive_json())

    @app.websocket("/refuse")
    async def refuse(websocket: WebSocket) -> None:
        return None

    @app.websocket("/crash")
    async def crash(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    return app


def test_accept_subprotocol_messages_and_close_code() -> None:
    with (
        build().test_client() as client,
        client.websocket_connect("/echo/5?q=x", subprotocols=["chat"]) as ws,
    ):
        assert ws.accepted_subprotocol == "chat"
        assert ws.receive_json() == {"room": 5, "q": "x"}
        ws.send_text("hello")
        assert ws.receive_text() == "HELLO"
        ws.send_text("bye")
        with pytest.raises(Exception) as info:
            ws.receive_text()
        assert getattr(info.value, "code", None) == 4000


def test_invalid_json_closes_1007_and_oversized_1009() -> None:
    app = build()
    with app.test_client() as client:
        with client.websocket_connect("/json") as ws:
            ws.send_text("{not json")
            with pytest.raises(Exception) as info:
                ws.receive_text()
            assert getattr(info.value, "code", None) == 1007
        with client.websocket_connect("/json") as ws:
            ws.send_text("x" * 65)
            with pytest.raises(Exception) as info:
                ws.receive_text()
            assert getattr(info.value, "code", None) == 1009


def test_not_accepted_unknown_path_and_crash() -> None:
    with build().test_client() as client:
        with pytest.raises(WebSocketDenied) as refused, client.websocket_connect("/refuse"):
            pass
        assert (refused.value.status_code, refused.value.body) == (
            403,
            b"WebSocket was not accepted",
        )
        with pytest.raises(WebSocketDenied) as missing, client.websocket_connect("/nowhere"):
            pass
        assert (missing.value.status_code, missing.value.body) == (
            404,
            b"No WebSocket route matches this path.",
        )
        with client.websocket_connect("/crash") as ws, pytest.raises(Exception) as crashed:
            ws.receive_text()
        assert getattr(crashed.value, "code", None) == 1011


def build_more() -> Flasgo:
    app = Flasgo()

    @app.websocket("/bytes")
    async def bytes_echo(websocket: WebSocket) -> None:
        await websocket.accept(headers={"X-Hello": "1"})
        async for data in websocket.iter_bytes():
            await websocket.send_bytes(data[::-1])
            await websocket.send_json({"n": len(data)}, binary=True)

    @app.websocket("/jsonl")
    async def json_lines(ws: WebSocket) -> None:
        await ws.accept()
        async for item in ws.iter_json():
            await ws.send_json({"got": item, "cookie": ws.cookies.get("c"), "path": ws.path})

    @app.websocket("/deny")
    async def deny(websocket: WebSocket) -> None:
        await websocket.deny(401, "log in first", headers={"WWW-Authenticate": "Bearer"})

    @app.websocket("/bad-subprotocol")
    async def bad_subprotocol(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="not-offered")

    @app.websocket("/misuse")
    async def misuse(websocket: WebSocket) -> None:
        with pytest.raises(RuntimeError):
            await websocket.receive_text()
        with pytest.raises(RuntimeError):
            await websocket.send_text("early")
        await websocket.accept()
        with pytest.raises(RuntimeError):
            await websocket.accept()
        with pytest.raises(ValueError):
            await websocket.close(1005)
        with pytest.raises(ValueError):
            await websocket.close(1000, "x" * 124)
        await websocket.send_text("ok")
        await websocket.close()
        await websocket.close()  # closing twice is harmless

    return app


def test_binary_messages_and_accept_headers() -> None:
    with build_more().test_client() as client, client.websocket_connect("/bytes") as ws:
        assert ws.response_headers is not None
        ws.send_bytes(b"abc")
        assert ws.receive_bytes() == b"cba"
        assert ws.receive_bytes() == b'{"n":3}'
        ws.send_text("text where bytes are expected")
        with pytest.raises(Exception) as info:
            ws.receive_bytes()
        assert getattr(info.value, "code", None) == 1003


def test_json_iteration_and_handshake_cookies() -> None:
    app = build_more()
    with app.test_client() as client:
        client.cookies["c"] = "v"
        with client.websocket_connect("/jsonl") as ws:
            ws.send_json([1, 2])
            assert ws.receive_json() == {"got": [1, 2], "cookie": "v", "path": "/jsonl"}


def test_denial_response_and_handler_misuse() -> None:
    with build_more().test_client() as client:
        with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/deny"):
            pass
        assert (denied.value.status_code, denied.value.body) == (401, b"log in first")
        with pytest.raises(Exception) as failed, client.websocket_connect("/bad-subprotocol"):
            pass
        assert getattr(failed.value, "status_code", None) == 500
        with client.websocket_connect("/misuse") as ws:
            assert ws.receive_text() == "ok"
