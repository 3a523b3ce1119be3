"""Parameter sources through real requests: query, header, cookie, body, form, injection."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pytest

from flasgo import (
    BackgroundTasks,
    Body,
    ConfigurationError,
    Cookie,
    Depends,
    File,
    Flasgo,
    Form,
    Header,
    Query,
    Request,
)


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def build() -> Flasgo:
    app = Flasgo()

    @app.get("/query")
    def query(
        page_size: Annotated[int, Query(alias="page-size")] = 10,
        color: Color = Color.RED,
        mode: Literal["a", "b"] = "a",
        day: datetime.date | None = None,
    ) -> dict[str, Any]:
        return {"size": page_size, "color": color.value, "mode": mode, "day": str(day)}

    @app.get("/headers")
    def headers(
        x_token: Annotated[str, Header()],
        tags: Annotated[list[str], Header(alias="X-Tag")] = [],  # noqa: B006
        retries: Annotated[int | None, Header(alias="x-retries")] = None,
    ) -> dict[str, Any]:
        return {"token": x_token, "tags": tags, "retries": retries}

    @app.get("/cookies")
    def cookies(
        sid: Annotated[str, Cookie(alias="session-id")], theme: Annotated[str, Cookie()] = "light"
    ) -> dict[str, str]:
        return {"sid": sid, "theme": theme}

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.post("/points")
    def points(point: Annotated[Point, Body()], request: Request) -> dict[str, Any]:
        return {"x": point.x, "y": point.y, "path": request.path}

    @app.post("/movies")
    def movies(movie: Movie) -> Movie:
        return movie

    @app.post("/scalar")
    def scalar(value: Annotated[int, Body()]) -> dict[str, int]:
        return {"value": value}

    @app.post("/optional")
    def optional(item: Annotated[Item | None, Body()] = None) -> dict[str, Any]:
        return {"item": None if item is None else item.name}

    @app.post("/form")
    def form(point: Annotated[Point, Form()]) -> dict[str, int]:
        return {"x": point.x, "y": point.y}

    @app.post("/fields")
    def fields(name: Annotated[str, Form()], age: Annotated[int, Form()] = 0) -> dict[str, Any]:
        return {"name": name, "age": age}

    return app


def test_query_aliases_enums_literals_dates() -> None:
    client = build().test_client(csrf=True)
    assert client.get("/query?page-size=5&color=blue&mode=b&day=2024-02-29").json() == {
        "size": 5,
        "color": "blue",
        "mode": "b",
        "day": "2024-02-29",
    }
    bad = client.get("/query?page-size=x&color=green&mode=c&day=2024-13-01")
    assert bad.status_code == 422
    locations = [e["location"] for e in bad.json()["errors"]]
    assert locations == [
        ["query", "page-size"],
        ["query", "color"],
        ["query", "mode"],
        ["query", "day"],
    ]


def test_headers_by_name_alias_and_lists() -> None:
    client = build().test_client(csrf=True)
    response = client.get(
        "/headers",
        headers=[("X-Token", "t"), ("x-tag", "a, b"), ("X-Tag", "c"), ("x-retries", "3")],
    )
    assert response.json() == {"token": "t", "tags": ["a", "b", "c"], "retries": 3}
    missing = client.get("/headers")
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {"location": ["header", "x-token"], "code": "missing", "message": "Field required"}
    ]
    twice = client.get("/headers", headers=[("x-token", "a"), ("x-token", "b")])
    assert twice.json()["errors"][0]["code"] == "multiple_values"


def test_cookies() -> None:
    client = build().test_client(csrf=True)
    assert client.get("/cookies", headers={"cookie": "session-id=abc"}).json() == {
        "sid": "abc",
        "theme": "light",
    }
    assert client.get("/cookies").json()["errors"][0]["location"] == ["cookie", "session-id"]


def test_model_kinds_as_bodies() -> None:
    client = build().test_client(csrf=True)
    assert client.post("/items", json={"name": "a", "price": 2}).json() == {
        "name": "a",
        "price": 2.0,
        "tags": [],
    }
    assert client.post("/points", json={"x": 1, "y": 2}).json() == {
        "x": 1,
        "y": 2,
        "path": "/points",
    }
    assert client.post("/movies", json={"title": "t", "year": 1999}).json() == {
        "title": "t",
        "year": 1999,
    }
    assert client.post("/scalar", json=5).json() == {"value": 5}
    assert client.post("/optional").json() == {"item": None}
    assert client.post("/optional", json={"name": "n", "price": 1}).json() == {"item": "n"}


def test_pydantic_models_when_installed() -> None:
    pydantic = pytest.importorskip("pydantic")

    User: Any = pydantic.create_model("User", name=(str, ...), age=(int, ...))

    app = Flasgo()

    def users(user: Any) -> dict[str, Any]:
        return dict(user.model_dump())

    users.__annotations__ = {"user": User, "return": dict[str, Any]}
    app.add_route("/users", users, methods=["POST"])

    client = app.test_client(csrf=True)
    assert client.post("/users", json={"name": "a", "age": 3}).json() == {"name": "a", "age": 3}
    bad = client.post("/users", json={"name": 1, "age": "x"})
    assert bad.status_code == 422
    assert [e["location"] for e in bad.json()["errors"]] == [["body", "name"], ["body", "age"]]


def test_forms() -> None:
    client = build().test_client(csrf=True)
    assert client.post("/form", data={"x": "1", "y": "2"}).json() == {"x": 1, "y": 2}
    bad = client.post("/form", data={"x": "a"})
    assert bad.status_code == 422
    assert client.post("/form", json={"x": 1, "y": 2}).status_code == 415
    assert client.post("/fields", data={"name": "n"}).json() == {"name": "n", "age": 0}
    wrong = client.post("/fields", data={"age": "x"})
    assert [e["location"] for e in wrong.json()["errors"]] == [["body", "name"], ["body", "age"]]


def test_injection_by_type_needs_no_marker() -> None:
    app = Flasgo()
    seen: list[str] = []

    @app.get("/bg")
    def bg(tasks: BackgroundTasks, req: Request) -> str:
        tasks.add_task(seen.append, req.path)
        return "ok"

    assert app.test_client().get("/bg").text == "ok"
    assert seen == ["/bg"]


def test_models_without_marker_on_get_are_registration_errors() -> None:
    app = Flasgo()

    def get_item(item: Item) -> None:
        return None

    with pytest.raises(ConfigurationError, match="Body"):
        app.add_route("/g", get_item)


def dep() -> int:
    return 1


def test_impossible_marker_uses_are_registration_errors() -> None:
    app = Flasgo()

    def in_union(q: Annotated[int, Query()] | None = None) -> None:
        return None

    def as_default(q: int = Query()) -> None:  # type: ignore[assignment]  # NOTE: the error under test
        return None

    def two_bodies(a: Annotated[Item, Body()], b: Annotated[Point, Body()]) -> None:
        return None

    def body_and_form(a: Annotated[Item, Body()], b: Annotated[Point, Form()]) -> None:
        return None

    def file(upload: Annotated[bytes, File()]) -> None:
        return None

    def dep_default(value: int = Depends(dep)) -> None:  # type: ignore[assignment]  # NOTE: under test
        return None

    def two_markers(q: Annotated[int, Query(), Header()]) -> None:
        return None

    def cookie_list(c: Annotated[list[str], Cookie()]) -> None:
        return None

    def cookie_header(c: Annotated[str, Header()]) -> None:
        return None

    for func in (
        in_union,
        as_default,
        two_bodies,
        body_and_form,
        file,
        dep_default,
        two_markers,
        cookie_list,
    ):
        with pytest.raises(ConfigurationError):
            app.add_route(f"/{func.__name__}", func, methods=["POST"])
    app.add_route("/cookie_header", cookie_header)

    def header_cookie(cookie: Annotated[str, Header()]) -> None:
        return None

    with pytest.raises(ConfigurationError, match="Cookie"):
        app.add_route("/hc", header_cookie)
