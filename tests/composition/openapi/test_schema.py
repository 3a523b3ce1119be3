"""The OpenAPI document: exact fragments for a realistic app, validity, determinism, odd types."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import subprocess
import sys
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, NewType, Optional, TypedDict, TypeVar, Union

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flasgo import Blueprint, Cookie, Depends, Flasgo, Form, Header, Query, Response
from flasgo.handlers import BodyInfo, ParamInfo
from flasgo.openapi import SchemaRegistry, openapi_spec
from flasgo.openapi.schema import VALIDATION_ERROR_SCHEMA
from flasgo.routing import Converter
from tests.composition.openapi.checks import assert_valid_openapi

EMPTY = inspect.Parameter.empty


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Item:
    """An item for sale."""

    id: int
    name: str
    color: Color = Color.RED


class NewItem(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


class ValidationError(msgspec.Struct):
    """A user model that happens to share the framework's component name."""

    field: str


@dataclasses.dataclass
class Ambiguous:
    """msgspec cannot describe an untagged union of two dataclasses."""

    value: Item | Ambiguous | None


# -- helpers ------------------------------------------------------------------------------------


def set_plan(app: Flasgo, endpoint_name: str, **metadata: Any) -> None:
    """Give an endpoint's compiled plan the metadata the typed binder records."""
    for endpoint in app.iter_endpoints():
        if endpoint.name == endpoint_name:
            # NOTE: endpoints are immutable; this test injects plan metadata on purpose.
            object.__setattr__(endpoint, "plan", dataclasses.replace(endpoint.plan, **metadata))
            return
    raise AssertionError(f"no endpoint {endpoint_name}")


def query(name: str, annotation: Any, *, default: Any = EMPTY, **extra: Any) -> ParamInfo:
    options: dict[str, Any] = {"alias": name, "description": None, **extra}
    return ParamInfo(
        name,
        options.pop("location", "query"),
        options["alias"],
        annotation,
        default is EMPTY,
        default,
        options["description"],
    )


def build_shop() -> Flasgo:
    app = Flasgo(
        settings={
            "API_TITLE": "Shop API",
            "API_VERSION": "2.1.0",
            "API_DESCRIPTION": "Sells *things*.",
            "API_SERVERS": ["https://shop.example.com/v2"],
        }
    )
    shop = Blueprint("shop", url_prefix="/shop")
    admin = Blueprint("admin", url_prefix="/admin")

    @app.get("/")
    def health() -> str:
        """Liveness probe."""
        return "ok"

    @shop.get("/items/<int:item_id>")
    def get_item(item_id: int) -> Item:
        """Fetch one item.

        Items that were deleted are a 404.
        """
        return Item(item_id, "pen")

    @shop.route("/items/<uuid:key>/<path:rest>", methods=["PUT", "DELETE"])
    def replace_item(key: uuid.UUID, rest: str) -> None:
        return None

    @shop.get("/search")
    def search() -> list[Item]:
        return []

    @admin.post("/items")
    def create_item() -> Item:
        """Create an item."""
        return Item(1, "pen")

    @app.get("/files/<float:version>/<name>")
    def download(version: float, name: str) -> bytes:
        return b""

    @app.get("/raw")
    def raw() -> Response:
        return Response("raw")

    @app.route("/dav", methods=["PROPFIND"])
    def dav() -> str:
        return ""

    @app.get("/internal", include_in_schema=False)
    def internal() -> str:
        return ""

    @app.websocket("/ws")
    async def feed(websocket: Any) -> None:
        await websocket.accept()

    shop.register_blueprint(admin)
    app.register_blueprint(shop)
    set_plan(
        app,
        "shop.search",
        params=(
            query("q", str, description="Words to look for."),
            query("tags", list[str], default=()),
            query("color", Color, default=None),
            query("limit", int, default=20),
            query("session", str, default=None, location="cookie"),
            query("x_trace", uuid.UUID, alias="X-Trace", location="header"),
        ),
    )
    set_plan(
        app,
        "shop.admin.create_item",
        params=(query("x_token", str, alias="X-Token", location="header"),),
        body=BodyInfo(NewItem, "application/json", True),
        status_code=201,
    )
    return app


