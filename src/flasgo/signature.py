"""Signature inspection: where each parameter of a handler or provider comes from.

`inspect_callable` turns a callable's parameters into a `CallSpec`, a description of sources,
once, at registration: a path placeholder; a marker in ``Annotated`` (`Query`, `Header`,
`Cookie`, `Body`, `Form`, `File`, `Depends`, see `flasgo.params`); a type injected with no
marker (asked of the `InjectableLookup` passed in, plus `BackgroundTasks`); an unmarked model
(or any type text cannot hold) on a POST/PUT/PATCH route is the JSON body; every other
parameter is a query parameter. This module knows nothing of requests: reading the values is
`flasgo.binding`'s job, ordering providers `flasgo.dependencies`', and the handler plan
`flasgo.handlers`'.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from flasgo.background import BackgroundTasks
from flasgo.concurrency import is_async_callable
from flasgo.exceptions import ConfigurationError
from flasgo.params import Body, Cookie, Depends, File, Form, Header, Marker, Query
from flasgo.uploads import UploadedFile
from flasgo.validation import (
    BodyModel,
    Coercer,
    identity,
    input_fields,
    is_model,
    text_coercer,
    unwrap_optional,
)

__all__ = [
    "MISSING",
    "MULTIPART",
    "BodyInfo",
    "BodySpec",
    "CallSpec",
    "InjectableLookup",
    "Injector",
    "Location",
    "ParamInfo",
    "Scalar",
    "inspect_callable",
    "model_upload_fields",
    "resolve_hints",
]

MISSING: Any = inspect.Parameter.empty
"""The default of a required parameter (`inspect.Parameter.empty`)."""

MULTIPART = "multipart/form-data"
_COLLECTIONS = (list, tuple, set, frozenset)
Location = Literal["path", "query", "header", "cookie"]

Injector = Callable[[Any], Any]
"""Produces an injected value from the connection (a `Request`)."""


class InjectableLookup(Protocol):
    """What the inspector asks about an unmarked annotation (see `flasgo.injectables`)."""

    def find(self, annotation: Any) -> Injector | None:
        """The provider injected for a parameter annotated `annotation`, or None."""
        ...


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
class Scalar:
    """One text value (path, query, header, cookie, form field) or uploaded file.

    Attributes:
        name: The Python parameter name.
        location: A `ParamInfo` location, ``"body"`` for form fields or ``"file"`` for uploads.
        key: The name on the wire.
        coerce: Turns the text into the declared type; None keeps the text.
        code: The issue code when `coerce` fails.
        default: The default value, or `MISSING`.
        many: A collection of every value under `key`.
    """

    name: str
    location: str
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
    fields: tuple[Scalar, ...] = ()

    @property
    def required(self) -> bool:
        """Whether an empty body is rejected."""
        if self.name is not None:
            return self.default is MISSING
        return any(f.default is MISSING for f in self.fields)


@dataclass(slots=True)
class CallSpec:
    """A callable's inspected signature (a handler's or a dependency provider's)."""

    func: Callable[..., Any]
    kind: Literal["async", "sync", "asyncgen", "gen"]
    scalars: list[Scalar]
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


def resolve_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """`func`'s annotations with ``Annotated`` kept; names that do not resolve stay text."""
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


def inspect_callable(
    func: Callable[..., Any],
    path_params: Mapping[str, bool],
    *,
    body_methods: bool,
    injectables: InjectableLookup,
) -> CallSpec:
    """Describe where each parameter of a handler or dependency provider comes from.

    Args:
        func: The callable.
        path_params: The rule's placeholders, each mapped to whether its converter already
            produces a typed value.
        body_methods: The route accepts a body (POST/PUT/PATCH), so an unmarked model is
            the JSON body.
        injectables: Answers which unmarked annotations are injected, and by what.

    Raises:
        ConfigurationError: The signature cannot be served; the message says how to fix it.
    """
    owner = getattr(func, "__qualname__", repr(func))
    hints = resolve_hints(func)
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
        annotation, marker = _split_annotated(owner, param.name, hints.get(param.name, MISSING))
        _add_param(spec, owner, param, annotation, marker, path_params, body_methods, injectables)
    return spec


def _itself(connection: Any) -> Any:
    return connection


def _add_param(
    spec: CallSpec,
    owner: str,
    param: inspect.Parameter,
    annotation: Any,
    marker: Any,
    path_params: Mapping[str, bool],
    body_methods: bool,
    injectables: InjectableLookup,
) -> None:
    name = param.name
    if isinstance(marker, Depends):
        spec.depends.append((name, marker))
    elif name in path_params and marker is None:
        spec.scalars.append(_path_param(owner, name, annotation, typed=path_params[name]))
        spec.infos.append(
            ParamInfo(name, "path", name, unwrap_optional(annotation)[0], True, MISSING)
        )
    elif marker is None and (injector := injectables.find(annotation)) is not None:
        spec.injected.append((name, injector))
    elif marker is None and annotation is BackgroundTasks:
        spec.background.append(name)
    elif marker is None and name == "request" and annotation is MISSING:
        spec.injected.append((name, _itself))
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
    if annotation is MISSING or text_coercer(inner) is not None:
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


def _add_form_field(spec: CallSpec, owner: str, field: Scalar, media_type: str) -> None:
    current = spec.body
    if current is None:
        spec.body = BodySpec(None, None, media_type, MISSING, (field,))
    elif current.name is None:
        if current.media_type == MULTIPART:
            media_type = MULTIPART  # NOTE: one file field makes the whole form multipart
        spec.body = BodySpec(None, None, media_type, MISSING, (*current.fields, field))
    else:
        _set_body(spec, owner, current)  # raises: a body model and a form field


def _upload_item(annotation: Any) -> tuple[Any, bool]:
    inner, _ = unwrap_optional(annotation)
    element = _collection_item(inner)
    return (inner, False) if element is None else (element, True)


def model_upload_fields(annotation: Any) -> tuple[tuple[str, bool], ...]:
    """The (key, many) of a form model's `UploadedFile` / `list[UploadedFile]` fields."""
    found = []
    for wire, field_type, _ in input_fields(annotation):
        item, many = _upload_item(field_type)
        if item is UploadedFile:
            found.append((wire, many))
    return tuple(found)


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
    if default is MISSING and unwrap_optional(annotation)[1]:
        default = None
    key = marker.alias if marker is not None and marker.alias else param.name
    field = Scalar(param.name, "file", key, None, "file", default, many)
    _add_form_field(spec, owner, field, MULTIPART)


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
    required = scalar.default is MISSING
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
) -> Scalar:
    inner, optional = unwrap_optional(annotation)
    default = param.default
    if optional and default is MISSING:
        default = None
    if annotation is MISSING:
        return Scalar(param.name, location, key, None, "string", default, False)
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
    return Scalar(
        param.name, location, key, None if coerce is identity else coerce, code, default, many
    )


def _path_param(owner: str, name: str, annotation: Any, *, typed: bool) -> Scalar:
    inner, _ = unwrap_optional(annotation)
    if typed or inner in (str, Any, MISSING):
        return Scalar(name, "path", name, None, "", MISSING, False)
    found = text_coercer(inner)
    if found is None:
        raise ConfigurationError(
            f"Path parameter {name!r} of {owner!r} is annotated {annotation!r}, which cannot "
            "be read from the path. Use str, int, float, bool, UUID or a converter such as "
            "<int:...>."
        )
    coerce, code = found
    return Scalar(name, "path", name, coerce, code, MISSING, False)
