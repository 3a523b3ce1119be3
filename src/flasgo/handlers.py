"""Compile a handler's signature once into a `HandlerPlan`: binders, metadata, response model.

Each parameter gets its source at registration: a path placeholder; a marker in ``Annotated``
(`Query`, `Header`, `Cookie`, `Body`, `Form`, `Depends`, see `flasgo.params`); a type injected
with no marker (`Request`, `BackgroundTasks`, and whatever `register_injectable` adds); an
unmarked model (or any type text cannot hold) on a POST/PUT/PATCH route is the JSON body; every
other parameter is a query parameter. Per request only the binders the route needs run: a
handler taking only path values is called with them directly, one reading only the request
line and headers gets a sync binder, and only bodies and dependencies need an async one.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from flasgo.background import BackgroundTasks
from flasgo.concurrency import is_async_callable
from flasgo.exceptions import ConfigurationError, InternalServerError
from flasgo.params import Body, Cookie, Depends, File, Form, Header, Marker, Query
from flasgo.uploads import UploadedFile
from flasgo.validation import (
    BodyModel,
    Coercer,
    RequestValidationError,
    identity,
    is_model,
    issue,
    project,
    text_coercer,
    unwrap_optional,
)

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = [
    "BodyInfo",
    "CallSpec",
    "HandlerPlan",
    "ParamInfo",
    "RequestValidationError",
    "compile_callable",
    "compile_handler",
    "make_extractor",
    "read_text",
    "register_injectable",
]

error_log = logging.getLogger("flasgo.error")

_MISSING: Any = inspect.Parameter.empty
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_COLLECTIONS = (list, tuple, set, frozenset)
Location = Literal["path", "query", "header", "cookie"]


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One parameter read from the request line or headers (metadata for OpenAPI).

    Attributes:
        name: The Python parameter name.
        location: Where the value comes from.
        alias: The name on the wire (query key, header name, cookie name, placeholder).
        annotation: The declared type with ``Annotated``/``Optional`` stripped to the value type.
        required: Whether a request without it is rejected.
        default: The default value (``inspect.Parameter.empty`` when required).
        description: The marker's description, if any.
    """

    name: str
    location: Location
    alias: str
    annotation: Any
    required: bool
    default: Any
    description: str | None = None


@dataclass(frozen=True, slots=True)
class BodyInfo:
    """The request body a handler reads (metadata for OpenAPI).

    Attributes:
        annotation: The type the body is validated into.
        media_type: ``application/json``, ``application/x-www-form-urlencoded`` or
            ``multipart/form-data``.
        required: Whether an empty body is rejected.
    """

    annotation: Any
    media_type: str
    required: bool


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


# -- injection by type -----------------------------------------------------------------------

Injector = Callable[["Request"], Any]
_INJECTABLES: dict[type, Injector] = {}


def register_injectable(kind: type, provide: Injector) -> None:
    """Inject ``provide(request)`` into every handler parameter annotated `kind` (or a
    subclass), with no marker. Register before the routes that use it.

    This is the seam for per-request objects such as sessions and users.
    """
    _INJECTABLES[kind] = provide


def _injector_for(annotation: Any) -> Injector | None:
    if not isinstance(annotation, type):
        return None
    for kind, provide in _INJECTABLES.items():
        if issubclass(annotation, kind):
            return provide
    return None


def _the_request(request: Request) -> Request:
    return request


def _the_session(request: Request) -> Any:
    return request.session


def _the_user(request: Request) -> Any:
    return request.user


def _register_builtin_injectables() -> None:
    from flasgo.request import Request

    _INJECTABLES.setdefault(Request, _the_request)
    from flasgo.sessions import Session

    _INJECTABLES.setdefault(Session, _the_session)
    from flasgo.security.auth import User

    _INJECTABLES.setdefault(User, _the_user)


# -- one callable's signature ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scalar:
    name: str
    location: str  # a ParamInfo location, or "body" for form fields
    key: str
    coerce: Coercer | None
    code: str
    default: Any
    many: bool


@dataclass(frozen=True, slots=True)
class BodySpec:
    """The body parameter(s) of a callable: one JSON/form model, or form fields."""

    name: str | None  # the parameter receiving the whole body, or None for form fields
    model: BodyModel | None
    media_type: str
    default: Any
    fields: tuple[_Scalar, ...] = ()

    @property
    def required(self) -> bool:
        """Whether an empty body is rejected."""
        if self.name is not None:
            return self.default is _MISSING
        return any(f.default is _MISSING for f in self.fields)