@pytest.fixture(scope="module")
def shop_spec() -> dict[str, Any]:
    return openapi_spec(build_shop())


# -- the document -----------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(shop_spec: dict[str, Any]) -> None:
    assert_valid_openapi(shop_spec)


def test_info_and_servers_come_from_settings(shop_spec: dict[str, Any]) -> None:
    assert list(shop_spec) == [
        "openapi",
        "info",
        "servers",
        "paths",
        "components",
        "tags",
    ]
    assert shop_spec["openapi"] == "3.1.0"
    assert shop_spec["info"] == {
        "title": "Shop API",
        "version": "2.1.0",
        "description": "Sells *things*.",
    }
    assert shop_spec["servers"] == [{"url": "https://shop.example.com/v2"}]
    assert shop_spec["tags"] == [{"name": "shop"}, {"name": "admin"}]


def test_no_dialect_is_declared_and_the_schemas_are_json_schema_2020_12(
    shop_spec: dict[str, Any],
) -> None:
    # Swagger UI shows a warning box for any jsonSchemaDialect but the OAS base dialect; the
    # schemas need none, as they are plain 2020-12 (which the default dialect extends).
    jsonschema = pytest.importorskip("jsonschema")
    schemas = shop_spec["components"]["schemas"]

    assert "jsonSchemaDialect" not in shop_spec
    assert schemas
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    parameters = [
        param["schema"]
        for item in shop_spec["paths"].values()
        for operation in item.values()
        for param in operation.get("parameters", [])
    ]
    assert parameters
    for schema in parameters:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_defaults_leave_out_description_servers_and_tags() -> None:
    app = Flasgo()

    @app.get("/")
    def home() -> dict[str, int]:
        return {}

    spec = openapi_spec(app)
    assert spec["info"] == {"title": "Flasgo API", "version": "0.1.0"}
    assert "servers" not in spec
    assert "tags" not in spec
    assert "components" not in spec
    assert spec["paths"]["/"]["get"] == {
        "operationId": "home_get",
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "additionalProperties": {"type": "integer"}}
                    }
                },
            }
        },
    }


def test_paths_follow_registration_and_skip_what_3_1_cannot_list(
    shop_spec: dict[str, Any],
) -> None:
    # No WebSocket, no PROPFIND, no include_in_schema=False, no automatic HEAD/OPTIONS.
    assert list(shop_spec["paths"]) == [
        "/",
        "/files/{version}/{name}",
        "/raw",
        "/shop/items/{item_id}",
        "/shop/items/{key}/{rest}",
        "/shop/search",
        "/shop/admin/items",
    ]
    assert list(shop_spec["paths"]["/shop/items/{key}/{rest}"]) == ["put", "delete"]
    assert list(shop_spec["paths"]["/"]) == ["get"]


def test_operation_ids_tags_and_docstrings(shop_spec: dict[str, Any]) -> None:
    paths = shop_spec["paths"]
    get_item = paths["/shop/items/{item_id}"]["get"]
    assert get_item["operationId"] == "shop_get_item_get"
    assert get_item["tags"] == ["shop"]
    assert get_item["summary"] == "Fetch one item."
    assert get_item["description"] == "Items that were deleted are a 404."
    create = paths["/shop/admin/items"]["post"]
    assert create["operationId"] == "shop_admin_create_item_post"
    assert create["tags"] == ["admin"]  # the innermost blueprint
    assert create["summary"] == "Create an item."
    assert "description" not in create
    health = paths["/"]["get"]
    assert health["operationId"] == "health_get"
    assert "tags" not in health
    assert [paths["/shop/items/{key}/{rest}"][m]["operationId"] for m in ("put", "delete")] == [
        "shop_replace_item_put",
        "shop_replace_item_delete",
    ]


