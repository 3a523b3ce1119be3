"""Turning request text and JSON into typed values, and every failure into a 422 issue list.

Text (path, query, header, cookie and form values) is coerced by small strict functions.
JSON bodies are decoded by msgspec straight into the declared type (a cached typed decoder);
only when that fails is the body decoded again without a type and checked field by field, so
the 422 lists every failing field, capped at ``MAX_VALIDATION_ISSUES`` and bounded by
``MAX_VALIDATION_WORK`` nodes. pydantic models are validated by pydantic, which is never
imported here: a class counts as a pydantic model only when pydantic is already loaded.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import re
import sys
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any, Literal, Union

import msgspec

from flasgo.exceptions import InternalServerError, UnprocessableEntity
from flasgo.jsonenc import decode_json

if typing.TYPE_CHECKING:
    from flasgo.uploads import FormData

__all__ = [
    "BodyModel",
    "Coercer",
    "FormValidationError",
    "RequestValidationError",
    "ResponseValidationError",
    "ValidationIssue",
    "allow_unknown_fields",
    "cap_issues",
    "collect_issues",
    "collection_fields",
    "convert",
    "identity",
    "input_fields",
    "is_model",
    "issue",
    "project",
    "text_coercer",
    "unwrap_optional",
]

Issue = dict[str, Any]


class ValidationIssue(typing.TypedDict):
    """One failing field of a 422 (or of a response that misses its model)."""

    location: list[str | int]
    code: str
    message: str


Coercer = Callable[[str], Any]

_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})
_FLOAT_CHARS = frozenset("0123456789+-.eE")
_MISSING: Any = object()


class RequestValidationError(UnprocessableEntity):
    """422: request values do not validate; `errors` lists every failing field.

    Each error is ``{"location": [...], "code": "...", "message": "..."}``.
    """

    def __init__(self, errors: list[Issue]) -> None:
        super().__init__("Request validation failed.")
        self.errors = errors

    def render(self) -> tuple[bytes, str]:
        """The JSON body of the 422 response and its media type."""
        from flasgo.jsonenc import encode_json

        body = {"error": "validation_error", "detail": self.detail, "errors": self.errors}
        return encode_json(body), "application/json"


class FormValidationError(RequestValidationError):
    """422: a route whose body is a form (`Form()` fields or model) got values that fail.

    The response is the same as `RequestValidationError`'s; an error handler registered for
    this class also sees the form that was sent.

    Attributes:
        errors: Every failing value, as in `RequestValidationError`.
        form_data: The `FormData` that was read (empty when no body was sent).
        field_errors: The messages grouped by field name, in order; an issue about no one
            field (the whole body missing, too many errors) is under ``""``.
    """

    def __init__(self, errors: list[Issue], form_data: FormData) -> None:
        super().__init__(errors)
        self.form_data = form_data

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """The error messages by field name (``""`` for those about no one field)."""
        grouped: dict[str, list[str]] = {}
        for found in self.errors:
            location = found["location"]
            name = str(location[1]) if len(location) > 1 else ""
            grouped.setdefault(name, []).append(str(found["message"]))
        return grouped


class ResponseValidationError(InternalServerError):
    """500: a handler's return value does not fit its ``response_model=``.

    The client sees a plain 500 (the mismatch is the application's bug, and its details could
    leak data); `errors` is for logs and error handlers.
    """

    def __init__(self, errors: list[Issue]) -> None:
        super().__init__("The response did not match the route's response model.")
        self.errors = errors


def issue(location: list[Any], code: str, message: str) -> Issue:
    """One entry of a 422 ``errors`` list."""
    return {"location": location, "code": code, "message": message}


def cap_issues(errors: list[Issue], limit: int) -> list[Issue]:
    """Keep at most `limit` issues, the last one saying that more were left out."""
    if len(errors) <= limit:
        return errors
    kept = errors[: limit - 1]
    kept.append(issue([], "too_many_errors", f"More than {limit - 1} validation errors."))
    return kept


# -- text -> value ---------------------------------------------------------------------------


def _to_int(text: str) -> int:
    digits = text[1:] if text[:1] in ("+", "-") else text
    # SECURITY: only ASCII decimal digits; int() would also take "1_0", " 1" and "١".
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 4300:
        raise ValueError("expected an integer")
    return int(text)


def _to_float(text: str) -> float:
    if not text or not _FLOAT_CHARS.issuperset(text) or len(text) > 400:
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


def identity(text: str) -> str:
    """The text unchanged (`str` parameters)."""
    return text


def _via_msgspec(kind: Any, what: str) -> Coercer:
    def coerce(text: str) -> Any:
        if len(text) > 100:
            raise ValueError(f"expected {what}")
        try:
            return msgspec.convert(text, kind)
        except msgspec.ValidationError:
            raise ValueError(f"expected {what}") from None

    return coerce


_COERCERS: dict[Any, tuple[Coercer, str]] = {
    str: (identity, "string"),
    int: (_to_int, "int_parsing"),
    float: (_to_float, "float_parsing"),
    bool: (_to_bool, "bool_parsing"),
    uuid.UUID: (_to_uuid, "uuid_parsing"),
    datetime.datetime: (_via_msgspec(datetime.datetime, "an ISO 8601 datetime"), "datetime"),
    datetime.date: (_via_msgspec(datetime.date, "an ISO 8601 date"), "date"),
    datetime.time: (_via_msgspec(datetime.time, "an ISO 8601 time"), "time"),
    decimal.Decimal: (_via_msgspec(decimal.Decimal, "a decimal number"), "decimal_parsing"),
    Any: (identity, "string"),
}


def _choice_coercer(choices: dict[str, Any], code: str) -> tuple[Coercer, str]:
    shown = ", ".join(sorted(choices))[:200]

    def coerce(text: str) -> Any:
        try:
            return choices[text]
        except KeyError:
            raise ValueError(f"expected one of: {shown}") from None

    return coerce, code


def _union_coercer(options: list[tuple[Coercer, str]]) -> tuple[Coercer, str]:
    def coerce(text: str) -> Any:
        for option, _ in options:
            try:
                return option(text)
            except ValueError:
                continue
        raise ValueError("no type of the union accepts this value")

    return coerce, "union"


def _literal_coercer(values: tuple[Any, ...]) -> tuple[Coercer, str] | None:
    choices: dict[str, Any] = {}
    truths: dict[str, bool] = {}
    for value in values:
        if isinstance(value, bool):
            # NOTE: a bool literal reads the same spellings as a bool parameter ("true", "On").
            truths.update(dict.fromkeys(_TRUE if value else _FALSE, value))
        elif isinstance(value, str | int):
            choices[str(value)] = value
        else:
            return None
    exact, code = _choice_coercer({**truths, **choices}, "literal_error")
    if not truths:
        return exact, code

    def coerce(text: str) -> Any:
        if text in choices:
            return choices[text]
        return exact(text.lower())

    return coerce, code


def text_coercer(annotation: Any) -> tuple[Coercer, str] | None:
    """The function that reads `annotation` from text, and its error code (None if none can).

    Supports str, int, float, bool, UUID, date, datetime, time, Decimal, enums, ``Literal``
    and unions of those.
    """
    found = _COERCERS.get(annotation)
    if found is not None:
        return found
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _choice_coercer({str(m.value): m for m in annotation}, "enum")
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return _literal_coercer(typing.get_args(annotation))
    if origin is Union or origin is types.UnionType:
        options = [text_coercer(arg) for arg in typing.get_args(annotation)]
        if any(option is None for option in options):
            return None
        return _union_coercer([o for o in options if o is not None])
    return None


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """Strip ``None`` from a union: ``int | None`` -> ``(int, True)``."""
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) < len(args):
            if len(rest) == 1:
                return rest[0], True
            return Union[tuple(rest)], True  # noqa: UP007 - built from a runtime tuple
    return annotation, False


# -- models ----------------------------------------------------------------------------------


def _pydantic_base() -> type | None:
    # NOTE: pydantic is never imported by Flasgo; a model can only exist if it is loaded.
    module = sys.modules.get("pydantic")
    return getattr(module, "BaseModel", None) if module is not None else None


def is_pydantic_model(annotation: Any) -> bool:
    """Tell whether `annotation` is a pydantic v2 model class (without importing pydantic)."""
    base = _pydantic_base()
    return base is not None and isinstance(annotation, type) and issubclass(annotation, base)


def is_typeddict(annotation: Any) -> bool:
    """Tell whether `annotation` is a TypedDict class."""
    return isinstance(annotation, type) and typing.is_typeddict(annotation)


def is_model(annotation: Any) -> bool:
    """Tell whether `annotation` is a dataclass, msgspec Struct, TypedDict or pydantic model."""
    if not isinstance(annotation, type):
        return False
    return (
        issubclass(annotation, msgspec.Struct)
        or dataclasses.is_dataclass(annotation)
        or typing.is_typeddict(annotation)
        or is_pydantic_model(annotation)
    )


_Field = tuple[str, Any, bool]  # wire name, type, required

_ALLOW_UNKNOWN = "__flasgo_allow_unknown_fields__"

ModelT = typing.TypeVar("ModelT", bound=type)


def allow_unknown_fields(model: ModelT) -> ModelT:
    """Let a request model ignore JSON/form keys it does not declare (class decorator).

    By default a key that no field declares is a 422 ``unknown_field``, at every level of a
    body: a client cannot slip in ``is_admin`` and hope a later ``**vars(model)`` uses it.
    Decorate a dataclass, msgspec Struct or TypedDict to accept and drop such keys instead.

    Returns:
        The same class.
    """
    setattr(model, _ALLOW_UNKNOWN, True)
    return model


def _forbids_unknown(model: type) -> bool:
    return not model.__dict__.get(_ALLOW_UNKNOWN, False)


def _dataclass_fields(model: type) -> list[_Field]:
    # NOTE: a field(init=False) is computed by the class, not given by the client: it is not
    # input (sending it is an unknown field), and it is never demanded.
    hints = typing.get_type_hints(model, include_extras=True)
    return [
        (
            field.name,
            hints.get(field.name, Any),
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
        )
        for field in dataclasses.fields(model)
        if field.init
    ]


_Described = tuple[list[_Field], bool] | None
_FIELDS_CACHE: dict[type, _Described] = {}


def _model_fields(annotation: Any) -> _Described:
    """A model's input fields and whether it rejects unknown ones; None for non-models."""
    if not isinstance(annotation, type):
        return None
    # PERF: the unknown-key check asks per request; type hints are resolved once per class.
    try:
        return _FIELDS_CACHE[annotation]
    except KeyError:
        described = _FIELDS_CACHE[annotation] = _describe(annotation)
        return described