@dataclass(slots=True)
class CallSpec:
    """A callable's compiled signature (a handler's or a dependency provider's)."""

    func: Callable[..., Any]
    kind: Literal["async", "sync", "asyncgen", "gen"]
    scalars: list[_Scalar]
    injected: list[tuple[str, Injector]]
    background: list[str]
    body: BodySpec | None
    depends: list[tuple[str, Depends]]
    infos: list[ParamInfo]
    accepts_any: bool = False

    @property
    def label(self) -> str:
        """The callable's name for messages."""
        return getattr(self.func, "__qualname__", repr(self.func))


def _kind_of(func: Callable[..., Any]) -> Literal["async", "sync", "asyncgen", "gen"]:
    if inspect.isasyncgenfunction(func):
        return "asyncgen"
    if inspect.isgeneratorfunction(func):
        return "gen"
    return "async" if is_async_callable(func) else "sync"


def _resolve_hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:
        raw = dict(getattr(func, "__annotations__", {}))
    # NOTE: one name did not resolve (e.g. a local class); resolve the others one by one,
    # as get_type_hints itself would, so they keep their meaning.
    namespace = getattr(func, "__globals__", {})
    for key, value in raw.items():
        if isinstance(value, str):
            try:
                raw[key] = eval(value, namespace)  # noqa: S307 - annotations, as typing does
            except Exception:  # noqa: S112 - an unresolvable annotation stays text
                continue
    return raw


def _split_annotated(owner: str, name: str, annotation: Any) -> tuple[Any, Any]:
    """The value type and the parameter's marker (or None)."""
    marker: Any = None
    if typing.get_origin(annotation) is Annotated:
        found = [m for m in annotation.__metadata__ if isinstance(m, Marker | Depends)]
        if len(found) > 1:
            raise ConfigurationError(
                f"Parameter {name!r} of {owner!r} has several source markers; keep one."
            )
        marker = found[0] if found else None
        annotation = annotation.__origin__
    _reject_nested_markers(owner, name, annotation)
    return annotation, marker


def _reject_nested_markers(owner: str, name: str, annotation: Any) -> None:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        if any(isinstance(m, Marker | Depends) for m in annotation.__metadata__):
            raise ConfigurationError(
                f"Parameter {name!r} of {owner!r} has a marker inside another type; put it "
                "on the outside, e.g. Annotated[int | None, Query()] instead of "
                "Annotated[int, Query()] | None."
            )
        _reject_nested_markers(owner, name, annotation.__origin__)
    for arg in typing.get_args(annotation):
        if origin is not Literal:
            _reject_nested_markers(owner, name, arg)


def compile_callable(
    func: Callable[..., Any],
    path_params: Mapping[str, bool],
    *,
    body_methods: bool,
) -> CallSpec:
    """Compile the signature of a handler or dependency provider.

    Args:
        func: The callable.
        path_params: The rule's placeholders, each mapped to whether its converter already
            produces a typed value.
        body_methods: The route accepts a body (POST/PUT/PATCH), so an unmarked model is
            the JSON body.

    Raises:
        ConfigurationError: The signature cannot be served; the message says how to fix it.
    """
    owner = getattr(func, "__qualname__", repr(func))
    hints = _resolve_hints(func)
    spec = CallSpec(func, _kind_of(func), [], [], [], None, [], [])
    for param in inspect.signature(func).parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            raise ConfigurationError(
                f"{owner!r} takes positional-only or *args parameters; Flasgo passes "
                "arguments by name, so use ordinary parameters."
            )
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            spec.accepts_any = True
            continue
        if isinstance(param.default, Marker | Depends):
            raise ConfigurationError(
                f"Parameter {param.name!r} of {owner!r} uses a marker as its default; write "
                f"{param.name}: Annotated[T, {type(param.default).__name__}(...)] = <default>."
            )
        annotation, marker = _split_annotated(owner, param.name, hints.get(param.name, _MISSING))
        _add_param(spec, owner, param, annotation, marker, path_params, body_methods)
    return spec