def test_path_parameters_take_their_converter_schema(shop_spec: dict[str, Any]) -> None:
    paths = shop_spec["paths"]
    assert paths["/shop/items/{item_id}"]["get"]["parameters"] == [
        {
            "name": "item_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": 10**30 - 1},
        }
    ]
    assert paths["/shop/items/{key}/{rest}"]["put"]["parameters"] == [
        {
            "name": "key",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
        {
            "name": "rest",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        },
    ]
    assert paths["/files/{version}/{name}"]["get"]["parameters"] == [
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "number", "minimum": 0},
        },
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
        },
    ]


def test_query_header_and_cookie_parameters(shop_spec: dict[str, Any]) -> None:
    search = shop_spec["paths"]["/shop/search"]["get"]
    assert search["parameters"] == [
        {
            "name": "q",
            "in": "query",
            "required": True,
            "schema": {"type": "string"},
            "description": "Words to look for.",
        },
        {
            "name": "tags",
            "in": "query",
            "required": False,
            "schema": {"type": "array", "items": {"type": "string"}, "default": []},
        },
        {
            "name": "color",
            "in": "query",
            "required": False,
            "schema": {"type": ["string", "null"], "enum": ["red", "blue", None], "default": None},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "default": 20},
        },
        {
            "name": "session",
            "in": "cookie",
            "required": False,
            "schema": {"type": ["string", "null"], "default": None},
        },
        {
            "name": "X-Trace",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
    ]


def test_request_body_and_the_error_responses_it_brings(shop_spec: dict[str, Any]) -> None:
    create = shop_spec["paths"]["/shop/admin/items"]["post"]
    assert create["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}},
    }
    responses = create["responses"]
    assert list(responses) == ["201", "400", "413", "415", "422"]
    assert responses["201"] == {
        "description": "Created",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
    }
    text = {"text/plain": {"schema": {"type": "string"}}}
    assert responses["400"] == {"description": "The body is not valid JSON.", "content": text}
    assert responses["413"]["content"] == text
    assert responses["415"]["content"] == text
    assert responses["422"] == {
        "description": (
            "A parameter or the body does not validate; `errors` lists every failing field."
        ),
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}
        },
    }


def test_a_form_body_has_no_400_for_json(shop_spec: dict[str, Any]) -> None:
    app = Flasgo()

    @app.post("/login")
    def login() -> None:
        return None

    set_plan(app, "login", body=BodyInfo(NewItem, "application/x-www-form-urlencoded", False))
    operation = openapi_spec(app)["paths"]["/login"]["post"]
    assert operation["requestBody"] == {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/NewItem"}
            }
        },
    }
    assert list(operation["responses"]) == ["204", "413", "415", "422"]


def test_responses_follow_the_return_annotation(shop_spec: dict[str, Any]) -> None:
    paths = shop_spec["paths"]
    assert paths["/"]["get"]["responses"] == {
        "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    }
    not_found = {
        "description": "Nothing at this path: a placeholder's text does not fit its converter.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    assert paths["/files/{version}/{name}"]["get"]["responses"] == {
        "200": {"description": "OK", "content": {"application/octet-stream": {}}},
        "404": not_found,
    }
    assert paths["/raw"]["get"]["responses"] == {"200": {"description": "OK"}}
    assert paths["/shop/items/{key}/{rest}"]["delete"]["responses"] == {
        "204": {"description": "No Content"},
        "404": not_found,
    }
    assert paths["/shop/search"]["get"]["responses"]["200"] == {
        "description": "OK",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
            }
        },
    }


def test_a_route_that_binds_nothing_has_no_422(shop_spec: dict[str, Any]) -> None:
    assert "422" not in shop_spec["paths"]["/"]["get"]["responses"]
    assert "422" in shop_spec["paths"]["/shop/search"]["get"]["responses"]