def _describe(annotation: type) -> _Described:
    if issubclass(annotation, msgspec.Struct):
        fields = msgspec.structs.fields(annotation)
        return [(f.encode_name, f.type, f.required) for f in fields], _forbids_unknown(annotation)
    if dataclasses.is_dataclass(annotation):
        return _dataclass_fields(annotation), _forbids_unknown(annotation)
    if typing.is_typeddict(annotation):
        hints = typing.get_type_hints(annotation)
        required = getattr(annotation, "__required_keys__", frozenset(hints))
        entries = [(name, kind, name in required) for name, kind in hints.items()]
        return entries, _forbids_unknown(annotation)
    return None


def _children(kind: Any) -> tuple[Any, ...]:
    """The types directly inside `kind`: a model's field types, a generic's arguments."""
    described = _model_fields(kind)
    if described is not None:
        return tuple(field_type for _, field_type, _ in described[0])
    if isinstance(kind, type):
        return ()
    return tuple(arg for arg in typing.get_args(kind) if arg is not Ellipsis)


def _tree_has(kind: Any, test: Callable[[Any], bool], seen: set[int] | None = None) -> bool:
    """Tell whether `test` holds for `kind` or any type inside it (recursive types end)."""
    seen = set() if seen is None else seen
    if id(kind) in seen:
        return False
    seen.add(id(kind))
    if test(kind):
        return True
    return any(_tree_has(child, test, seen) for child in _children(kind))


