"""Handler signatures compiled into binders: path/query coercion, request injection, 422s."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
import pytest

from flasgo import Body, ConfigurationError, Flasgo, Header, Request


def build() -> Flasgo:
    app = Flasgo()

    @app.get("/types")
    def types(
        i: int, f: float, b: bool, u: uuid.UUID, s: str = "dflt", o: int | None = None
    ) -> dict[str, Any]:
        return {"i": i, "f": f, "b": b, "u": str(u), "s": s, "o": o}

    @app.get("/lists")
    def lists(ids: list[int], names: list[str] | None = None) -> dict[str, Any]:
        return {"ids": ids, "names": names}

    @app.get("/path/<item_id>")
    def path(item_id: int, req: Request) -> dict[str, Any]:
        return {"item_id": item_id, "path": req.path}

    @app.get("/raw")
    def raw(value, **rest: Any) -> str:
        return str(value)

    return app


def test_scalar_coercions_and_defaults() -> None:
    client = build().test_client()
    uid = uuid.uuid4()
    ok = client.get(f"/types?i=-3&f=2.5&b=off&u={uid}")
    assert ok.json() == {"i": -3, "f": 2.5, "b": False, "u": str(uid), "s": "dflt", "o": None}
    bad = client.get("/types?i=1_0&f=nan&b=maybe&u=xyz&o=1.5")
    assert bad.status_code == 422
    codes = {tuple(e["location"]): e["code"] for e in bad.json()["errors"]}
    assert codes == {
        ("query", "i"): "int_parsing",
        ("query", "f"): "float_parsing",
        ("query", "b"): "bool_parsing",
        ("query", "u"): "uuid_parsing",
        ("query", "o"): "int_parsing",
    }


def test_list_parameters_collect_repeated_keys() -> None:
    client = build().test_client()
    assert client.get("/lists?ids=1&ids=2").json() == {"ids": [1, 2], "names": None}
    assert client.get("/lists").status_code == 422
    assert client.get("/lists?ids=1&ids=x").status_code == 422


def test_untyped_path_values_are_coerced_to_the_annotation() -> None:
    client = build().test_client()
    assert client.get("/path/12").json() == {"item_id": 12, "path": "/path/12"}
    bad = client.get("/path/abc")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"] == ["path", "item_id"]


def test_unannotated_parameters_get_the_raw_string() -> None:
    client = build().test_client()
    assert client.get("/raw?value=%3Cx%3E").text == "<x>"


def test_impossible_signatures_fail_at_registration() -> None:
    app = Flasgo()

    def positional_only(a: int, /) -> None:
        return None

    def star_args(*args: int) -> None:
        return None

    def unsupported(value: dict[str, int]) -> None:
        return None

    def unsupported_list(value: list[dict[str, int]]) -> None:
        return None

    for func in (positional_only, star_args, unsupported, unsupported_list):
        with pytest.raises(ConfigurationError):
            app.add_route(f"/{func.__name__}", func)

    def bad_path(item_id: dict[str, int]) -> None:
        return None

    with pytest.raises(ConfigurationError):
        app.add_route("/p/<item_id>", bad_path)


class Public(msgspec.Struct):
    id: int
    name: str


def test_response_model_projects_and_validates(caplog: pytest.LogCaptureFixture) -> None:
    app = Flasgo()

    @app.get("/user", response_model=Public, status_code=201)
    def user() -> dict[str, Any]:
        return {"id": 1, "name": "ann", "password": "secret"}

    @app.get("/users", response_model=list[Public])
    async def users() -> list[dict[str, Any]]:
        return [{"id": 1, "name": "a", "token": "x"}]

    @app.get("/broken", response_model=Public)
    def broken() -> dict[str, Any]:
        return {"id": "not a number"}

    @app.get("/annotated")
    def annotated() -> Public:
        return Public(1, "x")

    client = app.test_client()
    response = client.get("/user")
    assert (response.status_code, response.json()) == (201, {"id": 1, "name": "ann"})
    assert client.get("/users").json() == [{"id": 1, "name": "a"}]
    assert client.get("/broken").status_code == 500
    assert "response-validation-failed" in caplog.text
    plans = {e.name: e.plan for e in app.iter_endpoints()}
    assert plans["user"].response_model is Public
    assert plans["user"].status_code == 201
    assert plans["annotated"].response_model is Public
    assert plans["annotated"].status_code is None


def test_plan_metadata_and_binding_modes() -> None:
    app = Flasgo()

    @app.get("/p/<int:item_id>")
    def passthrough(item_id: int) -> str:
        return str(item_id)

    @app.get("/sync")
    def sync(q: int, token: Annotated[str | None, Header(description="t")] = None) -> str:
        return str(q)

    @app.post("/body")
    async def body(item: Annotated[Public, Body()]) -> Public:
        return item

    plans = {e.name: e.plan for e in app.iter_endpoints()}
    assert plans["passthrough"].passthrough
    assert not plans["sync"].passthrough
    assert not plans["sync"].bind_async
    assert plans["body"].bind_async
    assert not plans["body"].defers
    query, header = plans["sync"].params
    assert (query.location, query.alias, query.annotation, query.required) == (
        "query",
        "q",
        int,
        True,
    )
    assert (header.location, header.alias, header.annotation, header.required) == (
        "header",
        "token",
        str,
        False,
    )
    assert header.description == "t"
    body_info = plans["body"].body
    assert body_info is not None
    assert (body_info.annotation, body_info.media_type, body_info.required) == (
        Public,
        "application/json",
        True,
    )
