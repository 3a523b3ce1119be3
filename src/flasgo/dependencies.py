"""Dependencies: the graph of `Depends` providers behind a handler, solved once per request.

At registration the handler and every provider it reaches are inspected (`flasgo.signature`)
and flattened into a `Graph` in dependency order (cycles are rejected then, with the path that
loops). Per request the graph first reads every parameter of every node, so one 422 lists
every failing field; then it calls the providers in order, each at most once when
``use_cache`` (the default), sync ones in the app's thread pool. Generator providers are
entered here and finished after the response is sent, in reverse order (`finish_request`), as
are `BackgroundTasks`. Reading each node's arguments is `flasgo.binding`'s; the handler plan
built on the graph is `flasgo.handlers`'.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flasgo.background import DEFERRED_KEY, Deferred, deferred_state
from flasgo.binding import (
    Extractor,
    body_binder,
    invalid,
    make_extractor,
    read_body,
    sync_binder,
)
from flasgo.exceptions import ConfigurationError
from flasgo.params import Depends
from flasgo.signature import BodyInfo, CallSpec, InjectableLookup, ParamInfo, inspect_callable

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = [
    "DEFERRED_KEY",
    "FUNCTION_EXITS_KEY",
    "Graph",
    "build_graph",
    "close_function_scope",
    "deferred_state",
    "finish_request",
    "scoped_overrides",
]

log = logging.getLogger("flasgo.error")

FUNCTION_EXITS_KEY = "flasgo.function_exits"
"""Where a request keeps its function-scoped generator dependencies (in the ASGI scope)."""


async def finish_request(request: Request, error: BaseException | None) -> None:
    """Finish generator dependencies (newest first), then run background tasks.

    Called by the app after the response was sent. Generators see `error` raised at their
    ``yield`` when the handler failed; background tasks only run when it did not. Failures
    are logged and never change the response.
    """
    await close_function_scope(request, error)
    state: Deferred | None = request.scope.pop(DEFERRED_KEY, None)
    if state is None:
        return
    await _close_all(request, state.exits, error)
    if error is None and state.tasks is not None:
        await state.tasks.run(request.app.thread_pool)


def _gen_name(gen: Any) -> str:
    return str(getattr(gen, "__qualname__", gen))


async def _close_async(gen: Any, error: BaseException | None) -> None:
    try:
        if error is None:
            await gen.__anext__()
        else:
            await gen.athrow(error)
    except StopAsyncIteration:
        return
    except BaseException as exc:
        if exc is error:
            return
        raise
    await gen.aclose()
    raise RuntimeError(f"Dependency {_gen_name(gen)} yielded more than once.")


def _close_sync(gen: Any, error: BaseException | None) -> None:
    try:
        if error is None:
            next(gen)
        else:
            gen.throw(error)
    except StopIteration:
        return
    except BaseException as exc:
        if exc is error:
            return
        raise
    gen.close()
    raise RuntimeError(f"Dependency {_gen_name(gen)} yielded more than once.")


def _first(gen: Any) -> Any:
    try:
        return next(gen)
    except StopIteration:
        raise RuntimeError(f"Dependency {_gen_name(gen)} did not yield a value.") from None


# -- the graph ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One callable of the graph and where its dependency arguments come from."""

    spec: CallSpec
    extract: Extractor
    dep_args: tuple[tuple[str | None, int], ...]  # None: run, value not passed
    scope: str = "request"