def test_components_are_generated_by_msgspec_and_sorted(shop_spec: dict[str, Any]) -> None:
    schemas = shop_spec["components"]["schemas"]
    assert list(schemas) == ["Color", "Item", "NewItem", "ValidationError"]
    assert schemas["Item"] == {
        "title": "Item",
        "description": "An item for sale.",
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "color": {"$ref": "#/components/schemas/Color", "default": "red"},
        },
        "required": ["id", "name"],
        "additionalProperties": False,  # the binder refuses undeclared fields
    }
    assert schemas["NewItem"]["required"] == ["name", "price"]
    assert schemas["ValidationError"] == VALIDATION_ERROR_SCHEMA


def test_the_validation_error_component_describes_real_422_bodies() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    app = Flasgo()

    @app.get("/add")
    def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    response = app.test_client().get("/add?a=x")
    assert response.status_code == 422
    jsonschema.Draft202012Validator(VALIDATION_ERROR_SCHEMA).validate(response.json())


def test_a_user_model_named_validation_error_keeps_its_name() -> None:
    app = Flasgo()

    @app.post("/check")
    def check() -> ValidationError:
        return ValidationError("x")

    set_plan(app, "check", body=BodyInfo(NewItem, "application/json", True))
    spec = openapi_spec(app)
    schemas = spec["components"]["schemas"]
    assert schemas["ValidationError"]["properties"] == {"field": {"type": "string"}}
    assert schemas["FlasgoValidationError"] == VALIDATION_ERROR_SCHEMA
    responses = spec["paths"]["/check"]["post"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FlasgoValidationError"
    }
    assert_valid_openapi(spec)


def test_operation_ids_are_sanitised_and_deduplicated() -> None:
    app = Flasgo()
    app.add_route("/a", lambda: "", name="list-items")
    app.add_route("/b", lambda: "", name="list_items")
    app.add_route("/c", lambda: "", name="list.items")
    spec = openapi_spec(app)
    assert [spec["paths"][p]["get"]["operationId"] for p in ("/a", "/b", "/c")] == [
        "list_items_get",
        "list_items_get_2",
        "list_items_get_3",
    ]


def test_tags_use_the_name_a_blueprint_was_registered_under() -> None:
    app = Flasgo()
    bp = Blueprint("things")

    @bp.get("/list", name="all.items")
    def listing() -> str:
        return ""

    app.register_blueprint(bp, url_prefix="/v1", name="things_v1")
    app.register_blueprint(bp, url_prefix="/v2", name="things_v2")
    spec = openapi_spec(app)
    assert spec["paths"]["/v1/list"]["get"]["tags"] == ["things_v1"]
    assert spec["paths"]["/v2/list"]["get"]["tags"] == ["things_v2"]
    assert spec["paths"]["/v2/list"]["get"]["operationId"] == "things_v2_all_items_get"


def test_an_explicit_head_is_listed_and_one_template_keeps_its_first_operation() -> None:
    app = Flasgo()

    @app.route("/x/<int:n>", methods=["GET", "HEAD"])
    def numbers(n: int) -> str:
        return ""

    @app.get("/x/<n>")
    def words(n: str) -> str:
        return ""

    item = openapi_spec(app)["paths"]["/x/{n}"]
    assert list(item) == ["get", "head"]
    assert item["get"]["operationId"] == "numbers_get"


def test_path_parameters_coerced_by_the_handler_use_its_annotation() -> None:
    app = Flasgo()

    @app.get("/pages/<page>")
    def page(page: int) -> str:
        return ""

    set_plan(app, "page", params=(ParamInfo("page", "path", "page", int, True, EMPTY),))
    parameter = openapi_spec(app)["paths"]["/pages/{page}"]["get"]["parameters"][0]
    assert parameter == {
        "name": "page",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }


