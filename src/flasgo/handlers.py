"""Compile a handler's signature once into a binder that builds its keyword arguments.

Per request only the binders the handler needs run: path values come from the router's
converters, `request` is injected, and every other parameter is a query parameter coerced to its
annotation. Typed bodies, headers, cookies and dependencies plug in here later.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

from flasgo.concurrency import is_async_callable
from flasgo.exceptions import ConfigurationError, UnprocessableEntity

if TYPE_CHECKING:
    from flasgo.datastructures import MultiDict
    from flasgo.request import Request

__all__ = ["BodyInfo", "HandlerPlan", "ParamInfo", "RequestValidationError", "compile_handler"]

_MISSING: Any = inspect.Parameter.empty
_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})
_FLOAT_CHARS = frozenset("0123456789+-.eE")


class RequestValidationError(UnprocessableEntity):
    """422: request values do not validate; `errors` lists every failing field.

    Each error is ``{"location": [...], "code": "...", "message": "..."}``.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("Request validation failed.")
        self.errors = errors

    def render(self) -> tuple[bytes, str]:
        """The JSON body of the 422 response and its media type."""
        from flasgo.jsonenc import encode_json

        body = {"error": "validation_error", "detail": self.detail, "errors": self.errors}
        return encode_json(body), "application/json"


def _issue(location: list[str], code: str, message: str) -> dict[str, Any]:
    return {"location": location, "code": code, "message": message}


# -- text -> value coercion --------------------------------------------------------------------

Coercer = Callable[[str], Any]


def _to_int(text: str) -> int:
    digits = text[1:] if text[:1] in ("+", "-") else text
    # SECURITY: only ASCII decimal digits; int() would also take "1_0", " 1" and "١".
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 4300:
        raise ValueError("expected an integer")
    return int(text)


def _to_float(text: str) -> float:
    if not text or not _FLOAT_CHARS.issuperset(text):
        raise ValueError("expected a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected a boolean (true/false, 1/0, on/off, yes/no)")


def _to_uuid(text: str) -> uuid.UUID:
    if len(text) > 45:
        raise ValueError("expected a UUID")
    return uuid.UUID(text)


def _identity(text: str) -> str:
    return text


_COERCERS: dict[Any, tuple[Coercer, str]] = {
    str: (_identity, "string"),
    int: (_to_int, "int_parsing"),
    float: (_to_float, "float_parsing"),
    bool: (_to_bool, "bool_parsing"),
    uuid.UUID: (_to_uuid, "uuid_parsing"),
    Any: (_identity, "string"),
    _MISSING: (_identity, "string"),
}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(annotation)):
            return args[0], True
    return annotation, False