def _has_hidden_fields(kind: Any) -> bool:
    return (
        isinstance(kind, type)
        and dataclasses.is_dataclass(kind)
        and any(not field.init for field in dataclasses.fields(kind))
    )


def _has_input_model(kind: Any) -> bool:
    return _model_fields(kind) is not None or is_pydantic_model(kind)


class _TypePlan:
    """What a body type needs beyond msgspec: checks for unknown keys, its own construction."""

    __slots__ = ("builds", "nested")

    def __init__(self, kind: Any) -> None:
        inner = _children(kind) if _model_fields(kind) is not None else (kind,)
        # Models anywhere below the top level (msgspec ignores their unknown keys).
        self.nested = any(_tree_has(child, _has_input_model) for child in inner)
        # Dataclasses with init=False fields, which msgspec would demand from the client.
        self.builds = _tree_has(kind, _has_hidden_fields)


def _keys_known(value: Any, kind: Any) -> bool:
    """Tell whether every object in `value` that a model reads has only keys it declares."""
    if value is None:
        return True
    inner, _ = unwrap_optional(kind)
    described = _model_fields(inner)
    if described is not None:
        return _object_keys_known(value, described)
    origin = typing.get_origin(inner)
    args = typing.get_args(inner)
    if isinstance(value, list) and origin in (list, set, frozenset, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return all(_keys_known(item, t) for item, t in zip(value, args, strict=False))
        return not args or all(_keys_known(item, args[0]) for item in value)
    if isinstance(value, dict) and origin in (dict, typing.Mapping) and len(args) == 2:
        return all(_keys_known(item, args[1]) for item in value.values())
    if origin is Union or origin is types.UnionType:
        # NOTE: which member a value is for is msgspec's call; be strict when one is a model.
        return not any(_tree_has(arg, _has_input_model) for arg in args)
    return True


def _object_keys_known(value: Any, described: tuple[list[_Field], bool]) -> bool:
    if not isinstance(value, dict):
        return True  # the conversion reports the type error
    fields, forbid = described
    if forbid and len(value) > len(fields):
        return False
    names = {wire: field_type for wire, field_type, _ in fields}
    for key, item in value.items():
        field_type = names.get(key, _MISSING)
        if field_type is _MISSING:
            if forbid:
                return False
        elif not _keys_known(item, field_type):
            return False
    return True


_BUILDS_CACHE: dict[Any, bool] = {}


def _builds(kind: Any) -> bool:
    try:
        return _BUILDS_CACHE[kind]
    except KeyError:
        found = _BUILDS_CACHE[kind] = _tree_has(kind, _has_hidden_fields)
        return found
    except TypeError:  # an unhashable annotation
        return _tree_has(kind, _has_hidden_fields)


def convert(value: Any, kind: Any, *, strict: bool = True) -> Any:
    """Convert validated data into `kind`, building dataclasses with init=False fields by hand.

    Raises:
        msgspec.ValidationError, TypeError, ValueError: The data does not fit.
    """
    if not _builds(kind):
        return msgspec.convert(value, kind, strict=strict)
    inner, optional = unwrap_optional(kind)
    if value is None and optional:
        return None
    described = _model_fields(inner)
    if described is not None and dataclasses.is_dataclass(inner):
        if not isinstance(value, dict):
            raise msgspec.ValidationError("Expected `object`")
        kwargs = {
            wire: convert(value[wire], field_type, strict=strict)
            for wire, field_type, _ in described[0]
            if wire in value
        }
        return typing.cast("Callable[..., Any]", inner)(**kwargs)
    element = _element_type(inner)
    if element is not _MISSING and isinstance(value, list):
        origin = typing.get_origin(inner) or inner
        return origin(convert(item, element, strict=strict) for item in value)
    return msgspec.convert(value, kind, strict=strict)


def input_fields(annotation: Any) -> list[tuple[str, Any, bool]]:
    """A dataclass, Struct or TypedDict's input fields: (wire name, type, required); else []."""
    described = _model_fields(annotation)
    return described[0] if described is not None else []


def collection_fields(annotation: Any) -> frozenset[str]:
    """Wire names of a model's list/set/tuple fields (form keys that collect repeats)."""
    if is_pydantic_model(annotation):
        pairs = [(n, f.alias or n, f.annotation) for n, f in annotation.model_fields.items()]
        fields = [(wire, kind) for _, wire, kind in pairs]
    else:
        described = _model_fields(annotation)
        fields = [(wire, kind) for wire, kind, _ in described[0]] if described else []
    many = set()
    for wire, kind in fields:
        inner, _ = unwrap_optional(kind)
        origin = typing.get_origin(inner)
        if origin in (list, set, frozenset, tuple) or inner in (list, set, frozenset, tuple):
            many.add(wire)
    return frozenset(many)


class _Budget:
    __slots__ = ("limit", "work")

    def __init__(self, limit: int, work: int) -> None:
        self.limit = limit
        self.work = work


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


def _location_from(message: str) -> tuple[str, list[Any]]:
    text, sep, where = message.rpartition(" - at `$")
    if not sep:
        return message, []
    parts: list[Any] = []
    for match in _PATH_PART.finditer(where.rstrip("`")):
        name, index = match.groups()
        parts.append(name if name is not None else int(index) if index is not None else "*")
    return text, parts


def _code_for(message: str) -> str:
    if message.startswith("Expected `"):
        kind = message[10:].split("`", 1)[0].split(" ", maxsplit=1)[0]
        return f"{kind}_type" if kind.isidentifier() else "type_error"
    if message.startswith("Object missing required field"):
        return "missing"
    if message.startswith("Object contains unknown field"):
        return "unknown_field"
    if "out of range" in message:
        return "out_of_range"
    if message.startswith("Invalid enum value"):
        return "enum"
    return "value_error"


def _leaf(value: Any, kind: Any, location: list[Any], out: list[Issue], strict: bool) -> None:
    try:
        convert(value, kind, strict=strict)
    except msgspec.ValidationError as exc:
        message, path = _location_from(str(exc))
        out.append(issue([*location, *path], _code_for(message), message))
    except (TypeError, ValueError, RecursionError) as exc:
        out.append(issue(location, "value_error", str(exc)[:200] or "invalid value"))


def _element_type(kind: Any) -> Any:
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (list, set, frozenset) and len(args) == 1:
        return args[0]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return _MISSING


def _pydantic_issues(value: Any, kind: Any, location: list[Any], out: list[Issue]) -> None:
    error_class = sys.modules["pydantic"].ValidationError
    try:
        kind.model_validate(value)
    except error_class as exc:
        out.extend(
            issue([*location, *error["loc"]], error["type"], error["msg"])
            for error in exc.errors(include_url=False)
        )
    except (TypeError, ValueError, RecursionError) as exc:
        out.append(issue(location, "value_error", str(exc)[:200] or "invalid value"))


def collect_issues(  # noqa: C901, PLR0912 - one walk over the model tree, branch per kind
    value: Any,
    kind: Any,
    location: list[Any],
    out: list[Issue],
    budget: _Budget,
    *,
    strict: bool = True,
) -> None:
    """Append an issue for every part of `value` that does not validate as `kind`."""
    budget.work -= 1
    if budget.work < 0 or len(out) > budget.limit:
        return
    inner, optional = unwrap_optional(kind)
    if value is None and optional:
        return
    if is_pydantic_model(inner):
        _pydantic_issues(value, inner, location, out)
        return
    described = _model_fields(inner)
    if described is None:
        element = _element_type(inner)
        if element is not _MISSING and _is_nested(element) and isinstance(value, list):
            for index, item in enumerate(value):
                collect_issues(item, element, [*location, index], out, budget, strict=strict)
                if budget.work < 0 or len(out) > budget.limit:
                    return
            return
        _leaf(value, kind, location, out, strict)
        return
    fields, forbid_unknown = described
    if not isinstance(value, dict):
        out.append(issue(location, "model_type", "Expected an object"))
        return
    before = len(out)
    known: set[str] = set()
    for wire, field_type, required in fields:
        known.add(wire)
        if wire not in value:
            if required:
                out.append(issue([*location, wire], "missing", "Field required"))
            continue
        collect_issues(value[wire], field_type, [*location, wire], out, budget, strict=strict)
    if forbid_unknown:
        out.extend(
            issue([*location, name], "unknown_field", "Unknown field")
            for name in value
            if name not in known
        )
    if len(out) == before:
        _leaf(value, inner, location, out, strict)  # e.g. __post_init__ checks


def _is_nested(kind: Any) -> bool:
    inner, _ = unwrap_optional(kind)
    return _model_fields(inner) is not None or is_pydantic_model(inner)


class BodyModel:
    """How one body type is validated: a typed msgspec decoder first, issues on failure.

    Args:
        annotation: The declared type (model, container or scalar).
    """

    __slots__ = ("_checked", "_decoder", "_restore", "annotation", "is_pydantic")

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self.is_pydantic = is_pydantic_model(annotation)
        self._restore: type | None = None
        self._checked = False
        target = annotation
        if self.is_pydantic:
            self._decoder = None
            return
        plan = _TypePlan(annotation)
        is_struct = isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)
        if is_struct and not plan.nested and not plan.builds:
            config = annotation.__struct_config__
            if _forbids_unknown(annotation) and not config.forbid_unknown_fields:
                # PERF: a subclass that forbids unknown fields lets msgspec reject them while
                # decoding; the instance gets the declared class back (same layout).
                target = _strict_struct(annotation)
                self._restore = annotation if target is not annotation else None
        elif plan.nested or plan.builds or _model_fields(annotation) is not None:
            # NOTE: msgspec checks unknown keys of the top-level Struct only, and would demand
            # init=False fields: decode without a type, check every level's keys, convert.
            self._checked = True
            target = Any
        self._decoder = msgspec.json.Decoder(target)

    def decode(self, body: bytes, max_depth: int, limit: int, work: int) -> Any:
        """Decode and validate a JSON body.

        Raises:
            BadRequest: The body is not JSON (malformed, too deep, NaN, invalid UTF-8).
            RequestValidationError: It is JSON but does not validate.
        """
        decoder = self._decoder
        # PERF: only bodies with more brackets than the depth limit need the depth check.
        if decoder is not None and body.count(b"[") + body.count(b"{") <= max_depth:
            try:
                if not self._checked:
                    value = decoder.decode(body)
                    if self._restore is not None:
                        value.__class__ = self._restore
                    return value
                raw = decoder.decode(body)
                if _keys_known(raw, self.annotation):
                    return convert(raw, self.annotation)
            except (
                msgspec.ValidationError,
                msgspec.DecodeError,
                RecursionError,
                ValueError,
                TypeError,
            ):
                pass
        return self.validate(decode_json(body, max_depth=max_depth), limit, work)

    def validate(self, raw: Any, limit: int, work: int, *, strict: bool = True) -> Any:
        """Validate decoded data (JSON values, or form text with ``strict=False``).

        Raises:
            RequestValidationError: Every failing field, capped at `limit`.
        """
        if self.is_pydantic:
            out: list[Issue] = []
            _pydantic_issues(raw, self.annotation, ["body"], out)
            if not out:
                return self.annotation.model_validate(raw)
            raise RequestValidationError(cap_issues(out, limit))
        out = []
        collect_issues(raw, self.annotation, ["body"], out, _Budget(limit, work), strict=strict)
        if not out:
            try:
                return convert(raw, self.annotation, strict=strict)
            except (msgspec.ValidationError, TypeError, ValueError, RecursionError) as exc:
                out.append(issue(["body"], "value_error", str(exc)[:200] or "invalid value"))
        raise RequestValidationError(cap_issues(out, limit))


_STRICT_CACHE: dict[type, type] = {}


def _strict_struct(cls: type[msgspec.Struct]) -> type:
    strict = _STRICT_CACHE.get(cls)
    if strict is None:
        try:
            strict = type(cls.__name__, (cls,), {"__module__": cls.__module__}, **_FORBID)
            strict.__qualname__ = cls.__qualname__
        except TypeError:  # pragma: no cover - msgspec refused the subclass
            strict = cls
        _STRICT_CACHE[cls] = strict
    return strict


_FORBID: dict[str, Any] = {"forbid_unknown_fields": True}


# -- responses -------------------------------------------------------------------------------


def _to_builtin(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="python")
    raise TypeError(f"Cannot project a {type(value).__name__} into a response model.")


def project(value: Any, model: Any) -> Any:
    """Validate `value` into `model`, dropping fields the model does not declare.

    Raises:
        msgspec.ValidationError, TypeError, ValueError: The value does not fit the model.
    """
    if is_pydantic_model(model):
        return model.model_validate(value, from_attributes=True)
    builtin = msgspec.to_builtins(value, enc_hook=_to_builtin)
    return msgspec.convert(builtin, model, strict=False)
