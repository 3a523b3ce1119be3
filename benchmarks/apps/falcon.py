"""Falcon (ASGI): one resource class per endpoint, `media` for JSON, manual echo validation."""

from __future__ import annotations

import falcon
import falcon.asgi

from benchmarks.endpoints import HELLO, ROUTE_COUNT


class PlainText:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HELLO


class Json:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"message": HELLO}


class User:
    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, user_id: int
    ) -> None:
        resp.media = {"id": user_id}


class Query:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        name = req.get_param("name", required=True)
        page = req.get_param_as_int("page", default=1)
        resp.media = {"name": name, "page": page}


def _is_item(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("name"), str)
        and isinstance(data.get("price"), int | float)
        and not isinstance(data.get("price"), bool)
        and isinstance(data.get("tags"), list)
        and all(isinstance(tag, str) for tag in data["tags"])
    )


class Echo:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        data = await req.get_media()
        if not _is_item(data):
            raise falcon.HTTPUnprocessableEntity(description="bad body")
        resp.media = {"name": data["name"], "price": float(data["price"]), "tags": data["tags"]}


class ItemResource:
    def __init__(self, route: int) -> None:
        self.route = route

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, item_id: int
    ) -> None:
        resp.media = {"route": self.route, "item_id": item_id}


app = falcon.asgi.App()
app.add_route("/plaintext", PlainText())
app.add_route("/json", Json())
app.add_route("/users/{user_id:int}", User())
app.add_route("/query", Query())
app.add_route("/echo", Echo())
for _i in range(ROUTE_COUNT):
    app.add_route(f"/r{_i}/items/{{item_id:int}}", ItemResource(_i))