def test_plan_metadata_wins_and_odd_defaults_are_left_out() -> None:
    app = Flasgo()
    app.add_converter("slug", SlugConverter)

    @app.get("/posts/<slug:slug>/<slug:kind>")
    def post(slug: str, kind: Any) -> str:
        return ""

    set_plan(
        app,
        "post",
        params=(
            ParamInfo("kind", "path", "kind", Annotated[int, {"unhashable": 1}], True, EMPTY),
            ParamInfo("when", "query", "when", datetime.date, False, object()),
            ParamInfo("dep", "query", "dep", int, False, EMPTY),
            ParamInfo("body", "body", "body", int, True, EMPTY),  # type: ignore[arg-type]  # a location the generator must skip
        ),
        response_model=list[int],
        status_code=299,
    )
    operation = openapi_spec(app)["paths"]["/posts/{slug}/{kind}"]["get"]
    assert [(p["name"], p["schema"]) for p in operation["parameters"]] == [
        ("slug", {"type": "string"}),
        ("kind", {"type": "integer"}),
        ("when", {"type": "string", "format": "date"}),
        ("dep", {"type": "integer"}),
    ]
    assert operation["responses"]["299"] == {
        "description": "Response",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}
        },
    }


def test_status_codes_outside_the_table_use_the_http_phrase() -> None:
    app = Flasgo()

    @app.get("/teapot")
    def teapot() -> None:
        return None

    set_plan(app, "teapot", status_code=418)
    responses = openapi_spec(app)["paths"]["/teapot"]["get"]["responses"]
    assert responses == {"418": {"description": "I'm a Teapot"}}


def test_an_unresolvable_return_annotation_documents_no_content() -> None:
    app = Flasgo()

    def handler() -> None:
        return None

    handler.__annotations__["return"] = "NoSuchModel"
    app.add_route("/", handler)
    assert openapi_spec(app)["paths"]["/"]["get"]["responses"] == {"200": {"description": "OK"}}
    set_plan(app, "handler", response_model="NoSuchModel")
    assert openapi_spec(app)["paths"]["/"]["get"]["responses"] == {"200": {"description": "OK"}}


# -- typed handlers, end to end ------------------------------------------------------------------


class Sort(enum.Enum):
    NAME = "name"
    PRICE = "price"


def current_user(x_user: Annotated[str, Header(description="Who is asking.")]) -> str:
    return x_user


def build_typed() -> Flasgo:
    app = Flasgo()
    shop = Blueprint("shop", url_prefix="/shop")

    @shop.get("/search")
    def search(
        q: str,
        user: Annotated[str, Depends(current_user)],
        tags: list[str] = [],  # noqa: B006 - never mutated
        sort: Sort | None = None,
        size: Annotated[int, Query(alias="page-size")] = 20,
        since: datetime.date | None = None,
        mode: Literal["all", "new"] = "all",
        session: Annotated[str | None, Cookie()] = None,
    ) -> list[Item]:
        """Search the catalogue."""
        return []

    @shop.post("/items", status_code=201)
    def create(item: NewItem, trace: Annotated[uuid.UUID, Header(alias="X-Trace")]) -> Item:
        return Item(1, item.name)

    @shop.post("/login")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> None:
        return None

    app.register_blueprint(shop)
    return app


@pytest.fixture(scope="module")
def typed_spec() -> dict[str, Any]:
    return openapi_spec(build_typed())


def test_typed_handlers_give_a_valid_document(typed_spec: dict[str, Any]) -> None:
    assert_valid_openapi(typed_spec)


def test_typed_parameters_from_the_compiled_plan(typed_spec: dict[str, Any]) -> None:
    search = typed_spec["paths"]["/shop/search"]["get"]
    assert search["summary"] == "Search the catalogue."
    by_name = {param["name"]: param for param in search["parameters"]}
    assert by_name["x-user"] == {  # from the dependency
        "name": "x-user",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Who is asking.",
    }
    assert by_name["q"] == {
        "name": "q",
        "in": "query",
        "required": True,
        "schema": {"type": "string"},
    }
    assert by_name["tags"]["schema"] == {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
    }
    assert by_name["sort"]["schema"] == {
        "type": ["string", "null"],
        "enum": ["name", "price", None],
        "default": None,
    }
    assert by_name["page-size"] == {
        "name": "page-size",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "default": 20},
    }
    assert by_name["since"]["schema"] == {
        "type": ["string", "null"],
        "format": "date",
        "default": None,
    }
    assert by_name["mode"]["schema"] == {"type": "string", "enum": ["all", "new"], "default": "all"}
    assert by_name["session"]["in"] == "cookie"
    assert list(search["responses"]) == ["200", "422"]


