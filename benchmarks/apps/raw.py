"""A hand-written minimal ASGI app: the limit a framework's per-request cost is measured against.

It does only what every endpoint needs: a dict lookup for static paths, a split for the
parametrised ones, msgspec for JSON, and exactly two `send` calls with prebuilt headers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import msgspec

from benchmarks.endpoints import HELLO, ROUTE_COUNT


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str]


_encode = msgspec.json.Encoder().encode
_decode_item = msgspec.json.Decoder(Item).decode
_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"
_PLAINTEXT = HELLO.encode()
_JSON_BODY = _encode({"message": HELLO})
_ROUTES = {f"r{i}": i for i in range(ROUTE_COUNT)}
_START_404 = {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}


def _parse_query(raw: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        params.setdefault(name, value)
    return params


async def _respond(send: Any, body: bytes, content_type: bytes, status: int = 200) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Any) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    while message.get("more_body"):
        message = await receive()
        body += message.get("body", b"")
    return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    path: str = scope["path"]
    if path == "/plaintext":
        await _respond(send, _PLAINTEXT, _TEXT)
        return
    if path == "/json":
        await _respond(send, _JSON_BODY, _JSON)
        return
    if path == "/query":
        params = _parse_query(scope["query_string"])
        try:
            result = {"name": params["name"], "page": int(params.get("page", "1"))}
        except (KeyError, ValueError):
            await _respond(send, b"bad query", _TEXT, 400)
            return
        await _respond(send, _encode(result), _JSON)
        return
    if path == "/echo" and scope["method"] == "POST":
        try:
            item = _decode_item(await _read_body(receive))
        except msgspec.DecodeError:
            await _respond(send, b"bad body", _TEXT, 422)
            return
        await _respond(send, _encode(item), _JSON)
        return
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "users" and parts[2].isdigit():
        await _respond(send, _encode({"id": int(parts[2])}), _JSON)
        return
    if len(parts) == 4 and parts[2] == "items" and parts[3].isdigit():
        route = _ROUTES.get(parts[1])
        if route is not None:
            await _respond(send, _encode({"route": route, "item_id": int(parts[3])}), _JSON)
            return
    await send(_START_404)
    await send({"type": "http.response.body", "body": b""})
