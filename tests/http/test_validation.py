"""Body validation: every failing field listed, the issue cap, 415/400/413/422, bad input."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flasgo import Body, Flasgo
from flasgo.jsonenc import MALFORMED_JSON
from flasgo.testing import TestClient
from flasgo.validation import allow_unknown_fields

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


class Order(msgspec.Struct):
    items: list[Item]
    note: str | None = None


@allow_unknown_fields
class Open(msgspec.Struct):
    name: str
    item: Item | None = None


@dataclasses.dataclass
class Address:
    city: str


@dataclasses.dataclass
class Signup:
    email: str
    address: Address
    addresses: list[Address] = dataclasses.field(default_factory=list)
    # Computed by the class: never input, never demanded.
    slug: str = dataclasses.field(init=False)
    is_admin: bool = dataclasses.field(init=False, default=False)

    def __post_init__(self) -> None:
        self.slug = self.email.split("@")[0]


@pytest.fixture(scope="session")
def build(make_app: AppFactory) -> AppBuilder:
    def build(**settings_: Any) -> Flasgo:
        # NOTE: these tests are about body binding; CSRF is tested in tests/security/test_csrf.py.
        app = make_app(**{"CSRF_ENABLED": False, **settings_})

        @app.post("/items")
        async def create(item: Item) -> Item:
            return item

        @app.post("/orders")
        def order(data: Annotated[Order, Body()]) -> dict[str, int]:
            return {"count": len(data.items)}

        @app.post("/any")
        def anything(data: Annotated[dict[str, list[int]], Body()]) -> dict[str, Any]:
            return data

        @app.post("/open")
        def open_model(data: Annotated[Open, Body()]) -> Open:
            return data

        @app.post("/signup")
        def signup(data: Annotated[Signup, Body()]) -> dict[str, Any]:
            return {"slug": data.slug, "admin": data.is_admin, "cities": len(data.addresses)}

        return app

    return build


def test_every_failing_field_is_listed(build: AppBuilder) -> None:
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


def test_nested_models_report_paths(build: AppBuilder) -> None:
    client = build().test_client()
    response = client.post("/orders", json={"items": [{"name": "a", "price": 1}, {"name": 2}]})
    assert [e["location"] for e in response.json()["errors"]] == [
        ["body", "items", 1, "name"],
        ["body", "items", 1, "price"],
    ]
    assert client.post("/orders", json=[]).json()["errors"][0]["code"] == "model_type"


def test_issue_cap(build: AppBuilder) -> None:
    client = build(MAX_VALIDATION_ISSUES=5).test_client()
    items = [{"name": i} for i in range(50)]
    errors = client.post("/orders", json={"items": items}).json()["errors"]
    assert len(errors) == 5
    assert errors[-1]["code"] == "too_many_errors"


def test_media_types_and_malformed_bodies(build: AppBuilder) -> None:
    client = build().test_client()
    text = json.dumps({"name": "a", "price": 1})
    not_json = "Expected a JSON body: send it with Content-Type: application/json."
    for headers in ({"content-type": "text/plain"}, {}):
        refused = client.post("/items", body=text, headers=headers)
        assert (refused.status_code, refused.text) == (415, not_json)
    ok = client.post("/items", body=text, headers={"content-type": "application/vnd.x+json"})
    assert ok.status_code == 200
    for bad in (b"{", b'{"name": NaN}', b"\xff\xfe", b'{"price": 1' + b"0" * 5000 + b"}"):
        response = client.post("/items", body=bad, headers={"content-type": "application/json"})
        assert (response.status_code, response.text) == (400, MALFORMED_JSON), bad[:20]
    deep = b"[" * 100 + b"]" * 100
    response = client.post("/items", body=deep, headers={"content-type": "application/json"})
    assert (response.status_code, response.text) == (400, "JSON nesting is deeper than 64 levels.")
    empty = client.post("/items", headers={"content-type": "application/json"})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["location"] == ["body"]


def test_body_limit_gives_413(build: AppBuilder) -> None:
    client = build(MAX_REQUEST_BODY_BYTES=100).test_client()
    response = client.post("/items", json={"name": "a" * 200, "price": 1})
    assert response.status_code == 413
    assert response.text == "Request body exceeds MAX_REQUEST_BODY_BYTES (100 bytes)."


def test_large_and_duplicate_input_is_bounded(build: AppBuilder) -> None:
    client = build().test_client()
    big = client.post("/any", json={"k": ["x"] * 100_000})
    assert big.status_code == 422
    assert len(big.json()["errors"]) <= 100
    dup = client.post(
        "/items",
        body=b'{"name":"a","name":"b","price":1}',
        headers={"content-type": "application/json"},
    )
    # NOTE: a repeated key keeps its last value, as in the stdlib's json and JSON.parse.
    assert dup.status_code == 200
    assert dup.json()["name"] == "b"
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


class StrictItem(Item, forbid_unknown_fields=True):
    pass


class StrictOrder(msgspec.Struct, forbid_unknown_fields=True):
    items: list[StrictItem]
    note: str | None = None


# The reference the app is held to: the stdlib's JSON parser (without NaN and Infinity, which
# RFC 8259 does not allow) and msgspec's strict conversion into the declared types, unknown
# fields refused at every level.
REFERENCE: dict[str, Any] = {
    "/items": StrictItem,
    "/orders": StrictOrder,
    "/any": dict[str, list[int]],
}


def _not_json(constant: str) -> None:
    raise ValueError(constant)


def expected_status(text: str, kind: Any) -> int:
    """400 for text that is not JSON, 422 for JSON the type refuses, 200 for the rest."""
    try:
        value = json.loads(text, parse_constant=_not_json)
    except ValueError:
        return 400
    try:
        msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError:
        return 422
    return 200


@pytest.fixture(scope="module")
def items_client(build: AppBuilder) -> TestClient:
    return build().test_client()


@settings(max_examples=150)
@given(value=json_values | st.fixed_dictionaries({"name": json_values, "price": json_values}))
def test_any_json_gets_the_status_the_reference_gives(items_client: TestClient, value: Any) -> None:
    text = json.dumps(value)
    for path, kind in REFERENCE.items():
        response = items_client.post(path, body=text, headers={"content-type": "application/json"})
        expected = expected_status(text, kind)
        assert response.status_code == expected, (path, value, response.text)
        if expected == 400:
            assert response.text == MALFORMED_JSON
        elif expected == 422:
            errors = response.json()["errors"]
            assert errors
            assert all(set(e) == {"location", "code", "message"} for e in errors)


def test_an_unknown_field_in_a_nested_struct_is_refused(build: AppBuilder) -> None:
    client = build().test_client()
    response = client.post("/orders", json={"items": [{"name": "a", "price": 1, "extra": 1}]})
    assert response.status_code == 422
    assert [(e["location"], e["code"]) for e in response.json()["errors"]] == [
        (["body", "items", 0, "extra"], "unknown_field")
    ]


def test_unknown_keys_are_refused_at_every_level_of_a_dataclass(build: AppBuilder) -> None:
    client = build().test_client()
    body = {"email": "ann@example.org", "address": {"city": "Oslo"}}
    assert client.post("/signup", json=body).json() == {"slug": "ann", "admin": False, "cities": 0}
    cases = {
        "top": ({**body, "role": "x"}, ["body", "role"]),
        "nested": ({**body, "address": {"city": "Oslo", "zip": 1}}, ["body", "address", "zip"]),
        "in a list": (
            {**body, "addresses": [{"city": "a"}, {"city": "b", "x": 0}]},
            ["body", "addresses", 1, "x"],
        ),
        # SECURITY: an init=False field is the class's to set: sending it is mass assignment.
        "init=False": ({**body, "is_admin": True}, ["body", "is_admin"]),
    }
    for name, (sent, location) in cases.items():
        response = client.post("/signup", json=sent)
        assert response.status_code == 422, name
        assert [(e["location"], e["code"]) for e in response.json()["errors"]] == [
            (location, "unknown_field")
        ], name


def test_a_model_can_opt_out_of_unknown_key_refusal(build: AppBuilder) -> None:
    client = build().test_client()
    response = client.post("/open", json={"name": "a", "extra": 1})
    assert (response.status_code, response.json()) == (200, {"name": "a", "item": None})
    # The opt-out is the decorated class's own: a nested model still refuses unknown keys.
    nested = client.post("/open", json={"name": "a", "item": {"name": "b", "price": 1, "x": 2}})
    assert nested.status_code == 422
    assert [(e["location"], e["code"]) for e in nested.json()["errors"]] == [
        (["body", "item", "x"], "unknown_field")
    ]
