"""Litestar: decorated handlers with typed parameters, a msgspec Struct for the echo body."""

from collections.abc import Awaitable, Callable

import msgspec
from litestar import Litestar, MediaType, get, post
from litestar.handlers import HTTPRouteHandler

from benchmarks.endpoints import HELLO, ROUTE_COUNT


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str]


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return HELLO


@get("/json")
async def json_() -> dict[str, str]:
    return {"message": HELLO}


@get("/users/{user_id:int}")
async def user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


@get("/query")
async def query(name: str, page: int = 1) -> dict[str, str | int]:
    return {"name": name, "page": page}


@post("/echo", status_code=200)
async def echo(data: Item) -> Item:
    return data


def _item_handler(route: int) -> HTTPRouteHandler:
    async def item(item_id: int) -> dict[str, int]:
        return {"route": route, "item_id": item_id}

    handler: Callable[..., Awaitable[dict[str, int]]] = item
    return get(f"/r{route}/items/{{item_id:int}}", name=f"item{route}")(handler)


app = Litestar(
    route_handlers=[
        plaintext,
        json_,
        user,
        query,
        echo,
        *(_item_handler(i) for i in range(ROUTE_COUNT)),
    ]
)
