"""FastAPI: decorated path operations, typed parameters, a pydantic model for the echo body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from benchmarks.endpoints import HELLO, ROUTE_COUNT

# NOTE: dict-returning operations carry no return annotation: FastAPI would turn it into a
# response model and validate every response; `echo` declares `-> Item` as the docs recommend.
app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str]


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return HELLO


@app.get("/json")
async def json_():
    return {"message": HELLO}


@app.get("/users/{user_id}")
async def user(user_id: int):
    return {"id": user_id}


@app.get("/query")
async def query(name: str, page: int = 1):
    return {"name": name, "page": page}


@app.post("/echo")
async def echo(item: Item) -> Item:
    return item


def _item_endpoint(route: int) -> Callable[[int], Awaitable[dict[str, int]]]:
    async def item(item_id: int):
        return {"route": route, "item_id": item_id}

    return item


for _i in range(ROUTE_COUNT):
    app.get(f"/r{_i}/items/{{item_id}}", name=f"item{_i}")(_item_endpoint(_i))
