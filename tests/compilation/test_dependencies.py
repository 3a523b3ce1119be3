"""Depends: nesting, caching, generator teardown order, overrides, cycles, scoped deps.

No `from __future__ import annotations`: the handlers are local and their annotations name
local providers, so they must be evaluated where they are written.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from flasgo import Blueprint, ConfigurationError, Depends, Flasgo, Header, abort
from tests.asgi import acall, http_scope


def test_nested_cached_dependencies_and_sync_providers_off_the_loop() -> None:
    app = Flasgo()
    calls: list[str] = []

    def settings() -> dict[str, str]:
        calls.append(threading.current_thread().name)
        return {"db": "memory"}

    async def database(config: Annotated[dict[str, str], Depends(settings)]) -> str:
        return config["db"]

    def uncached() -> int:
        calls.append("uncached")
        return len(calls)

    @app.get("/")
    async def index(
        db: Annotated[str, Depends(database)],
        config: Annotated[dict[str, str], Depends(settings)],
        a: Annotated[int, Depends(uncached, use_cache=False)],
        b: Annotated[int, Depends(uncached, use_cache=False)],
    ) -> dict[str, Any]:
        return {"db": db, "config": config, "distinct": a != b}

    assert app.test_client().get("/").json() == {
        "db": "memory",
        "config": {"db": "memory"},
        "distinct": True,
    }
    assert calls[0].startswith("flasgo-sync")
    assert calls.count("uncached") == 2
    assert len(calls) == 3


def test_generator_teardown_runs_after_send_in_reverse_order() -> None:
    app = Flasgo()
    events: list[str] = []

    def outer() -> Iterator[str]:
        events.append("outer-enter")
        yield "outer"
        events.append("outer-exit")

    async def inner(value: Annotated[str, Depends(outer)]) -> AsyncIterator[str]:
        events.append("inner-enter")
        try:
            yield value + "+inner"
        except RuntimeError:
            events.append("inner-saw-error")
            raise
        events.append("inner-exit")

    @app.get("/")
    def index(value: Annotated[str, Depends(inner)]) -> str:
        events.append("handler")
        return value

    @app.get("/fail")
    def fail(value: Annotated[str, Depends(inner)]) -> str:
        raise RuntimeError("boom")

    client = app.test_client()
    assert client.get("/").text == "outer+inner"
    assert events == ["outer-enter", "inner-enter", "handler", "inner-exit", "outer-exit"]
    events.clear()
    assert client.get("/fail").status_code == 500
    # The error is raised at each yield: `outer` has no try/finally, so its exit code is skipped.
    assert events == ["outer-enter", "inner-enter", "inner-saw-error"]


def test_teardown_errors_are_logged_and_do_not_change_the_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Flasgo()

    async def broken() -> AsyncIterator[int]:
        yield 1
        raise ValueError("teardown")

    @app.get("/")
    def index(value: Annotated[int, Depends(broken)]) -> dict[str, int]:
        return {"value": value}

    assert app.test_client().get("/").json() == {"value": 1}
    assert "dependency-teardown-failed" in caplog.text


def test_dependency_errors_and_parameters() -> None:
    app = Flasgo()

    def user(x_user: Annotated[str, Header()]) -> str:
        if x_user == "nobody":
            abort(401)
        return x_user

    @app.get("/")
    def index(name: Annotated[str, Depends(user)], page: int = 1) -> dict[str, Any]:
        return {"name": name, "page": page}

    client = app.test_client()
    assert client.get("/", headers={"x-user": "ann"}).json() == {"name": "ann", "page": 1}
    assert client.get("/", headers={"x-user": "nobody"}).status_code == 401
    both = client.get("/?page=x")
    assert [e["location"] for e in both.json()["errors"]] == [
        ["header", "x-user"],
        ["query", "page"],
    ]
    plan = next(app.iter_endpoints()).plan
    assert [(p.location, p.alias) for p in plan.params] == [("header", "x-user"), ("query", "page")]


def test_route_and_blueprint_level_dependencies() -> None:
    events: list[str] = []

    def audit() -> None:
        events.append("audit")

    async def require_key(x_key: Annotated[str, Header()]) -> None:
        if x_key != "secret":
            abort(403)

    api = Blueprint("api", url_prefix="/api", dependencies=[Depends(require_key)])

    @api.get("/data", dependencies=[Depends(audit)])
    def data() -> str:
        return "data"

    app = Flasgo()
    app.register_blueprint(api)
    client = app.test_client()
    assert client.get("/api/data", headers={"x-key": "secret"}).text == "data"
    assert events == ["audit"]
    assert client.get("/api/data", headers={"x-key": "wrong"}).status_code == 403
    assert client.get("/api/data").status_code == 422

    app2 = Flasgo()
    with pytest.raises(ConfigurationError):
        app2.add_route("/", data, dependencies=[audit])


def test_overrides_apply_inside_the_block_only() -> None:
    app = Flasgo()

    def real() -> str:
        return "real"

    def fake_gen() -> Iterator[str]:
        yield "fake"

    @app.get("/")
    def index(value: Annotated[str, Depends(real)]) -> str:
        return value

    client = app.test_client()
    with app.override_dependencies({real: fake_gen}):
        assert client.get("/").text == "fake"
    assert client.get("/").text == "real"


def a_provider(value: Annotated[int, Depends(lambda: 0)]) -> int:
    return value


def test_cycles_are_rejected_at_registration() -> None:
    app = Flasgo()

    def first(value: Annotated[int, Depends(lambda: 1)]) -> int:
        return value

    def second(value: Annotated[int, Depends(first)]) -> int:
        return value

    first.__annotations__["value"] = Annotated[int, Depends(second)]

    def handler(value: Annotated[int, Depends(second)]) -> int:
        return value

    with pytest.raises(ConfigurationError, match="cycle"):
        app.add_route("/", handler)


def test_two_bodies_across_dependencies_are_rejected() -> None:
    app = Flasgo()

    def body_dep(data: dict[str, Any]) -> dict[str, Any]:
        return data

    def handler(data: dict[str, Any], other: Annotated[dict[str, Any], Depends(body_dep)]) -> None:
        return None

    with pytest.raises(ConfigurationError, match="body"):
        app.add_route("/", handler, methods=["POST"])


def test_a_cancelled_request_throws_the_cancellation_into_yield_dependencies_at_once() -> None:
    app = Flasgo()
    events: list[str] = []
    started = asyncio.Event()

    def connection() -> Iterator[str]:
        try:
            yield "conn"
        except asyncio.CancelledError:
            events.append("sync-dependency-saw-cancellation")
            raise
        events.append("sync-dependency-committed")

    async def transaction(conn: Annotated[str, Depends(connection)]) -> AsyncIterator[str]:
        try:
            yield conn + "+tx"
        except asyncio.CancelledError:
            events.append("async-dependency-rolled-back")
            raise
        events.append("async-dependency-committed")

    @app.get("/slow")
    async def slow(tx: Annotated[str, Depends(transaction)]) -> str:
        started.set()
        await asyncio.Event().wait()
        return tx

    async def scenario() -> None:
        task = asyncio.create_task(acall(app, http_scope("/slow")))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Both exits ran before the cancelled request finished: no waiting, no later sweep.
        assert events == ["async-dependency-rolled-back", "sync-dependency-saw-cancellation"]

    asyncio.run(scenario())


def test_function_scoped_generators_close_before_the_response_is_sent() -> None:
    app = Flasgo()
    events: list[str] = []

    async def connection() -> AsyncIterator[str]:
        events.append("open")
        yield "conn"
        events.append("function-exit")

    def audit() -> Iterator[str]:
        yield "audit"
        events.append("request-exit")

    @app.get("/")
    async def index(
        conn: Annotated[str, Depends(connection, scope="function")],
        log: Annotated[str, Depends(audit)],
    ) -> str:
        events.append("handler")
        return conn

    @app.after_request
    def after(response: Any) -> Any:
        events.append("after-hook")  # runs before the response is sent
        return response

    assert app.test_client().get("/").text == "conn"
    assert events == ["open", "handler", "function-exit", "after-hook", "request-exit"]


def test_function_scoped_generators_see_the_handlers_error() -> None:
    app = Flasgo()
    seen: list[str] = []

    def resource() -> Iterator[int]:
        try:
            yield 1
        except LookupError:
            seen.append("rolled back")
            raise

    @app.get("/")
    def index(value: Annotated[int, Depends(resource, scope="function")]) -> str:
        raise KeyError("missing")

    assert app.test_client().get("/").status_code == 500
    assert seen == ["rolled back"]


def test_scopes_are_cached_apart_and_checked() -> None:
    app = Flasgo()
    calls: list[str] = []

    def token() -> str:
        calls.append("token")
        return "t"

    @app.get("/")
    def index(
        a: Annotated[str, Depends(token)],
        b: Annotated[str, Depends(token)],
        c: Annotated[str, Depends(token, scope="function")],
    ) -> str:
        return a + b + c

    assert app.test_client().get("/").text == "ttt"
    assert calls == ["token", "token"]  # one per (provider, scope)

    def short_lived() -> Iterator[int]:
        yield 1

    def long_lived(value: Annotated[int, Depends(short_lived, scope="function")]) -> int:
        return value

    def handler(value: Annotated[int, Depends(long_lived)]) -> int:
        return value

    with pytest.raises(ConfigurationError, match="depends on function-scoped"):
        Flasgo().add_route("/", handler)
    with pytest.raises(ValueError, match="use 'request'"):
        Depends(token, scope="session")  # type: ignore[arg-type]


def test_concurrent_overrides_never_leak_into_each_others_requests() -> None:
    app = Flasgo()

    def tenant() -> str:
        return "real"

    @app.get("/")
    def index(value: Annotated[str, Depends(tenant)]) -> str:
        return value

    both_inside = threading.Barrier(2)
    results: dict[str, list[str]] = {}

    def run(name: str) -> None:
        client = app.test_client()
        with app.override_dependencies({tenant: lambda: name}):
            both_inside.wait()
            results[name] = [client.get("/").text for _ in range(5)]
            both_inside.wait()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"ann": ["ann"] * 5, "bob": ["bob"] * 5}
    assert app.test_client().get("/").text == "real"


def test_overrides_reach_a_client_running_its_own_loop() -> None:
    app = Flasgo()

    def tenant() -> str:
        return "real"

    @app.get("/")
    def index(value: Annotated[str, Depends(tenant)]) -> str:
        return value

    with app.test_client() as client:
        with app.override_dependencies({tenant: lambda: "fake"}):
            assert client.get("/").text == "fake"
        assert client.get("/").text == "real"