def _add_param(
    spec: CallSpec,
    owner: str,
    param: inspect.Parameter,
    annotation: Any,
    marker: Any,
    path_params: Mapping[str, bool],
    body_methods: bool,
) -> None:
    name = param.name
    if isinstance(marker, Depends):
        spec.depends.append((name, marker))
    elif name in path_params and marker is None:
        spec.scalars.append(_path_param(owner, name, annotation, typed=path_params[name]))
        spec.infos.append(
            ParamInfo(name, "path", name, unwrap_optional(annotation)[0], True, _MISSING)
        )
    elif marker is None and (injector := _injector_for(annotation)) is not None:
        spec.injected.append((name, injector))
    elif marker is None and annotation is BackgroundTasks:
        spec.background.append(name)
    elif marker is None and name == "request" and annotation is _MISSING:
        spec.injected.append((name, _the_request))
    elif isinstance(marker, File) or (marker is None and body_methods and _is_upload(annotation)):
        _add_file(spec, owner, param, annotation, marker)
    elif isinstance(marker, Body) or (
        marker is None and body_methods and _is_body_type(annotation)
    ):
        json_body = BodySpec(
            name, _body_model(owner, name, annotation), "application/json", param.default
        )
        _set_body(spec, owner, json_body)
    elif isinstance(marker, Form):
        _add_form(spec, owner, param, annotation, marker)
    elif isinstance(marker, Header | Cookie | Query) or marker is None:
        _add_text_param(spec, owner, param, annotation, marker)
    else:  # pragma: no cover - every marker class is handled above
        raise ConfigurationError(f"Unknown marker {marker!r} on {name!r} of {owner!r}.")


def _body_model(owner: str, name: str, annotation: Any) -> BodyModel:
    try:
        return BodyModel(annotation)
    except TypeError as exc:
        raise ConfigurationError(
            f"Parameter {name!r} of {owner!r} is annotated {annotation!r}, which cannot be "
            f"validated ({exc}). Use a dataclass, msgspec Struct, TypedDict, pydantic model, "
            "or JSON types, defined where the handler's module can resolve them."
        ) from None


def _is_body_type(annotation: Any) -> bool:
    inner, _ = unwrap_optional(annotation)
    if is_model(inner):
        return True
    if annotation is _MISSING or text_coercer(inner) is not None:
        return False
    element = _collection_item(inner)
    return element is None or text_coercer(element) is None


