"""JSON Schema 2020-12 for Python annotations, with models as shared OpenAPI components.

`SchemaRegistry.schema` maps scalars, containers, unions, `Literal` and enums inline (3.1 type
arrays for ``Optional``); dataclasses, msgspec Structs, TypedDicts and generic models become
``#/components/schemas`` entries that msgspec generates in one batch when `resolve` runs, and
pydantic models (never imported here) describe themselves through ``model_json_schema``. An
annotation that cannot be mapped becomes ``{}`` (any value): generation never fails on one.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import re
import types
import typing
import uuid
from collections import abc, deque
from typing import Any, Literal, Union

import msgspec

__all__ = ["REF_PREFIX", "Schema", "SchemaRegistry", "accepts_null"]

REF_PREFIX = "#/components/schemas/"

Schema = dict[str, Any]

_EMPTY: Any = inspect.Parameter.empty
_NONE_TYPE = type(None)
_MAX_DEPTH = 32
_NAME_JUNK = re.compile(r"[^A-Za-z0-9_.-]")

_SCALARS: dict[Any, Schema] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bytes: {"type": "string", "contentEncoding": "base64"},
    bytearray: {"type": "string", "contentEncoding": "base64"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
    datetime.timedelta: {"type": "string", "format": "duration"},
    decimal.Decimal: {"type": "string", "format": "decimal"},
}
_ARRAYS = frozenset(
    {list, set, frozenset, deque, abc.Sequence, abc.MutableSequence, abc.Collection, abc.Iterable}
    | {abc.Set, abc.MutableSet}
)
_UNIQUE_ARRAYS = frozenset({set, frozenset, abc.Set, abc.MutableSet})
_MAPPINGS = frozenset({dict, abc.Mapping, abc.MutableMapping})


class SchemaRegistry:
    """JSON Schemas for annotations, with models collected as shared components.

    Call `schema` for every annotation of the document, then `resolve` once: the schemas
    handed out for models are filled in place and `components` holds their definitions.
    """

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {}
        self._pending: list[tuple[Any, Schema]] = []
        self._placeholders: set[int] = set()
        self._extra: dict[str, Schema] = {}

    def schema(self, annotation: Any) -> Schema:
        """The JSON Schema of `annotation`; ``{}`` (any value) when it cannot be mapped."""
        try:
            return self._schema(annotation, 0)
        except Exception:
            return {}

    def resolve(self) -> None:
        """Generate the models' schemas in one msgspec batch and fill in their placeholders."""
        keys: dict[Any, int] = {}
        models: list[Any] = []
        slots: list[int] = []
        for model, _ in self._pending:
            key = _key(model)
            if key not in keys:
                keys[key] = len(models)
                models.append(model)
            slots.append(keys[key])
        schemas, components = self._generate(models)
        for (_, placeholder), slot in zip(self._pending, slots, strict=True):
            placeholder.update(schemas[slot])
        for schema in components.values():
            # NOTE: the binder rejects fields a model does not declare (422 unknown_field).
            if schema.get("type") == "object" and "properties" in schema:
                schema.setdefault("additionalProperties", False)
        self.components.update(components)
        self.components.update(self._extra)
        self._pending.clear()

    # -- mapping ---------------------------------------------------------------------------------

    def _schema(self, tp: Any, depth: int) -> Schema:  # noqa: C901, PLR0912 - one branch per kind
        if depth > _MAX_DEPTH or tp is _EMPTY or tp is Any or tp is object:
            return {}
        if tp is None or tp is _NONE_TYPE:
            return {"type": "null"}
        scalar = _lookup(_SCALARS, tp)
        if scalar is not None:
            return dict(scalar)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self._annotated(tp, args, depth)
        if origin is Literal:
            return _enum_schema(list(args))
        if origin is Union or origin is types.UnionType:
            return self._union(args, depth)
        if _is_in(origin, _ARRAYS) or _is_in(tp, _ARRAYS):
            return self._array(origin or tp, args, depth)
        if tp is tuple:
            return {"type": "array"}
        if origin is tuple:
            return self._tuple(args, depth)
        if _is_in(origin, _MAPPINGS) or _is_in(tp, _MAPPINGS):
            value = self._schema(args[1], depth + 1) if len(args) == 2 else {}
            if not self._known(value):
                return {"type": "object"}
            return {"type": "object", "additionalProperties": value}
        supertype = getattr(tp, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            return self._schema(supertype, depth + 1)
        if type(tp).__name__ == "TypeAliasType":  # pragma: no cover - ``type X = ...`` (3.12+)
            return self._schema(tp.__value__, depth + 1)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _enum_schema([member.value for member in tp])
        if isinstance(tp, type) or isinstance(origin, type):
            return self._model(tp)
        return {}

    def _annotated(self, tp: Any, args: tuple[Any, ...], depth: int) -> Schema:
        if any(isinstance(meta, msgspec.Meta) for meta in args[1:]):
            # Constraints (ge=, max_length=, description=...) are msgspec's to render.
            return self._model(tp)
        return self._schema(args[0], depth + 1)

    def _union(self, args: tuple[Any, ...], depth: int) -> Schema:
        members = [arg for arg in args if arg is not None and arg is not _NONE_TYPE]
        if not members:  # pragma: no cover - typing collapses Union[None, None] to None
            return {"type": "null"}
        schemas = [self._schema(member, depth + 1) for member in members]
        if not all(self._known(schema) for schema in schemas):
            return {}  # one member is "any", so the union is too
        schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        return self.nullable(schema) if len(members) < len(args) else schema

    def nullable(self, schema: Schema) -> Schema:
        """`schema` widened to accept ``null`` too (a 3.1 type array where possible)."""
        if not self._known(schema) or accepts_null(schema):
            return schema
        if id(schema) in self._placeholders or "$ref" in schema:
            return {"anyOf": [schema, {"type": "null"}]}
        if "anyOf" in schema:
            return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
        kind = schema.get("type")
        if kind is None:
            return {"anyOf": [schema, {"type": "null"}]}
        kinds = [kind] if isinstance(kind, str) else list(kind)
        nullable = {**schema, "type": kinds if "null" in kinds else [*kinds, "null"]}
        if "enum" in schema and None not in schema["enum"]:
            nullable["enum"] = [*schema["enum"], None]
        return nullable

    def _array(self, origin: Any, args: tuple[Any, ...], depth: int) -> Schema:
        schema: Schema = {"type": "array"}
        if args:
            items = self._schema(args[0], depth + 1)
            if self._known(items):
                schema["items"] = items
        if _is_in(origin, _UNIQUE_ARRAYS):
            schema["uniqueItems"] = True
        return schema

    def _tuple(self, args: tuple[Any, ...], depth: int) -> Schema:
        if not args or args == ((),):  # tuple[()]
            return {"type": "array", "maxItems": 0}
        if len(args) == 2 and args[1] is Ellipsis:
            return self._array(list, args[:1], depth)
        return {
            "type": "array",
            "prefixItems": [self._schema(arg, depth + 1) for arg in args],
            "minItems": len(args),
            "maxItems": len(args),
        }

    def _known(self, schema: Schema) -> bool:
        """Whether `schema` says something: not ``{}``, or a model's placeholder."""
        return bool(schema) or id(schema) in self._placeholders

    def _model(self, tp: Any) -> Schema:
        placeholder: Schema = {}
        self._pending.append((tp, placeholder))
        self._placeholders.add(id(placeholder))
        return placeholder

    # -- msgspec ---------------------------------------------------------------------------------

    def _generate(self, models: list[Any]) -> tuple[list[Schema], dict[str, Schema]]:
        if not models:
            return [], {}
        try:
            return self._components(models)
        except Exception:  # noqa: S110 - narrowed down model by model below
            pass
        # NOTE: one model msgspec cannot describe (e.g. an untagged union of two dataclasses
        # in a field) fails the whole batch: find it, describe it as "any", keep the rest.
        usable = [model for model in models if self._describable(model)]
        try:
            schemas, components = self._components(usable)
        except Exception:  # pragma: no cover - each model worked alone
            schemas, components = [{} for _ in usable], {}
        by_model = iter(schemas)
        return [next(by_model) if model in usable else {} for model in models], components

    def _describable(self, model: Any) -> bool:
        try:
            self._components([model])
        except Exception:
            return False
        return True

    def _components(self, models: list[Any]) -> tuple[list[Schema], dict[str, Schema]]:
        schemas, components = msgspec.json.schema_components(
            models, schema_hook=self._hook, ref_template=REF_PREFIX + "{name}"
        )
        return list(schemas), dict(components)

    def _hook(self, tp: Any) -> Schema:
        """Schemas for types msgspec does not know: pydantic models, else any value."""
        describe = getattr(tp, "model_json_schema", None)
        if not (isinstance(tp, type) and callable(describe)):
            return {}
        schema = dict(describe(ref_template=REF_PREFIX + "{model}"))
        self._extra.update(schema.pop("$defs", None) or {})
        name = _NAME_JUNK.sub("_", tp.__name__)
        self._extra[name] = schema
        return {"$ref": REF_PREFIX + name}


def _key(model: Any) -> Any:
    try:
        hash(model)
    except TypeError:
        return id(model)
    return model


def _lookup(table: dict[Any, Schema], tp: Any) -> Schema | None:
    try:
        return table.get(tp)
    except TypeError:  # unhashable annotation object
        return None


def _is_in(tp: Any, kinds: frozenset[Any]) -> bool:
    try:
        return tp in kinds
    except TypeError:
        return False


def accepts_null(schema: Schema) -> bool:
    """Whether `schema` already admits ``null``."""
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(option.get("type") == "null" for option in schema.get("anyOf", ()))


def _json_kind(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _enum_schema(values: list[Any]) -> Schema:
    values = [value.value if isinstance(value, enum.Enum) else value for value in values]
    kinds = [_json_kind(value) for value in values]
    if not values or None in kinds:
        return {}
    distinct = sorted(set(typing.cast("list[str]", kinds)))
    return {"type": distinct[0] if len(distinct) == 1 else distinct, "enum": values}
