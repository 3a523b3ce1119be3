"""Handler signatures compiled into binders: path/query coercion, request injection, 422s."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
import pytest

from flasgo import (
    Body,
    ConfigurationError,
    Depends,
    Flasgo,
    Header,
    Request,
    ResponseValidationError,
    Session,
    TestClient,
    User,
)
from flasgo.handlers import HandlerPlan, Injectables, compile_handler


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


def test_int_and_bool_literals_are_read_from_query_text() -> None:
    app = Flasgo()

    @app.get("/pick")
    def pick(
        n: Literal[1, 2], flag: Literal[True, False] = False, mode: Literal["a", 3] = "a"
    ) -> dict[str, Any]:
        return {"n": n, "flag": flag, "mode": mode}

    client = app.test_client()
    assert client.get("/pick?n=2&flag=true&mode=3").json() == {"n": 2, "flag": True, "mode": 3}
    assert client.get("/pick?n=1&flag=Off").json() == {"n": 1, "flag": False, "mode": "a"}
    bad = client.get("/pick?n=3&flag=maybe&mode=b")
    assert bad.status_code == 422
    assert [(e["location"], e["code"]) for e in bad.json()["errors"]] == [
        (["query", "n"], "literal_error"),
        (["query", "flag"], "literal_error"),
        (["query", "mode"], "literal_error"),
    ]


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

    seen: list[ResponseValidationError] = []

    @app.errorhandler(ResponseValidationError)
    def mismatch(exc: ResponseValidationError) -> tuple[str, int]:
        seen.append(exc)
        return "contract broken", 500

    client = app.test_client()
    response = client.get("/user")
    assert (response.status_code, response.json()) == (201, {"id": 1, "name": "ann"})
    assert client.get("/users").json() == [{"id": 1, "name": "a"}]
    broken_response = client.get("/broken")
    assert (broken_response.status_code, broken_response.text) == (500, "contract broken")
    assert "response-validation-failed" in caplog.text
    assert seen[0].status_code == 500
    assert [e["location"] for e in seen[0].errors] == [["response"]]
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


# -- injectables: one registry per app -------------------------------------------------------


class Tenant:
    def __init__(self, name: str) -> None:
        self.name = name


class SubTenant(Tenant):
    pass


class LeafTenant(SubTenant):
    pass


def tenant_from_header(request: Request) -> Tenant:
    return Tenant(request.headers.get("x-tenant", "none"))


def whoami(request: Request, session: Session, user: User, tenant: Tenant) -> dict[str, Any]:
    return {
        "path": request.path,
        "session": type(session).__name__,
        "user": type(user).__name__,
        "authenticated": user.is_authenticated,
        "tenant": tenant.name,
    }


def serve(plan: HandlerPlan) -> TestClient:
    """A client for an app whose one route binds and calls `plan` with the request it gets."""
    app = Flasgo()

    @app.get("/probe")
    async def probe(request: Request) -> Any:
        if plan.bind_async:
            kwargs = await plan.bind(request, {})
        else:
            kwargs = plan.bind(request, {})
        return plan.func(**kwargs)

    return app.test_client()


def test_an_injectable_registered_before_the_first_route_keeps_the_built_ins() -> None:
    injectables = Injectables()
    injectables.register(Tenant, tenant_from_header)
    plan = compile_handler(whoami, {}, injectables=injectables)
    response = serve(plan).get("/probe", headers={"X-Tenant": "acme"})
    assert response.status_code == 200
    assert response.json() == {
        "path": "/probe",
        "session": "Session",
        "user": "User",
        "authenticated": False,
        "tenant": "acme",
    }


def test_two_registries_do_not_leak_into_each_other() -> None:
    first, second, third = Injectables(), Injectables(), Injectables()
    first.register(Tenant, tenant_from_header)
    second.register(Tenant, lambda request: Tenant("second"))
    first_plan = compile_handler(whoami, {}, injectables=first)
    second_plan = compile_handler(whoami, {}, injectables=second)
    headers = {"X-Tenant": "acme"}
    assert serve(first_plan).get("/probe", headers=headers).json()["tenant"] == "acme"
    assert serve(second_plan).get("/probe", headers=headers).json()["tenant"] == "second"
    unknown = "Parameter 'tenant' of 'whoami' is annotated .*Tenant.*cannot be read from the query"
    with pytest.raises(ConfigurationError, match=unknown):
        compile_handler(whoami, {}, injectables=third)
    with pytest.raises(ConfigurationError, match=unknown):
        compile_handler(whoami, {})  # the default: the built-ins only


def test_the_most_specific_registered_class_is_injected() -> None:
    injectables = Injectables()
    injectables.register(SubTenant, lambda request: SubTenant("sub"))
    injectables.register(Tenant, lambda request: Tenant("base"))

    def names(base: Tenant, sub: SubTenant, leaf: LeafTenant) -> list[str]:
        return [base.name, sub.name, leaf.name]

    plan = compile_handler(names, {}, injectables=injectables)
    assert serve(plan).get("/probe").json() == ["base", "sub", "sub"]


def tenant_name(tenant: Tenant) -> str:
    return tenant.name


def shouted_tenant_name(tenant: Tenant) -> str:
    return tenant.name.upper()


def named(name: Annotated[str, Depends(tenant_name)]) -> str:
    return name


def test_dependencies_and_their_overrides_get_the_registry_injectables() -> None:
    injectables = Injectables()
    injectables.register(Tenant, tenant_from_header)
    plan = compile_handler(named, {}, injectables=injectables)
    app = Flasgo()

    @app.get("/probe")
    async def probe(request: Request) -> Any:
        return plan.func(**await plan.bind(request, {}))

    client = app.test_client()
    assert client.get("/probe", headers={"X-Tenant": "acme"}).text == "acme"
    with app.override_dependencies({tenant_name: shouted_tenant_name}):
        assert client.get("/probe", headers={"X-Tenant": "acme"}).text == "ACME"


def test_register_refuses_what_cannot_be_injected() -> None:
    injectables = Injectables()
    with pytest.raises(ConfigurationError, match="An injectable is a class, got"):
        injectables.register(Annotated[int, "x"], tenant_from_header)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="The provider of Tenant must be callable"):
        injectables.register(Tenant, "tenant")  # type: ignore[arg-type]


class Shop:
    def __init__(self, name: str) -> None:
        self.name = name


def test_an_app_injectable_registered_first_keeps_the_builtins_and_stays_in_its_app() -> None:
    from flasgo import ConfigurationError, Flasgo

    first = Flasgo()
    first.register_injectable(Shop, lambda request: Shop(request.headers.get("x-t", "")))

    @first.get("/")
    def both(shop: Shop, request: Request, session: Session) -> dict[str, object]:
        return {"shop": shop.name, "path": request.path, "session": dict(session)}

    assert first.test_client().get("/", headers={"x-t": "acme"}).json() == {
        "shop": "acme",
        "path": "/",
        "session": {},
    }
    other = Flasgo()
    # The other app never registered Shop: the parameter cannot be bound there.
    with pytest.raises(ConfigurationError, match="'shop'"):

        @other.get("/")
        def without(shop: Shop) -> str:
            return shop.name
