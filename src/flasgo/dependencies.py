"""Dependencies: the graph of `Depends` providers behind a handler, solved once per request.

At registration the handler and every provider it reaches are compiled and flattened into a
`Graph` in dependency order (cycles are rejected then, with the path that loops). Per request
the graph first reads every parameter of every node, so one 422 lists every failing field;
then it calls the providers in order, each at most once when ``use_cache`` (the default), sync
ones in the app's thread pool. Generator providers are entered here and finished after the
response is sent, in reverse order (`finish_request`), as are `BackgroundTasks`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flasgo.background import BackgroundTasks
from flasgo.exceptions import ConfigurationError, UnsupportedMediaType
from flasgo.handlers import (
    BodyInfo,
    CallSpec,
    ParamInfo,
    compile_callable,
    make_extractor,
    read_text,
)
from flasgo.mediatypes import is_json_media_type
from flasgo.params import Depends
from flasgo.validation import RequestValidationError, cap_issues, collection_fields, issue

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = ["DEFERRED_KEY", "Graph", "build_graph", "deferred_state", "finish_request"]

log = logging.getLogger("flasgo.error")

DEFERRED_KEY = "flasgo.deferred"
"""The ASGI scope key holding a request's `Deferred` work (absent when there is none)."""


class Deferred:
    """Work a request leaves for after its response: generator exits and background tasks."""

    __slots__ = ("exits", "tasks")

    def __init__(self) -> None:
        self.exits: list[Any] = []
        self.tasks: BackgroundTasks | None = None

    def background_tasks(self) -> BackgroundTasks:
        """This request's `BackgroundTasks` (created on first use)."""
        tasks = self.tasks
        if tasks is None:
            tasks = self.tasks = BackgroundTasks()
        return tasks


def deferred_state(request: Request) -> Deferred:
    """The request's `Deferred`, created on first use."""
    state: Deferred | None = request.scope.get(DEFERRED_KEY)
    if state is None:
        state = request.scope[DEFERRED_KEY] = Deferred()
    return state


async def finish_request(request: Request, error: BaseException | None) -> None:
    """Finish generator dependencies (newest first), then run background tasks.

    Called by the app after the response was sent. Generators see `error` raised at their
    ``yield`` when the handler failed; background tasks only run when it did not. Failures
    are logged and never change the response.
    """
    state: Deferred | None = request.scope.pop(DEFERRED_KEY, None)
    if state is None:
        return
    pool = request.app.thread_pool
    for gen in reversed(state.exits):
        try:
            if hasattr(gen, "__anext__"):
                await _close_async(gen, error)
            else:
                await pool.run(_close_sync, gen, error)
        except Exception:
            log.exception("dependency-teardown-failed provider=%s", _gen_name(gen))
    if error is None and state.tasks is not None:
        await state.tasks.run(pool)


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
    extract: Callable[..., dict[str, Any]]
    dep_args: tuple[tuple[str | None, int], ...]  # None: run, value not passed