def test_typed_bodies_from_the_compiled_plan(typed_spec: dict[str, Any]) -> None:
    create = typed_spec["paths"]["/shop/items"]["post"]
    assert create["parameters"] == [
        {
            "name": "x-trace",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
    ]
    assert create["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}},
    }
    assert list(create["responses"]) == ["201", "400", "413", "415", "422"]
    login = typed_spec["paths"]["/shop/login"]["post"]
    form = login["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["type"] == "object"
    assert list(form["properties"]) == ["username", "password"]
    assert form["required"] == ["username", "password"]
    assert list(login["responses"]) == ["204", "413", "415", "422"]


def test_form_fields_given_as_a_mapping() -> None:
    app = Flasgo()

    @app.post("/signup")
    def signup() -> None:
        return None

    fields = {
        "email": str,
        "age": ParamInfo("age", "query", "age", int, False, 18),
        "nickname": ParamInfo("nickname", "query", "nickname", str, False, None),
        "roles": types.SimpleNamespace(annotation=str, default=(), many=True),
        "codes": types.SimpleNamespace(default=EMPTY, many=True),
    }
    set_plan(app, "signup", body=BodyInfo(fields, "application/x-www-form-urlencoded", True))
    content = openapi_spec(app)["paths"]["/signup"]["post"]["requestBody"]["content"]
    assert content["application/x-www-form-urlencoded"]["schema"] == {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "age": {"type": "integer", "default": 18},
            "nickname": {"type": ["string", "null"], "default": None},
            "roles": {"type": "array", "items": {"type": "string", "default": []}},
            "codes": {"type": "array"},
        },
        "required": ["email", "codes"],
    }
    optional = {"page": ParamInfo("page", "query", "page", int, False, 1)}
    set_plan(app, "signup", body=BodyInfo(optional, "application/x-www-form-urlencoded", False))
    content = openapi_spec(app)["paths"]["/signup"]["post"]["requestBody"]["content"]
    assert content["application/x-www-form-urlencoded"]["schema"] == {
        "type": "object",
        "properties": {"page": {"type": "integer", "default": 1}},
    }


# -- determinism and caching ---------------------------------------------------------------------


def test_the_document_is_the_same_on_every_build() -> None:
    first = json.dumps(openapi_spec(build_shop()))
    second = json.dumps(openapi_spec(build_shop()))
    assert first == second
    app = build_shop()
    assert openapi_spec(app) == openapi_spec(app)


def test_app_openapi_is_cached_while_the_routes_stay_the_same() -> None:
    app = Flasgo()

    @app.get("/")
    def home() -> str:
        return ""

    before = app.openapi()
    assert app.openapi() is before  # nothing changed: the cached document
    assert before == openapi_spec(app)
    with app.test_client() as client:
        assert client.get("/").status_code == 200
    cached = app.openapi()
    assert app.openapi() is cached
    assert cached == before


def test_import_flasgo_does_not_load_the_openapi_package() -> None:
    code = "import sys, flasgo; print('flasgo.openapi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- annotations ---------------------------------------------------------------------------------


class SlugConverter(Converter):
    regex = "[a-z-]+"


UserId = NewType("UserId", int)
T = TypeVar("T")


class Address(TypedDict):
    city: str


class PydanticLike:
    """Stands in for a pydantic v2 model: msgspec hands it to the schema hook."""

    @classmethod
    def model_json_schema(cls, ref_template: str = "") -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"address": {"$ref": ref_template.format(model="Street")}},
            "$defs": {"Street": {"type": "string"}},
        }


class Opaque:
    """A class msgspec knows nothing about."""


class Mixed(enum.Enum):
    HALF = 0.5
    NOTHING = None
    YES = True


