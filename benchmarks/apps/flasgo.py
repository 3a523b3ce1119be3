"""Flasgo with its default, secure settings; ALLOWED_HOSTS lists the hosts the benchmarks send."""

from collections.abc import Mapping
from typing import Any

import msgspec

from benchmarks.endpoints import HELLO, ROUTE_COUNT
from flasgo import Flasgo, Response

ALLOWED_HOSTS = ["localhost", "127.0.0.1"]


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str]


def add_item_route(app: Flasgo, route: int) -> None:
    """Register `/r{route}/items/<int:item_id>`, answering which route matched and the id."""

    @app.get(f"/r{route}/items/<int:item_id>", name=f"item{route}")
    async def item(item_id: int) -> dict[str, int]:
        return {"route": route, "item_id": item_id}


def build_app(settings: Mapping[str, Any] | None = None, *, routes: int = ROUTE_COUNT) -> Flasgo:
    """Build the benchmark app on Flasgo with `settings` over the benchmark's ALLOWED_HOSTS."""
    app = Flasgo(settings={"ALLOWED_HOSTS": ALLOWED_HOSTS, **(settings or {})})

    @app.get("/plaintext")
    async def plaintext() -> str:
        return HELLO

    @app.get("/json")
    async def json_() -> dict[str, str]:
        return {"message": HELLO}

    @app.get("/users/<int:user_id>")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.get("/query")
    async def query(name: str, page: int = 1) -> dict[str, str | int]:
        return {"name": name, "page": page}

    @app.get("/")
    async def index() -> Response:
        # The page a browser loads first; it hands out the CSRF cookie for later POSTs.
        return Response.html("<!doctype html><title>bench</title>")

    @app.post("/echo")
    async def echo(item: Item) -> Item:
        # A model parameter on a POST route is the JSON body, validated by msgspec.
        return item

    for i in range(routes):
        add_item_route(app, i)
    return app


app = build_app()