# -- plans ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    source: str  # "path" | "query" | "query_list" | "request"
    coerce: Coercer
    code: str
    default: Any
    key: str


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
    location: Literal["path", "query", "header", "cookie"]
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
        func: The handler.
        is_async: Whether it is awaited on the loop (else it runs in the thread pool).
        passthrough: The path parameters are exactly the keyword arguments (the fast path).
        bind: Builds the keyword arguments from the connection (a `Request`, or a
            `WebSocket` for WebSocket handlers) and the path values.
        params: Path, query, header and cookie parameters, including those of dependencies,
            deduplicated.
        body: The request body the handler reads, or None.
        response_model: ``response_model=`` when given, else the return annotation, else None.
        status_code: The route's declared status code, or None.
    """

    func: Callable[..., Any]
    is_async: bool
    passthrough: bool
    bind: Callable[[Any, dict[str, Any]], dict[str, Any]]
    params: tuple[ParamInfo, ...] = ()
    body: BodyInfo | None = None
    response_model: Any = None
    status_code: int | None = None


def _resolve_hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:
        return dict(getattr(func, "__annotations__", {}))


def _is_request_param(name: str, annotation: Any) -> bool:
    from flasgo.request import Request

    if isinstance(annotation, type) and issubclass(annotation, Request):
        return True
    return name == "request" and annotation is _MISSING


def _query_param(func_name: str, param: inspect.Parameter, annotation: Any) -> _Param:
    inner, optional = _unwrap_optional(annotation)
    default = param.default
    if optional and default is _MISSING:
        default = None
    origin = typing.get_origin(inner)
    if origin in (list, tuple, set, frozenset) or inner in (list, tuple, set, frozenset):
        args = typing.get_args(inner)
        item = args[0] if args else str
        if item not in _COERCERS:
            raise _unsupported(func_name, param.name, annotation)
        coerce, code = _COERCERS[item]
        return _Param(param.name, "query_list", coerce, code, default, param.name)
    if inner not in _COERCERS:
        raise _unsupported(func_name, param.name, annotation)
    coerce, code = _COERCERS[inner]
    return _Param(param.name, "query", coerce, code, default, param.name)


def _unsupported(func_name: str, name: str, annotation: Any) -> ConfigurationError:
    return ConfigurationError(
        f"Parameter {name!r} of handler {func_name!r} is annotated {annotation!r}, which "
        "cannot be read from a query string. Use str, int, float, bool, UUID, a list of those, "
        "or Request."
    )


def compile_handler(func: Callable[..., Any], path_params: Mapping[str, bool]) -> HandlerPlan:
    """Compile `func`'s signature into a `HandlerPlan`.

    Args:
        func: The handler.
        path_params: Placeholder names of the rule, each mapped to whether its converter
            already produces a typed value (int, float, UUID) rather than text.

    Raises:
        ConfigurationError: The signature cannot be served (``*args``, a placeholder the
            handler does not accept, an annotation that cannot be read from text).
    """
    name = getattr(func, "__qualname__", repr(func))
    signature = inspect.signature(func)
    hints = _resolve_hints(func)
    params: list[_Param] = []
    accepts_any = False
    for param in signature.parameters.values():
        annotation = hints.get(param.name, _MISSING)
        if param.kind is inspect.Parameter.VAR_POSITIONAL or (
            param.kind is inspect.Parameter.POSITIONAL_ONLY
        ):
            raise ConfigurationError(
                f"Handler {name!r} takes positional-only or *args parameters; Flasgo passes "
                "arguments by name, so use ordinary parameters."
            )
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_any = True
        elif param.name in path_params:
            params.append(_path_param(name, param, annotation, typed=path_params[param.name]))
        elif _is_request_param(param.name, annotation):
            params.append(_Param(param.name, "request", _identity, "", _MISSING, param.name))
        else:
            params.append(_query_param(name, param, annotation))
    missing = [p for p in path_params if p not in {q.name for q in params}]
    if missing and not accepts_any:
        raise ConfigurationError(
            f"Handler {name!r} does not accept the path parameter(s) {', '.join(missing)}; "
            "add them to its signature."
        )
    passthrough = all(p.source == "path" and p.coerce is _identity for p in params) and (
        len(params) == len(path_params)
    )
    return HandlerPlan(func, is_async_callable(func), passthrough, _make_binder(params))


def _path_param(
    func_name: str, param: inspect.Parameter, annotation: Any, *, typed: bool
) -> _Param:
    inner, _ = _unwrap_optional(annotation)
    if typed or inner in (str, Any, _MISSING):
        return _Param(param.name, "path", _identity, "", _MISSING, param.name)
    if inner not in _COERCERS:
        raise _unsupported(func_name, param.name, annotation)
    coerce, code = _COERCERS[inner]
    return _Param(param.name, "path", coerce, code, _MISSING, param.name)


def _make_binder(
    params: list[_Param],
) -> Callable[[Request, dict[str, Any]], dict[str, Any]]:
    # PERF: the plan is split by source once, so each request runs tight loops with no
    # per-parameter dispatch; identity coercions are skipped entirely.
    request_names = tuple(p.name for p in params if p.source == "request")
    path_plain = tuple(
        (p.name, p.key) for p in params if p.source == "path" and p.coerce is _identity
    )
    path_coerced = tuple(p for p in params if p.source == "path" and p.coerce is not _identity)
    query_scalars = tuple(
        (p.name, p.key, None if p.coerce is _identity else p.coerce, p.default, p.code)
        for p in params
        if p.source == "query"
    )
    query_lists = tuple(p for p in params if p.source == "query_list")

    def bind(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict.fromkeys(request_names, request)
        errors: list[dict[str, Any]] = []
        for name, key in path_plain:
            kwargs[name] = path_values[key]
        for p in path_coerced:
            try:
                kwargs[p.name] = p.coerce(path_values[p.key])
            except ValueError as exc:
                errors.append(_issue(["path", p.key], p.code, str(exc) or "invalid value"))
        if query_scalars:
            _bind_query_scalars(request.args, query_scalars, kwargs, errors)
        for p in query_lists:
            raw_values = request.args.getlist(p.key)
            if not raw_values:
                _fill_default(p, ["query", p.key], kwargs, errors)
                continue
            try:
                kwargs[p.name] = [p.coerce(value) for value in raw_values]
            except ValueError as exc:
                errors.append(_issue(["query", p.key], p.code, str(exc) or "invalid value"))
        if errors:
            raise RequestValidationError(errors)
        return kwargs

    return bind


def _bind_query_scalars(
    args: MultiDict,
    specs: tuple[tuple[str, str, Coercer | None, Any, str], ...],
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    for name, key, coerce, default, code in specs:
        raw = args.get(key)
        if raw is None:
            if default is _MISSING:
                errors.append(_issue(["query", key], "missing", "Field required"))
            else:
                kwargs[name] = default
        elif coerce is None:
            kwargs[name] = raw
        else:
            try:
                kwargs[name] = coerce(raw)
            except ValueError as exc:
                errors.append(_issue(["query", key], code, str(exc) or "invalid value"))


def _fill_default(
    p: _Param, location: list[str], kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    if p.default is _MISSING:
        errors.append(_issue(location, "missing", "Field required"))
    else:
        kwargs[p.name] = p.default