def _collection_item(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in _COLLECTIONS or annotation in _COLLECTIONS:
        args = typing.get_args(annotation)
        return args[0] if args else str
    return None


def _set_body(spec: CallSpec, owner: str, body: BodySpec) -> None:
    if spec.body is not None:
        raise ConfigurationError(
            f"{owner!r} reads the request body twice (two Body()/Form() models, or a Body() "
            "and a Form()); a request has one body: combine them into one model."
        )
    spec.body = body


def _add_form(
    spec: CallSpec, owner: str, param: inspect.Parameter, annotation: Any, marker: Form
) -> None:
    form = "application/x-www-form-urlencoded"
    inner, _ = unwrap_optional(annotation)
    if is_model(inner):
        model = _body_model(owner, param.name, annotation)
        _set_body(spec, owner, BodySpec(param.name, model, form, param.default))
        return
    field = _text_scalar(owner, param, annotation, "body", marker.alias or param.name)
    _add_form_field(spec, owner, field, form)


def _add_form_field(spec: CallSpec, owner: str, field: _Scalar, media_type: str) -> None:
    current = spec.body
    if current is None:
        spec.body = BodySpec(None, None, media_type, _MISSING, (field,))
    elif current.name is None:
        if current.media_type == _MULTIPART:
            media_type = _MULTIPART  # NOTE: one file field makes the whole form multipart
        spec.body = BodySpec(None, None, media_type, _MISSING, (*current.fields, field))
    else:
        _set_body(spec, owner, current)  # raises: a body model and a form field


_MULTIPART = "multipart/form-data"


def _upload_item(annotation: Any) -> tuple[Any, bool]:
    inner, _ = unwrap_optional(annotation)
    element = _collection_item(inner)
    return (inner, False) if element is None else (element, True)


def _is_upload(annotation: Any) -> bool:
    return _upload_item(annotation)[0] is UploadedFile


def _add_file(
    spec: CallSpec, owner: str, param: inspect.Parameter, annotation: Any, marker: File | None
) -> None:
    item, many = _upload_item(annotation)
    if item is not UploadedFile:
        raise ConfigurationError(
            f"Parameter {param.name!r} of {owner!r} uses File() but is annotated "
            f"{annotation!r}; annotate it UploadedFile or list[UploadedFile] "
            "(from flasgo.uploads)."
        )
    default = param.default
    if default is _MISSING and unwrap_optional(annotation)[1]:
        default = None
    key = marker.alias if marker is not None and marker.alias else param.name
    field = _Scalar(param.name, "file", key, None, "file", default, many)
    _add_form_field(spec, owner, field, _MULTIPART)


def _add_text_param(
    spec: CallSpec, owner: str, param: inspect.Parameter, annotation: Any, marker: Any
) -> None:
    location: Location = (
        "header"
        if isinstance(marker, Header)
        else "cookie"
        if isinstance(marker, Cookie)
        else "query"
    )
    alias = marker.alias if marker is not None and marker.alias else None
    if alias is None:
        alias = param.name.replace("_", "-") if location == "header" else param.name
    if location == "header":
        alias = alias.lower()
        if alias == "cookie":
            raise ConfigurationError(
                f"Parameter {param.name!r} of {owner!r} reads the Cookie header; use "
                "Annotated[str, Cookie()] for one cookie."
            )
    scalar = _text_scalar(owner, param, annotation, location, alias)
    if scalar.many and location == "cookie":
        raise ConfigurationError(
            f"Cookie parameter {param.name!r} of {owner!r} is a collection; a cookie holds "
            "one value, so annotate it with a scalar type."
        )
    spec.scalars.append(scalar)
    required = scalar.default is _MISSING
    spec.infos.append(
        ParamInfo(
            param.name,
            location,
            alias,
            unwrap_optional(annotation)[0],
            required,
            scalar.default,
            marker.description if marker is not None else None,
        )
    )


def _text_scalar(
    owner: str, param: inspect.Parameter, annotation: Any, location: str, key: str
) -> _Scalar:
    inner, optional = unwrap_optional(annotation)
    default = param.default
    if optional and default is _MISSING:
        default = None
    if annotation is _MISSING:
        return _Scalar(param.name, location, key, None, "string", default, False)
    element = _collection_item(inner)
    many = element is not None
    found = text_coercer(element if many else inner)
    if found is None:
        raise ConfigurationError(
            f"Parameter {param.name!r} of {owner!r} is annotated {annotation!r}, which cannot "
            f"be read from the {location}. Use str, int, float, bool, UUID, date/datetime, an "
            "enum or Literal (or a list of those); a model must be the body: annotate it "
            "Annotated[Model, Body()] or register the route for POST/PUT/PATCH."
        )
    coerce, code = found
    return _Scalar(
        param.name, location, key, None if coerce is identity else coerce, code, default, many
    )


def _path_param(owner: str, name: str, annotation: Any, *, typed: bool) -> _Scalar:
    inner, _ = unwrap_optional(annotation)
    if typed or inner in (str, Any, _MISSING):
        return _Scalar(name, "path", name, None, "", _MISSING, False)
    found = text_coercer(inner)
    if found is None:
        raise ConfigurationError(
            f"Path parameter {name!r} of {owner!r} is annotated {annotation!r}, which cannot "
            "be read from the path. Use str, int, float, bool, UUID or a converter such as "
            "<int:...>."
        )
    coerce, code = found
    return _Scalar(name, "path", name, coerce, code, _MISSING, False)


# -- per-request extraction (the sync part) --------------------------------------------------


def make_extractor(
    spec: CallSpec,
) -> Callable[[Request, dict[str, Any], list[dict[str, Any]]], dict[str, Any]]:
    """Build the function that reads a callable's path/query/header/cookie/injected values.

    Failures are appended to the error list passed in; the caller raises them together.
    """
    # PERF: the plan is split by source once, so each request runs tight loops with no
    # per-parameter dispatch; identity coercions are skipped entirely.
    injected = tuple(spec.injected)
    background = tuple(spec.background)
    path_plain = tuple(
        (s.name, s.key) for s in spec.scalars if s.location == "path" and not s.coerce
    )
    path_coerced = tuple(s for s in spec.scalars if s.location == "path" and s.coerce)
    query = tuple(s for s in spec.scalars if s.location == "query")
    headers = tuple(s for s in spec.scalars if s.location == "header")
    cookies = tuple(s for s in spec.scalars if s.location == "cookie")

    def extract(
        request: Request, path_values: dict[str, Any], errors: list[dict[str, Any]]
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name, provide in injected:
            kwargs[name] = provide(request)
        if background:
            from flasgo.dependencies import deferred_state

            tasks = deferred_state(request).background_tasks()
            for name in background:
                kwargs[name] = tasks
        for name, key in path_plain:
            kwargs[name] = path_values[key]
        for p in path_coerced:
            try:
                kwargs[p.name] = p.coerce(path_values[p.key])  # type: ignore[misc]  # NOTE: coerced
            except ValueError as exc:
                errors.append(issue(["path", p.key], p.code, str(exc) or "invalid value"))
        if query:
            args = request.args
            read_text(query, args.get, args.getlist, kwargs, errors)
        if headers:
            raw = request.headers
            read_text(
                headers, raw.get, _header_list(raw.getlist), kwargs, errors, single=raw.getlist
            )
        if cookies:
            jar = request.cookies
            read_text(cookies, jar.get, _no_list, kwargs, errors)
        return kwargs

    return extract


def _no_list(key: str) -> list[str]:  # pragma: no cover - cookies are never collections
    return []


def _header_list(getlist: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    def values(key: str) -> list[str]:
        return [part.strip() for value in getlist(key) for part in value.split(",") if part.strip()]

    return values


def read_text(
    specs: tuple[_Scalar, ...],
    get: Callable[[str], str | None],
    getlist: Callable[[str], list[str]],
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
    single: Callable[[str], list[str]] | None = None,
) -> None:
    """Read text parameters into `kwargs`; failures go to `errors`."""
    for p in specs:
        location = [p.location, p.key]
        if p.many:
            raw_values = getlist(p.key)
            if not raw_values:
                _fill_default(p, location, kwargs, errors)
                continue
            coerce = p.coerce
            try:
                kwargs[p.name] = [coerce(v) for v in raw_values] if coerce else raw_values
            except ValueError as exc:
                errors.append(issue(location, p.code, str(exc) or "invalid value"))
            continue
        raw = get(p.key)
        if raw is None:
            _fill_default(p, location, kwargs, errors)
        elif single is not None and len(single(p.key)) > 1:
            errors.append(issue(location, "multiple_values", "Expected one value, got several."))
        elif p.coerce is None:
            kwargs[p.name] = raw
        elif raw == "" and p.default is None:
            kwargs[p.name] = None
        else:
            try:
                kwargs[p.name] = p.coerce(raw)
            except ValueError as exc:
                errors.append(issue(location, p.code, str(exc) or "invalid value"))


def _fill_default(
    p: _Scalar, location: list[Any], kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    if p.default is _MISSING:
        errors.append(issue(location, "missing", "Field required"))
    else:
        kwargs[p.name] = p.default


# -- the handler plan --------------------------------------------------------------------------


def compile_handler(
    func: Callable[..., Any],
    path_params: Mapping[str, bool],
    *,
    methods: Iterable[str] = ("GET",),
    options: Mapping[str, Any] | None = None,
    dependencies: Iterable[Depends] = (),
) -> HandlerPlan:
    """Compile `func`'s signature (and its dependencies) into a `HandlerPlan`.

    Args:
        func: The handler.
        path_params: Placeholder names of the rule, each mapped to whether its converter
            already produces a typed value (int, float, UUID) rather than text.
        methods: The route's methods; POST/PUT/PATCH make an unmarked model the JSON body.
        options: Route options: ``response_model``, ``status_code``, ``dependencies``.
        dependencies: Dependencies of the enclosing blueprints, run before the route's own.

    Raises:
        ConfigurationError: The signature cannot be served (``*args``, a placeholder the
            handler does not accept, an annotation that cannot be read from text, two bodies,
            a marker inside a union or used as a default, a dependency cycle).
    """
    from flasgo.dependencies import build_graph

    if not _INJECTABLES:
        _register_builtin_injectables()
    options = options or {}
    body_methods = not _BODY_METHODS.isdisjoint(m.upper() for m in methods)
    spec = compile_callable(func, path_params, body_methods=body_methods)
    own = {s.name for s in spec.scalars if s.location == "path"}
    missing = [p for p in path_params if p not in own]
    if missing and not spec.accepts_any:
        raise ConfigurationError(
            f"Handler {spec.label!r} does not accept the path parameter(s) {', '.join(missing)}; "
            "add them to its signature."
        )
    route_deps = [*dependencies, *_route_dependencies(spec.label, options)]
    graph = build_graph(spec, route_deps, path_params, body_methods=body_methods)
    status_code = _status_code(spec.label, options)
    declared_model = options.get("response_model")
    return_annotation = _resolve_hints(func).get("return", None)
    if isinstance(return_annotation, str):  # NOTE: unresolvable; documents nothing
        return_annotation = None
    response_model = declared_model if declared_model is not None else return_annotation
    call, is_async = _wrap_response(func, declared_model, status_code)
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
                raise InternalServerError(
                    "The response did not match the route's response model."
                ) from None
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
