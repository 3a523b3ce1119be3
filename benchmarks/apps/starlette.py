"""Starlette: plain endpoint functions, `Route` table, manual validation of the echo body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from benchmarks.endpoints import HELLO, ROUTE_COUNT


async def plaintext(request: Request) -> Response:
    return PlainTextResponse(HELLO)


async def json_(request: Request) -> Response:
    return JSONResponse({"message": HELLO})


async def user(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["user_id"]})


async def query(request: Request) -> Response:
    params = request.query_params
    try:
        return JSONResponse({"name": params["name"], "page": int(params.get("page", 1))})
    except (KeyError, ValueError):
        return PlainTextResponse("bad query", status_code=400)


def _is_item(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("name"), str)
        and isinstance(data.get("price"), int | float)
        and not isinstance(data.get("price"), bool)
        and isinstance(data.get("tags"), list)
        and all(isinstance(tag, str) for tag in data["tags"])
    )


async def echo(request: Request) -> Response:
    try:
        data = await request.json()
    except ValueError:
        return PlainTextResponse("bad body", status_code=422)
    if not _is_item(data):
        return PlainTextResponse("bad body", status_code=422)
    item = {"name": data["name"], "price": float(data["price"]), "tags": data["tags"]}
    return JSONResponse(item)


def _item_endpoint(route: int) -> Callable[[Request], Awaitable[Response]]:
    async def item(request: Request) -> Response:
        return JSONResponse({"route": route, "item_id": request.path_params["item_id"]})

    return item


routes = [
    Route("/plaintext", plaintext),
    Route("/json", json_),
    Route("/users/{user_id:int}", user),
    Route("/query", query),
    Route("/echo", echo, methods=["POST"]),
    *(Route(f"/r{i}/items/{{item_id:int}}", _item_endpoint(i)) for i in range(ROUTE_COUNT)),
]

app = Starlette(routes=routes)