class Tricky:
    """An annotation object that fails when hashed."""

    def __hash__(self) -> int:
        raise RuntimeError("no hashing")


SCALARS: list[tuple[Any, dict[str, Any]]] = [
    (int, {"type": "integer"}),
    (bool, {"type": "boolean"}),
    (float, {"type": "number"}),
    (str, {"type": "string"}),
    (bytes, {"type": "string", "contentEncoding": "base64"}),
    (uuid.UUID, {"type": "string", "format": "uuid"}),
    (datetime.datetime, {"type": "string", "format": "date-time"}),
    (datetime.date, {"type": "string", "format": "date"}),
    (datetime.time, {"type": "string", "format": "time"}),
    (datetime.timedelta, {"type": "string", "format": "duration"}),
    (decimal.Decimal, {"type": "string", "format": "decimal"}),
    (None, {"type": "null"}),
    (Any, {}),
    (object, {}),
    (EMPTY, {}),
    (Optional[int], {"type": ["integer", "null"]}),  # noqa: UP045 - the spelling under test
    (int | None, {"type": ["integer", "null"]}),
    (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
    (int | str | None, {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}),
    (int | Any, {}),
    (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
    (Literal[1, "a"], {"type": ["integer", "string"], "enum": [1, "a"]}),
    (Literal["a"] | None, {"type": ["string", "null"], "enum": ["a", None]}),
    (Literal[b"x"], {}),
    (Color, {"type": "string", "enum": ["red", "blue"]}),
    (Mixed, {"type": ["boolean", "null", "number"], "enum": [0.5, None, True]}),
    (list[int], {"type": "array", "items": {"type": "integer"}}),
    (list, {"type": "array"}),
    (list[Any], {"type": "array"}),
    (Sequence[str], {"type": "array", "items": {"type": "string"}}),
    (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    (frozenset[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
    (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
    (tuple[Any, ...], {"type": "array"}),
    (
        tuple[int, str],
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "minItems": 2,
            "maxItems": 2,
        },
    ),
    (tuple[()], {"type": "array", "maxItems": 0}),
    (tuple, {"type": "array"}),
    (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
    (Mapping[str, Any], {"type": "object"}),
    (dict, {"type": "object"}),
    (UserId, {"type": "integer"}),
    (Annotated[int, "marker"], {"type": "integer"}),
    (Annotated[int, msgspec.Meta(ge=1)], {"type": "integer", "minimum": 1}),
    (Annotated[int, msgspec.Meta(le=9), {"unhashable": 1}], {"type": "integer", "maximum": 9}),
    ([int], {}),
    (Tricky(), {}),
    ("Item", {}),
    (T, {}),
    (Callable[[int], int], {}),
    (Opaque, {}),
    (Ambiguous, {}),
    (42, {}),
]


@pytest.mark.parametrize(("annotation", "expected"), SCALARS, ids=[repr(a) for a, _ in SCALARS])
def test_annotation_schemas(annotation: Any, expected: dict[str, Any]) -> None:
    registry = SchemaRegistry()
    schema = registry.schema(annotation)
    registry.resolve()
    assert schema == expected


def test_models_become_components_even_inside_containers() -> None:
    registry = SchemaRegistry()
    schemas = [
        registry.schema(list[Item]),
        registry.schema(Item | None),
        registry.schema(dict[str, NewItem]),
        registry.schema(Address),
    ]
    registry.resolve()
    assert schemas == [
        {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        {"anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/NewItem"}},
        {"$ref": "#/components/schemas/Address"},
    ]
    assert sorted(registry.components) == ["Address", "Color", "Item", "NewItem"]


def test_one_model_msgspec_cannot_describe_does_not_spoil_the_others() -> None:
    registry = SchemaRegistry()
    good, bad = registry.schema(Item), registry.schema(Ambiguous)
    registry.resolve()
    assert good == {"$ref": "#/components/schemas/Item"}
    assert bad == {}


def test_pydantic_models_use_their_own_schema_and_definitions() -> None:
    registry = SchemaRegistry()
    schema = registry.schema(PydanticLike)
    registry.resolve()
    assert schema == {"$ref": "#/components/schemas/PydanticLike"}
    assert registry.components == {
        "PydanticLike": {
            "type": "object",
            "properties": {"address": {"$ref": "#/components/schemas/Street"}},
        },
        "Street": {"type": "string"},
    }


def test_a_union_nullable_twice_stays_valid() -> None:
    registry = SchemaRegistry()
    assert registry.nullable({"type": ["integer", "null"]}) == {"type": ["integer", "null"]}
    assert registry.nullable({"enum": [1]}) == {"anyOf": [{"enum": [1]}, {"type": "null"}]}
    assert registry.nullable({}) == {}


ANNOTATION_LEAVES = st.sampled_from(
    [
        int,
        str,
        float,
        bool,
        bytes,
        None,
        Any,
        uuid.UUID,
        datetime.datetime,
        Color,
        Item,
        NewItem,
        Address,
        Ambiguous,
        Opaque,
        PydanticLike,
        UserId,
        T,
        "Forward",
        Literal["x", 1],
        Callable[..., Any],
        typing.Never,
    ]
)


def _compose(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        children.map(lambda t: list[t]),  # type: ignore[valid-type]  # built at run time
        children.map(lambda t: set[t]),  # type: ignore[valid-type]
        children.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
        children.map(lambda t: tuple[t, ...]),  # type: ignore[valid-type]
        children.map(lambda t: Annotated[t, "doc"]),
        st.tuples(children, children).map(lambda ts: tuple[ts[0], ts[1]]),  # type: ignore[valid-type]
        st.lists(children, min_size=1, max_size=3).map(lambda ts: Union[tuple(ts)]),  # noqa: UP007
    )


ANNOTATIONS = st.recursive(ANNOTATION_LEAVES, _compose, max_leaves=8)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            ref for value in node.values() for ref in _refs(value)
        ]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


@settings(max_examples=150, deadline=None)
@given(ANNOTATIONS)
def test_any_annotation_maps_to_json_schema_with_resolvable_refs(annotation: Any) -> None:
    registry = SchemaRegistry()
    schema = registry.schema(annotation)
    registry.resolve()
    document = {"schema": schema, "components": {"schemas": registry.components}}
    assert msgspec.json.decode(msgspec.json.encode(document)) == document
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in registry.components


@settings(max_examples=60, deadline=None)
@given(ANNOTATIONS, ANNOTATIONS)
def test_any_return_and_body_annotation_gives_a_valid_document(returns: Any, body: Any) -> None:
    app = Flasgo()

    def handler() -> None:
        return None

    handler.__annotations__["return"] = returns
    app.add_route("/things/<int:thing_id>", lambda thing_id: "", methods=["GET"], name="thing")
    app.add_route("/things", handler, methods=["POST"], name="things")
    set_plan(app, "things", body=BodyInfo(body, "application/json", True))
    assert_valid_openapi(openapi_spec(app))


def test_openapi_spec_is_cached_until_routes_or_auth_change() -> None:
    app = Flasgo()

    @app.get("/a")
    def a() -> str:
        return "a"

    first = app.openapi_spec()
    assert app.openapi_spec() is first
    assert app.openapi() is first

    @app.get("/b")
    def b() -> str:
        return "b"

    second = app.openapi_spec()
    assert second is not first
    assert set(second["paths"]) == {"/a", "/b"}
    app.register_auth_backend(
        "key",
        lambda request: None,
        openapi_scheme={"type": "apiKey", "in": "header", "name": "X-Key"},
    )
    third = app.openapi_spec()
    assert third is not second
    assert "key" in third["components"]["securitySchemes"]
    # An authorize applied after the route registered still reaches the document.
    app.authorize(backend="key")(b)
    fourth = app.openapi_spec()
    assert fourth is not third
    assert fourth["paths"]["/b"]["get"]["security"] == [{"key": []}]
    assert "security" not in fourth["paths"]["/a"]["get"]
