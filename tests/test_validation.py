"""Body validation: every failing field listed, the issue cap, 415/400/413/422, bad input."""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flasgo import Body, Flasgo


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


class Order(msgspec.Struct):
    items: list[Item]
    note: str | None = None


class Open(msgspec.Struct, forbid_unknown_fields=False):
    name: str


def build(**settings_: Any) -> Flasgo:
    # NOTE: these tests are about body binding; CSRF is tested in tests/security/test_csrf.py.
    app = Flasgo({"CSRF_ENABLED": False, **settings_})

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.post("/orders")
    def order(data: Annotated[Order, Body()]) -> dict[str, int]:
        return {"count": len(data.items)}

    @app.post("/any")
    def anything(data: Annotated[dict[str, list[int]], Body()]) -> dict[str, Any]:
        return data

    return app


def test_every_failing_field_is_listed() -> None:
    client = build().test_client()
    response = client.post("/items", json={"name": 1, "price": "x", "tags": [1], "extra": 0})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"] == "Request validation failed."
    assert [(e["location"], e["code"]) for e in body["errors"]] == [
        (["body", "name"], "str_type"),
        (["body", "price"], "float_type"),
        (["body", "tags", 0], "str_type"),
        (["body", "extra"], "unknown_field"),
    ]
    missing = client.post("/items", json={})
    assert [e["location"] for e in missing.json()["errors"]] == [
        ["body", "name"],
        ["body", "price"],
    ]


def test_nested_models_report_paths() -> None:
    client = build().test_client()
    response = client.post("/orders", json={"items": [{"name": "a", "price": 1}, {"name": 2}]})
    assert [e["location"] for e in response.json()["errors"]] == [
        ["body", "items", 1, "name"],
        ["body", "items", 1, "price"],
    ]
    assert client.post("/orders", json=[]).json()["errors"][0]["code"] == "model_type"


def test_issue_cap() -> None:
    client = build(MAX_VALIDATION_ISSUES=5).test_client()
    items = [{"name": i} for i in range(50)]
    errors = client.post("/orders", json={"items": items}).json()["errors"]
    assert len(errors) == 5
    assert errors[-1]["code"] == "too_many_errors"


def test_media_types_and_malformed_bodies() -> None:
    client = build().test_client()
    text = json.dumps({"name": "a", "price": 1})
    assert (
        client.post("/items", body=text, headers={"content-type": "text/plain"}).status_code == 415
    )
    assert client.post("/items", body=text).status_code == 415
    ok = client.post("/items", body=text, headers={"content-type": "application/vnd.x+json"})
    assert ok.status_code == 200
    for bad in (
        b"{",
        b'{"name": NaN}',
        b"\xff\xfe",
        b"[" * 100 + b"]" * 100,
        b'{"price": 1' + b"0" * 5000 + b"}",
    ):
        response = client.post("/items", body=bad, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, bad[:20]
    empty = client.post("/items", headers={"content-type": "application/json"})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["location"] == ["body"]


def test_body_limit_gives_413() -> None:
    client = build(MAX_REQUEST_BODY_BYTES=100).test_client()
    response = client.post("/items", json={"name": "a" * 200, "price": 1})
    assert response.status_code == 413


def test_large_and_duplicate_input_is_bounded() -> None:
    client = build().test_client()
    big = client.post("/any", json={"k": ["x"] * 100_000})
    assert big.status_code == 422
    assert len(big.json()["errors"]) <= 100
    dup = client.post(
        "/items",
        body=b'{"name":"a","name":"b","price":1}',
        headers={"content-type": "application/json"},
    )
    assert dup.status_code in (200, 422)
    deep = client.post(
        "/any",
        body=b'{"k":' + b"[" * 1000 + b"]" * 1000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values | st.fixed_dictionaries({"name": json_values, "price": json_values}))
def test_any_json_gets_2xx_or_a_well_formed_4xx(value: Any) -> None:
    client = CLIENT
    for path in ("/items", "/orders", "/any"):
        response = client.post(
            path, body=json.dumps(value), headers={"content-type": "application/json"}
        )
        assert response.status_code in (200, 400, 422), (path, value, response.text)
        if response.status_code == 422:
            errors = response.json()["errors"]
            assert errors
            assert all(set(e) == {"location", "code", "message"} for e in errors)


CLIENT = build().test_client()