class Graph:
    """A handler and its providers in dependency order (the handler last)."""

    __slots__ = (
        "_injectables",
        "_path_params",
        "body_index",
        "body_methods",
        "closes_early",
        "defers",
        "nodes",
        "route_deps",
    )

    def __init__(
        self,
        nodes: list[Node],
        route_deps: list[Depends],
        path_params: Mapping[str, bool],
        body_methods: bool,
        injectables: InjectableLookup,
    ) -> None:
        self.nodes = tuple(nodes)
        self.route_deps = route_deps
        self._path_params = path_params
        self.body_methods = body_methods
        self._injectables = injectables
        bodies = [i for i, node in enumerate(nodes) if node.spec.body is not None]
        if len(bodies) > 1:
            names = ", ".join(nodes[i].spec.label for i in bodies)
            raise ConfigurationError(
                f"Several parts of one route read the request body ({names}); a request has "
                "one body: read it in one place and share it through a dependency."
            )
        self.body_index = bodies[0] if bodies else -1
        self.defers = len(nodes) > 1 or any(node.spec.background for node in nodes)
        # Function-scoped generators, closed when the handler returns (see `close_function_scope`).
        self.closes_early = any(
            node.scope == "function" and node.spec.kind in ("asyncgen", "gen")
            for node in nodes[:-1]
        )

    def params(self) -> tuple[ParamInfo, ...]:
        """Every path/query/header/cookie parameter of the graph, deduplicated."""
        seen: dict[tuple[str, str], ParamInfo] = {}
        for node in self.nodes:
            for info in node.spec.infos:
                seen.setdefault((info.location, info.alias), info)
        return tuple(seen.values())

    def body_info(self) -> BodyInfo | None:
        """The body the graph reads, as OpenAPI metadata."""
        if self.body_index < 0:
            return None
        body = self.nodes[self.body_index].spec.body
        assert body is not None
        if body.model is not None:
            annotation = body.model.annotation
        else:
            annotation = {f.key: f for f in body.fields}
        return BodyInfo(annotation, body.media_type, body.required)

    def binder(self) -> tuple[Callable[[Any, dict[str, Any]], Any], bool]:
        """The handler's bind function and whether it must be awaited."""
        root = self.nodes[-1]
        if len(self.nodes) == 1 and self.body_index < 0:
            return sync_binder(root.extract), False
        if len(self.nodes) == 1:
            return body_binder(root.spec, root.extract), True
        return self._solve, True

    async def _solve(self, request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        graph = self
        overrides: _Overrides = request.app.dependency_overrides
        # PERF: one ContextVar read; empty unless a test is inside `override_dependencies`.
        if scoped := _SCOPED.get():
            mine = [given for app, given in scoped if app is request.app]
            if mine:
                merged = dict(overrides)
                for given in mine:
                    merged.update(given)
                overrides = merged
        if overrides:
            graph = _overridden(self, overrides)
        return await graph.solve(request, path_values)

    async def solve(self, request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        """Read every node's parameters, then call the providers; return the handler's kwargs.

        Raises:
            RequestValidationError: Any parameter of any node failed (all of them listed).
        """
        errors: list[dict[str, Any]] = []
        nodes = self.nodes
        arguments = [node.extract(request, path_values, errors) for node in nodes]
        form = None
        if self.body_index >= 0:
            node = nodes[self.body_index]
            form = await read_body(node.spec, request, arguments[self.body_index], errors)
        if errors:
            raise invalid(errors, form, request)
        values: list[Any] = [None] * len(nodes)
        last = len(nodes) - 1
        for index, node in enumerate(nodes):
            kwargs = arguments[index]
            for name, source in node.dep_args:
                if name is not None:
                    kwargs[name] = values[source]
            if index == last:
                return kwargs
            values[index] = await _call(node.spec, kwargs, request, node.scope)
        raise AssertionError("unreachable")  # pragma: no cover


def _exits(request: Request, scope: str) -> list[Any]:
    if scope == "function":
        found: list[Any] | None = request.scope.get(FUNCTION_EXITS_KEY)
        if found is None:
            found = request.scope[FUNCTION_EXITS_KEY] = []
        return found
    return deferred_state(request).exits


async def close_function_scope(request: Request, error: BaseException | None) -> None:
    """Finish the function-scoped generator dependencies of `request` (newest first).

    Called when the handler returned (or raised, `error`); anything left (a later dependency
    failed before the handler ran) is finished by `finish_request`.
    """
    exits: list[Any] | None = request.scope.pop(FUNCTION_EXITS_KEY, None)
    if exits:
        await _close_all(request, exits, error)


async def _close_all(request: Request, exits: list[Any], error: BaseException | None) -> None:
    pool = request.app.thread_pool
    for gen in reversed(exits):
        try:
            if hasattr(gen, "__anext__"):
                await _close_async(gen, error)
            else:
                await pool.run(_close_sync, gen, error)
        except Exception:
            log.exception("dependency-teardown-failed provider=%s", _gen_name(gen))


async def _call(spec: CallSpec, kwargs: dict[str, Any], request: Request, scope: str) -> Any:
    kind = spec.kind
    func = spec.func
    if kind == "async":
        return await func(**kwargs)
    pool = request.app.thread_pool
    if kind == "sync":
        return await pool.run(func, **kwargs)
    if kind == "asyncgen":
        gen = func(**kwargs)
        _exits(request, scope).append(gen)
        try:
            return await gen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError(f"Dependency {spec.label} did not yield a value.") from None
    gen = func(**kwargs)
    _exits(request, scope).append(gen)
    return await pool.run(_first, gen)


# -- building ----------------------------------------------------------------------------------


def build_graph(
    root: CallSpec,
    route_deps: list[Depends],
    path_params: Mapping[str, bool],
    *,
    body_methods: bool,
    injectables: InjectableLookup,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
) -> Graph:
    """Flatten `root` and the providers it reaches into a `Graph`.

    Args:
        root: The handler's inspected signature.
        route_deps: Dependencies run before the handler's own, their values not passed.
        path_params: The rule's placeholders (see `flasgo.signature.inspect_callable`).
        body_methods: The route accepts a body (POST/PUT/PATCH).
        injectables: The app's injectables, for the providers' signatures.
        overrides: Providers replaced by others (tests' `override_dependencies`).

    Raises:
        ConfigurationError: A dependency cycle, a provider that cannot be compiled, or more
            than one part of the graph reading the body.
    """
    nodes: list[Node] = []
    cached: dict[tuple[Callable[..., Any], str], int] = {}
    replace = overrides or {}

    def add(
        spec: CallSpec, stack: tuple[Callable[..., Any], ...], scope: str
    ) -> list[tuple[str | None, int]]:
        args: list[tuple[str | None, int]] = []
        for name, dep in spec.depends:
            if scope == "request" and dep.scope == "function":
                raise ConfigurationError(
                    f"Request-scoped dependency {spec.label!r} depends on function-scoped "
                    f"{_name(dep.provider)!r}, which is closed when the handler returns; make "
                    f"{spec.label!r} function-scoped too, or the other request-scoped."
                )
            args.append((name, visit(dep, stack)))
        return args

    def visit(dep: Depends, stack: tuple[Callable[..., Any], ...]) -> int:
        provider = replace.get(dep.provider, dep.provider)
        if provider in stack:
            chain = " -> ".join(_name(f) for f in (*stack, provider))
            raise ConfigurationError(
                f"Dependency cycle: {chain}. A provider cannot depend on itself, directly or "
                "through others; break the cycle."
            )
        key = (provider, dep.scope)
        if dep.use_cache and key in cached:
            return cached[key]
        if not callable(provider):
            raise ConfigurationError(f"Depends() needs a callable provider, got {provider!r}.")
        spec = inspect_callable(
            provider, path_params, body_methods=body_methods, injectables=injectables
        )
        args = add(spec, (*stack, provider), dep.scope)
        nodes.append(Node(spec, make_extractor(spec), tuple(args), dep.scope))
        index = len(nodes) - 1
        if dep.use_cache:
            cached[key] = index
        return index

    root_args: list[tuple[str | None, int]] = [(None, visit(dep, ())) for dep in route_deps]
    root_args.extend(add(root, (root.func,), "function"))
    nodes.append(Node(root, make_extractor(root), tuple(root_args)))
    return Graph(nodes, route_deps, path_params, body_methods, injectables)


def _name(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", func))


_OVERRIDDEN: dict[tuple[int, frozenset[tuple[Any, Any]]], Graph] = {}


def _overridden(graph: Graph, overrides: Mapping[Callable[..., Any], Callable[..., Any]]) -> Graph:
    key = (id(graph), frozenset(overrides.items()))
    found = _OVERRIDDEN.get(key)
    if found is None:
        root = graph.nodes[-1].spec
        found = build_graph(
            root,
            graph.route_deps,
            graph._path_params,
            body_methods=graph.body_methods,
            injectables=graph._injectables,
            overrides=overrides,
        )
        if len(_OVERRIDDEN) > 256:
            _OVERRIDDEN.clear()
        _OVERRIDDEN[key] = found
    return found


_Overrides = Mapping[Callable[..., Any], Callable[..., Any]]
_SCOPED: ContextVar[tuple[tuple[object, _Overrides], ...]] = ContextVar(
    "flasgo_dependency_overrides", default=()
)


@contextmanager
def scoped_overrides(app: object, replacements: _Overrides) -> Iterator[None]:
    """Replace providers of `app` for requests made in this context, inside the block.

    A ContextVar holds them, so two tests (threads or tasks) overriding at once never see
    each other's replacements; requests started inside the block carry them (a request
    copies the context it was started in).
    """
    token = _SCOPED.set((*_SCOPED.get(), (app, dict(replacements))))
    try:
        yield
    finally:
        _SCOPED.reset(token)
