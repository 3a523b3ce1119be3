"""Compile a handler into a `HandlerPlan`: its binder, OpenAPI metadata and response handling.

Where each parameter comes from is decided by `flasgo.signature` (with the app's
`Injectables`); the handler and its providers become a `flasgo.dependencies.Graph`, whose
binder reads the request through `flasgo.binding`. Per request only the binders the route needs
run: a handler taking only path values is called with them directly, one reading only the
request line and headers gets a sync binder, and only bodies and dependencies need an async one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flasgo.concurrency import is_async_callable
from flasgo.context import find_request
from flasgo.dependencies import build_graph, close_function_scope
from flasgo.exceptions import ConfigurationError
from flasgo.injectables import Injectables
from flasgo.params import Depends
from flasgo.signature import BodyInfo, CallSpec, ParamInfo, inspect_callable, resolve_hints
from flasgo.validation import RequestValidationError, ResponseValidationError, issue, project

__all__ = [
    "BodyInfo",
    "CallSpec",
    "HandlerPlan",
    "Injectables",
    "ParamInfo",
    "RequestValidationError",
    "compile_handler",
]

error_log = logging.getLogger("flasgo.error")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class HandlerPlan:
    """How to call one handler.

    Attributes:
        func: What the app calls with the bound keyword arguments: the handler, or a wrapper
            that applies ``response_model=``/``status_code=`` to its return value.
        is_async: Whether `func` is awaited on the loop (else it runs in the thread pool).
        passthrough: The path parameters are exactly the keyword arguments (the fast path).
        bind: Builds the keyword arguments from the connection (a `Request`, or a
            `WebSocket` for WebSocket handlers) and the path values; returns an awaitable of
            them when `bind_async` is set.
        params: Path, query, header and cookie parameters, including those of dependencies,
            deduplicated.
        body: The request body the handler reads, or None.
        response_model: ``response_model=`` when given, else the return annotation, else None.
        status_code: The route's declared status code, or None.
        bind_async: `bind` must be awaited (bodies, dependencies).
        defers: Work may be left for after the response (generator dependencies,
            `BackgroundTasks`); the app then calls `flasgo.dependencies.finish_request`.
    """

    func: Callable[..., Any]
    is_async: bool
    passthrough: bool
    bind: Callable[[Any, dict[str, Any]], Any]
    params: tuple[ParamInfo, ...] = ()
    body: BodyInfo | None = None
    response_model: Any = None
    status_code: int | None = None
    bind_async: bool = False
    defers: bool = False


# -- the handler plan --------------------------------------------------------------------------


def compile_handler(
    func: Callable[..., Any],
    path_params: Mapping[str, bool],
    *,
    methods: Iterable[str] = ("GET",),
    options: Mapping[str, Any] | None = None,
    dependencies: Iterable[Depends] = (),
    injectables: Injectables | None = None,
) -> HandlerPlan:
    """Compile `func`'s signature (and its dependencies) into a `HandlerPlan`.

    Args:
        func: The handler.
        path_params: Placeholder names of the rule, each mapped to whether its converter
            already produces a typed value (int, float, UUID) rather than text.
        methods: The route's methods; POST/PUT/PATCH make an unmarked model the JSON body.
        options: Route options: ``response_model``, ``status_code``, ``dependencies``.
        dependencies: Dependencies of the enclosing blueprints, run before the route's own.
        injectables: The app's injectables; None means the built-ins only.

    Raises:
        ConfigurationError: The signature cannot be served (``*args``, a placeholder the
            handler does not accept, an annotation that cannot be read from text, two bodies,
            a marker inside a union or used as a default, a dependency cycle).
    """
    if injectables is None:
        injectables = Injectables()
    options = options or {}
    body_methods = not _BODY_METHODS.isdisjoint(m.upper() for m in methods)
    spec = inspect_callable(func, path_params, body_methods=body_methods, injectables=injectables)
    own = {s.name for s in spec.scalars if s.location == "path"}
    missing = [p for p in path_params if p not in own]
    if missing and not spec.accepts_any:
        raise ConfigurationError(
            f"Handler {spec.label!r} does not accept the path parameter(s) {', '.join(missing)}; "
            "add them to its signature."
        )
    route_deps = [*dependencies, *_route_dependencies(spec.label, options)]
    graph = build_graph(
        spec, route_deps, path_params, body_methods=body_methods, injectables=injectables
    )
    status_code = _status_code(spec.label, options)
    declared_model = options.get("response_model")
    return_annotation = resolve_hints(func).get("return", None)
    if isinstance(return_annotation, str):  # NOTE: unresolvable; documents nothing
        return_annotation = None
    response_model = declared_model if declared_model is not None else return_annotation
    call, is_async = _wrap_response(func, declared_model, status_code)
    if graph.closes_early:
        call, is_async = _closing_function_scope(call, is_async), True
    passthrough = (
        not graph.nodes[:-1]
        and not spec.injected
        and not spec.background
        and spec.body is None
        and all(s.location == "path" and s.coerce is None for s in spec.scalars)
        and len(spec.scalars) == len(path_params)
    )
    bind, bind_async = graph.binder()
    return HandlerPlan(
        call,
        is_async,
        passthrough,
        bind,
        params=graph.params(),
        body=graph.body_info(),
        response_model=None if response_model is type(None) else response_model,
        status_code=status_code,
        bind_async=bind_async,
        defers=graph.defers,
    )


def _route_dependencies(owner: str, options: Mapping[str, Any]) -> list[Depends]:
    given = options.get("dependencies") or ()
    deps = list(given)
    for dep in deps:
        if not isinstance(dep, Depends):
            raise ConfigurationError(
                f"dependencies= of {owner!r} must hold Depends(...) objects, got {dep!r}."
            )
    return deps


def _status_code(owner: str, options: Mapping[str, Any]) -> int | None:
    status = options.get("status_code")
    if status is None:
        return None
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ConfigurationError(f"status_code= of {owner!r} must be an HTTP status (100-599).")
    return status


def _closing_function_scope(call: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """`call`, then the function-scoped generator dependencies closed, before the response."""

    async def call_then_close(**kwargs: Any) -> Any:
        request = find_request()
        assert request is not None  # handlers are only called while a request is bound
        try:
            if is_async:
                result = await call(**kwargs)
            else:
                result = await request.app.thread_pool.run(call, **kwargs)
        except BaseException as exc:
            await close_function_scope(request, exc)
            raise
        await close_function_scope(request, None)
        return result

    return call_then_close


def _wrap_response(
    func: Callable[..., Any], model: Any, status_code: int | None
) -> tuple[Callable[..., Any], bool]:
    is_async = is_async_callable(func)
    if model is None and status_code is None:
        return func, is_async

    def finish(result: Any) -> Any:
        from flasgo.response import Response, to_response

        if isinstance(result, Response):
            return result
        if model is not None:
            try:
                result = project(result, model)
            except Exception as exc:
                error_log.error(
                    "response-validation-failed handler=%s",
                    getattr(func, "__qualname__", func),
                    exc_info=exc,
                )
                reason = issue(["response"], "value_error", str(exc)[:200] or "invalid value")
                raise ResponseValidationError([reason]) from None
        if status_code is None:
            return result
        response = to_response(result)
        response.status_code = status_code
        return response

    if is_async:

        async def call_async(**kwargs: Any) -> Any:
            return finish(await func(**kwargs))

        return call_async, True

    def call_sync(**kwargs: Any) -> Any:
        return finish(func(**kwargs))

    return call_sync, False