class Graph:
    """A handler and its providers in dependency order (the handler last)."""

    __slots__ = ("_path_params", "body_index", "body_methods", "defers", "nodes", "route_deps")

    def __init__(
        self,
        nodes: list[Node],
        route_deps: list[Depends],
        path_params: Mapping[str, bool],
        body_methods: bool,
    ) -> None:
        self.nodes = tuple(nodes)
        self.route_deps = route_deps
        self._path_params = path_params
        self.body_methods = body_methods
        bodies = [i for i, node in enumerate(nodes) if node.spec.body is not None]
        if len(bodies) > 1:
            names = ", ".join(nodes[i].spec.label for i in bodies)
            raise ConfigurationError(
                f"Several parts of one route read the request body ({names}); a request has "
                "one body: read it in one place and share it through a dependency."
            )
        self.body_index = bodies[0] if bodies else -1
        self.defers = len(nodes) > 1 or any(node.spec.background for node in nodes)

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
            return _sync_binder(root.extract), False
        if len(self.nodes) == 1:
            return _body_binder(root), True
        return self._solve, True

    async def _solve(self, request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        graph = self
        overrides = request.app.dependency_overrides
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
        if self.body_index >= 0:
            node = nodes[self.body_index]
            await _read_body(node.spec, request, arguments[self.body_index], errors)
        if errors:
            raise RequestValidationError(
                cap_issues(errors, request.app.settings.MAX_VALIDATION_ISSUES)
            )
        values: list[Any] = [None] * len(nodes)
        last = len(nodes) - 1
        for index, node in enumerate(nodes):
            kwargs = arguments[index]
            for name, source in node.dep_args:
                if name is not None:
                    kwargs[name] = values[source]
            if index == last:
                return kwargs
            values[index] = await _call(node.spec, kwargs, request)
        raise AssertionError("unreachable")  # pragma: no cover


async def _call(spec: CallSpec, kwargs: dict[str, Any], request: Request) -> Any:
    kind = spec.kind
    func = spec.func
    if kind == "async":
        return await func(**kwargs)
    pool = request.app.thread_pool
    if kind == "sync":
        return await pool.run(func, **kwargs)
    if kind == "asyncgen":
        gen = func(**kwargs)
        deferred_state(request).exits.append(gen)
        try:
            return await gen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError(f"Dependency {spec.label} did not yield a value.") from None
    gen = func(**kwargs)
    deferred_state(request).exits.append(gen)
    return await pool.run(_first, gen)


def _sync_binder(
    extract: Callable[..., dict[str, Any]],
) -> Callable[[Request, dict[str, Any]], dict[str, Any]]:
    def bind(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        kwargs = extract(request, path_values, errors)
        if errors:
            raise RequestValidationError(
                cap_issues(errors, request.app.settings.MAX_VALIDATION_ISSUES)
            )
        return kwargs

    return bind


def _body_binder(root: Node) -> Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]:
    spec = root.spec
    extract = root.extract
    body = spec.body
    assert body is not None
    model = body.model
    name = body.name
    if (
        model is not None
        and name is not None
        and body.media_type == "application/json"
        and body.default is _MISSING
        and not (spec.injected or spec.background)
        and all(s.location == "path" and s.coerce is None for s in spec.scalars)
    ):
        # PERF: the common typed POST: one media type check, read, decode into the type.
        async def bind_json(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
            kwargs = dict(path_values)
            kwargs[name] = await _read_json(model, request, True, _MISSING)
            return kwargs

        return bind_json

    async def bind(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        kwargs = extract(request, path_values, errors)
        await _read_body(spec, request, kwargs, errors)
        if errors:
            raise RequestValidationError(
                cap_issues(errors, request.app.settings.MAX_VALIDATION_ISSUES)
            )
        return kwargs

    return bind


# -- bodies ------------------------------------------------------------------------------------

_MISSING: Any = inspect.Parameter.empty
_NOT_JSON = "Expected a JSON body: send it with Content-Type: application/json."
_NOT_FORM = "Expected a form body: send application/x-www-form-urlencoded or multipart/form-data."


def _content_type(request: Request) -> str | None:
    # PERF: a direct scan; the Headers index is only built if the handler asks for it.
    for key, value in request.scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1"))
    return None


async def _read_json(model: Any, request: Request, required: bool, default: Any) -> Any:
    content_type = _content_type(request)
    if content_type is not None and not is_json_media_type(content_type):
        # SECURITY: JSON sent as text/plain is a CORS "simple request" (no preflight): refuse.
        raise UnsupportedMediaType(_NOT_JSON)
    body = await request.body()
    if not body:
        if not required:
            return default
        raise RequestValidationError([issue(["body"], "missing", "A request body is required.")])
    if content_type is None:
        raise UnsupportedMediaType(_NOT_JSON)
    settings = request.app.settings
    return model.decode(
        body,
        settings.MAX_JSON_DEPTH,
        settings.MAX_VALIDATION_ISSUES,
        settings.MAX_VALIDATION_WORK,
    )


async def _read_body(
    spec: CallSpec, request: Request, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    body = spec.body
    assert body is not None
    try:
        if body.media_type == "application/json":
            assert body.name is not None
            value = await _read_json(body.model, request, body.default is _MISSING, body.default)
            kwargs[body.name] = value
        else:
            await _read_form(spec, request, kwargs, errors)
    except RequestValidationError as exc:
        errors.extend(exc.errors)


async def _read_form(
    spec: CallSpec, request: Request, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    body = spec.body
    assert body is not None
    content_type = _content_type(request)
    if content_type is None and not await request.body():
        form: Any = None
    elif content_type is None:
        raise UnsupportedMediaType(_NOT_FORM)
    else:
        form = await request.form()
    if body.name is None:
        source = form if form is not None else {}
        getlist = form.getlist if form is not None else (lambda key: [])
        if body.media_type == "multipart/form-data":
            files = await request.files() if form is not None else None
            _read_files(body.fields, files, kwargs, errors)
            text = tuple(field for field in body.fields if field.location != "file")
            read_text(text, source.get, getlist, kwargs, errors)
            return
        read_text(body.fields, source.get, getlist, kwargs, errors)
        return
    if form is None:
        if body.default is _MISSING:
            errors.append(issue(["body"], "missing", "A request body is required."))
        else:
            kwargs[body.name] = body.default
        return
    assert body.model is not None
    settings = request.app.settings
    raw = _form_object(body.model.annotation, form)
    kwargs[body.name] = body.model.validate(
        raw, settings.MAX_VALIDATION_ISSUES, settings.MAX_VALIDATION_WORK, strict=False
    )


def _read_files(
    fields: tuple[Any, ...], files: Any, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    for field in fields:
        if field.location != "file":
            continue
        uploads = files.getlist(field.key) if files is not None else []
        if uploads:
            kwargs[field.name] = uploads if field.many else uploads[0]
        elif field.default is not _MISSING:
            kwargs[field.name] = field.default
        else:
            errors.append(issue(["body", field.key], "missing", "A file is required."))


def _form_object(annotation: Any, form: Any) -> dict[str, Any]:
    many = collection_fields(annotation)
    return {key: form.getlist(key) if key in many else form[key] for key in form}


# -- building ----------------------------------------------------------------------------------


def build_graph(
    root: CallSpec,
    route_deps: list[Depends],
    path_params: Mapping[str, bool],
    *,
    body_methods: bool,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
) -> Graph:
    """Flatten `root` and the providers it reaches into a `Graph`.

    Raises:
        ConfigurationError: A dependency cycle, a provider that cannot be compiled, or more
            than one part of the graph reading the body.
    """
    nodes: list[Node] = []
    cached: dict[Callable[..., Any], int] = {}
    replace = overrides or {}

    def add(spec: CallSpec, stack: tuple[Callable[..., Any], ...]) -> list[tuple[str | None, int]]:
        args: list[tuple[str | None, int]] = []
        for name, dep in spec.depends:
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
        if dep.use_cache and provider in cached:
            return cached[provider]
        if not callable(provider):
            raise ConfigurationError(f"Depends() needs a callable provider, got {provider!r}.")
        spec = compile_callable(provider, path_params, body_methods=body_methods)
        args = add(spec, (*stack, provider))
        nodes.append(Node(spec, make_extractor(spec), tuple(args)))
        index = len(nodes) - 1
        if dep.use_cache:
            cached[provider] = index
        return index

    root_args: list[tuple[str | None, int]] = [(None, visit(dep, ())) for dep in route_deps]
    root_args.extend(add(root, (root.func,)))
    nodes.append(Node(root, make_extractor(root), tuple(root_args)))
    return Graph(nodes, route_deps, path_params, body_methods)


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
            overrides=overrides,
        )
        if len(_OVERRIDDEN) > 256:
            _OVERRIDDEN.clear()
        _OVERRIDDEN[key] = found
    return found


@contextmanager
def override(
    target: dict[Callable[..., Any], Callable[..., Any]],
    replacements: Mapping[Callable[..., Any], Callable[..., Any]],
) -> Iterator[None]:
    """Apply `replacements` to the app's override table for the ``with`` block."""
    saved = dict(target)
    target.update(replacements)
    try:
        yield
    finally:
        target.clear()
        target.update(saved)
