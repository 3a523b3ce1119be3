"""BlackSheep: routes on the app's router, typed binding, `FromJSON` dataclass for the echo body."""

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from blacksheep import Application, FromJSON, Response, Router, json, text

from benchmarks.endpoints import HELLO, ROUTE_COUNT

# NOTE: an own Router, not the module-level default one, so that each import of this module
# (the harness builds fresh apps) gets a fresh route table.
app = Application(router=Router())
get = app.router.get
post = app.router.post


@dataclass
class Item:
    name: str
    price: float
    tags: list[str]


@get("/plaintext")
async def plaintext() -> Response:
    return text(HELLO)


@get("/json")
async def json_() -> Response:
    return json({"message": HELLO})


@get("/users/{user_id}")
async def user(user_id: int) -> Response:
    return json({"id": user_id})


@get("/query")
async def query(name: str, page: int = 1) -> Response:
    return json({"name": name, "page": page})


@post("/echo")
async def echo(item: FromJSON[Item]) -> Response:
    return json(asdict(item.value))


def _item_endpoint(route: int) -> Callable[[int], Awaitable[Response]]:
    async def item(item_id: int) -> Response:
        return json({"route": route, "item_id": item_id})

    return item


for _i in range(ROUTE_COUNT):
    get(f"/r{_i}/items/{{item_id}}")(_item_endpoint(_i))
