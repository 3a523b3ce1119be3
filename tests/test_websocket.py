"""WebSockets through the test client: accept, subprotocols, messages, close codes, denial."""

from __future__ import annotations

import pytest

from flasgo import Flasgo, WebSocket


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
        with pytest.raises(Exception) as refused, client.websocket_connect("/refuse"):
            pass
        assert getattr(refused.value, "status_code", None) == 403
        with pytest.raises(Exception) as missing, client.websocket_connect("/nowhere"):
            pass
        assert getattr(missing.value, "status_code", None) == 404
        with client.websocket_connect("/crash") as ws, pytest.raises(Exception) as crashed:
            ws.receive_text()
        assert getattr(crashed.value, "code", None) == 1011
