"""WebSocket.accept and deny validate the header names and values a handler passes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flasgo import WebSocket
from flasgo.testing import WebSocketDenied

if TYPE_CHECKING:
    from tests.conftest import AppFactory, ClientFactory

BAD_HEADERS = [
    {"x-a": "1\r\nset-cookie: s=1"},
    {"x-a": "1\nx-b: 2"},
    {"x-a": "nul\x00"},
    {"x-a": "€"},
    {"bad name": "1"},
    {"x-a:": "1"},
]


@pytest.mark.parametrize("headers", BAD_HEADERS)
def test_accept_refuses_a_bad_header_before_sending_anything(
    make_app: AppFactory, make_client: ClientFactory, headers: dict[str, str]
) -> None:
    app = make_app()
    refused: list[str] = []

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        try:
            await websocket.accept(headers=headers)
        except ValueError as exc:
            refused.append(str(exc))
        await websocket.accept(headers={"x-ok": "1"})
        await websocket.send_text("accepted")
        await websocket.close()

    with make_client(app) as client, client.websocket_connect("/ws") as connection:
        assert connection.response_headers is not None
        assert dict(connection.response_headers)["x-ok"] == "1"
        assert connection.receive_text() == "accepted"
    assert len(refused) == 1
    assert "Invalid" in refused[0]


@pytest.mark.parametrize("headers", BAD_HEADERS)
def test_deny_refuses_a_bad_header_before_sending_anything(
    make_app: AppFactory, make_client: ClientFactory, headers: dict[str, str]
) -> None:
    app = make_app()
    refused: list[str] = []

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        try:
            await websocket.deny(401, "no", headers=headers)
        except ValueError as exc:
            refused.append(str(exc))
        await websocket.deny(403, "denied", headers={"x-ok": "1"})

    client = make_client(app)
    with client, pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/ws"):
        pass
    assert (denied.value.status_code, denied.value.body) == (403, b"denied")
    assert len(refused) == 1
    assert "Invalid" in refused[0]
