"""The OpenAPI 3.1 document of an app, generated from the compiled handler plans.

`openapi_spec` walks ``app.iter_endpoints()`` once: each rule becomes a path template
(``/users/<int:id>`` -> ``/users/{id}`` with an integer schema), each registered method an
operation (automatic HEAD/OPTIONS are not listed) whose parameters, request body and responses
come from the plan's `ParamInfo`/`BodyInfo`, response model and status code. Annotations become
JSON Schema through `flasgo.openapi.registry`; ``info`` comes from `flasgo.openapi.info`.

The document has no ``jsonSchemaDialect``: its schemas are JSON Schema 2020-12 without the OAS
vocabulary, which the 3.1 default dialect (the OAS base dialect) accepts as is, and Swagger UI
shows a warning box for any other declared value.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec

from flasgo.mediatypes import is_json_media_type
from flasgo.openapi.info import api_info
from flasgo.openapi.registry import REF_PREFIX, Schema, SchemaRegistry, accepts_null
from flasgo.openapi.security import operation_security, security_schemes
from flasgo.response import Response
from flasgo.routing import Placeholder, parse_rule

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.openapi.documented import DocumentedApp

__all__ = [
    "OPENAPI_VERSION",
    "VALIDATION_ERROR_SCHEMA",
    "openapi_spec",
]

OPENAPI_VERSION = "3.1.0"

_EMPTY: Any = inspect.Parameter.empty
_NONE_TYPE = type(None)
# The fields of a path item that hold operations, in the order the specification lists them.
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = frozenset({"path", "query", "header", "cookie"})
_NO_CONTENT = frozenset({204, 205, 304})
_OPERATION_ID_JUNK = re.compile(r"[^A-Za-z0-9_]")

# NOTE: fixed texts, not HTTPStatus phrases: those changed between Python versions (413, 422)
# and the document must be the same on every interpreter.
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "The body is not valid JSON.",
    413: "The body is larger than MAX_REQUEST_BODY_BYTES.",
    404: "Nothing at this path: a placeholder's text does not fit its converter.",
    415: "The body's Content-Type is not one this operation accepts.",
    401: "No valid credentials: authenticate and retry.",
    403: "The authenticated user may not use this operation.",
    422: "A parameter or the body does not validate; `errors` lists every failing field.",
}

# Path placeholders: what each built-in converter's text can be (routing/converters.py).
_CONVERTER_SCHEMAS: dict[str, Schema] = {
    "str": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
    "path": {"type": "string", "minLength": 1},
    "int": {"type": "integer", "minimum": 0, "maximum": 10**30 - 1},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
}
_TEXT_CONVERTERS = frozenset({"str", "path"})

VALIDATION_ERROR_SCHEMA: Schema = {
    "title": "ValidationError",
    "description": "The 422 body: every field of the request that failed validation.",
    "type": "object",
    "properties": {
        "error": {"type": "string", "const": "validation_error"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["location", "code", "message"],
            },
        },
    },
    "required": ["error", "detail", "errors"],
}


# -- the document ---------------------------------------------------------------------------------


def openapi_spec(app: DocumentedApp) -> dict[str, Any]:
    """Build the OpenAPI 3.1.0 document of `app`'s HTTP routes.

    Routes registered with ``include_in_schema=False`` and WebSocket routes are left out.
    Methods outside the eight OpenAPI knows (e.g. ``PROPFIND``) cannot be described in 3.1 and
    are left out too.

    Args:
        app: The application; its settings give ``info`` (``API_TITLE``, ``API_VERSION``,
            ``API_DESCRIPTION``, see `flasgo.openapi.info.api_info`) and ``servers``
            (``API_SERVERS``).

    Returns:
        The document as JSON-ready builtins, the same for the same app on every run.
    """
    builder = _Builder(app)
    for endpoint in app.iter_endpoints():
        if not endpoint.websocket and endpoint.options.get("include_in_schema", True):
            builder.add(endpoint)
    return builder.document(app)


class _Builder:
    """Operations accumulated endpoint by endpoint; components resolved at the end."""

    def __init__(self, app: DocumentedApp) -> None:
        self.app = app
        self.auth_statuses: tuple[int, ...] = ()
        self.registry = SchemaRegistry()
        self.paths: dict[str, dict[str, Any]] = {}
        self.tags: list[str] = []
        self.operation_ids: set[str] = set()
        # Filled with the ValidationError component's $ref once its name is known.
        self.error_ref: Schema = {}
        self.uses_error = False

    def add(self, endpoint: Endpoint) -> None:
        parsed = parse_rule(endpoint.rule)
        template = "/" + "/".join(
            "".join(f"{{{p.name}}}" if isinstance(p, Placeholder) else p for p in segment)
            for segment in parsed.segments
        )
        item = self.paths.setdefault(template, {})
        params, validates = self._parameters(endpoint, parsed.placeholders)
        for method in endpoint.methods:
            key = method.lower()
            # NOTE: a second rule with the same template (``<x>`` and ``<int:x>``) keeps the
            # first registration's operation; a path item holds one per method.
            if key in _METHODS and key not in item:
                item[key] = self._operation(
                    endpoint, key, params, validates=validates, templated=bool(parsed.placeholders)
                )

    def _operation(
        self,
        endpoint: Endpoint,
        method: str,
        params: list[Schema],
        *,
        validates: bool,
        templated: bool,
    ) -> Schema:
        plan = endpoint.plan
        operation: Schema = {"operationId": self._operation_id(endpoint.name, method)}
        tag = _tag(endpoint)
        if tag is not None:
            operation["tags"] = [tag]
            if tag not in self.tags:
                self.tags.append(tag)
        summary, description = _docstring(endpoint.func)
        if summary:
            operation["summary"] = summary
        if description:
            operation["description"] = description
        if params:
            operation["parameters"] = params
        body = getattr(plan, "body", None)
        media_types: list[str] = []
        if body is not None:
            media_types = _media_types(body)
            operation["requestBody"] = {
                "required": bool(getattr(body, "required", True)),
                "content": {
                    media: {"schema": self._body_schema(getattr(body, "annotation", Any))}
                    for media in media_types
                },
            }
        security, self.auth_statuses = operation_security(self.app, endpoint)
        if security is not None:
            operation["security"] = security
        operation["responses"] = self._responses(
            endpoint,
            validates=validates or body is not None,
            templated=templated,
            media_types=media_types,
        )
        return operation

    def _operation_id(self, endpoint_name: str, method: str) -> str:
        base = _OPERATION_ID_JUNK.sub("_", f"{endpoint_name.replace('.', '_')}_{method}")
        candidate, number = base, 1
        while candidate in self.operation_ids:
            number += 1
            candidate = f"{base}_{number}"
        self.operation_ids.add(candidate)
        return candidate

    # -- parameters ------------------------------------------------------------------------------

    def _parameters(
        self, endpoint: Endpoint, placeholders: tuple[Placeholder, ...]
    ) -> tuple[list[Schema], bool]:
        """The operation's parameters, and whether binding them can fail with a 422."""
        infos = [info for info in getattr(endpoint.plan, "params", ()) or () if _is_param(info)]
        path_infos = {_wire_name(info): info for info in infos if info.location == "path"}
        params: list[Schema] = []
        validates = False
        for placeholder in placeholders:
            param, coerced = self._path_parameter(placeholder, path_infos.get(placeholder.name))
            params.append(param)
            validates = validates or coerced
        seen = {("path", placeholder.name) for placeholder in placeholders}
        for info in infos:
            key = (info.location, _wire_name(info))
            if info.location != "path" and key not in seen:
                seen.add(key)
                params.append(self._parameter(info))
                validates = True
        return params, validates

    def _path_parameter(self, placeholder: Placeholder, info: Any) -> tuple[Schema, bool]:
        """A placeholder's parameter, and whether the handler coerces its text (can 422).

        Typed converters (int, float, uuid, custom) refuse bad text with a 404 instead.
        """
        annotation = getattr(info, "annotation", _EMPTY)
        converter = placeholder.converter
        text = annotation in (str, Any, _EMPTY, None) if _hashable(annotation) else False
        coerced = converter in _TEXT_CONVERTERS and not text
        if converter in _CONVERTER_SCHEMAS and not coerced:
            schema = dict(_CONVERTER_SCHEMAS[converter])
        elif text:
            schema = {"type": "string"}
        else:
            schema = self.registry.schema(annotation)
        param: Schema = {"name": placeholder.name, "in": "path", "required": True, "schema": schema}
        return _describe(param, info), coerced

    def _body_schema(self, annotation: Any) -> Schema:
        if not isinstance(annotation, Mapping):
            return self.registry.schema(annotation)
        # Form fields read one by one: a mapping of field name -> field (with `annotation`,
        # `default` and, for repeated fields, `many`) or -> plain annotation (required).
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for key, field in annotation.items():
            has_default = hasattr(field, "default")
            default = getattr(field, "default", _EMPTY)
            kind = getattr(field, "annotation", _EMPTY if has_default else field)
            schema = self._value_schema(kind, required=default is _EMPTY, default=default)
            if getattr(field, "many", False) is True and schema.get("type") != "array":
                schema = {"type": "array", "items": schema} if schema else {"type": "array"}
            properties[str(key)] = schema
            if default is _EMPTY:
                required.append(str(key))
        body: Schema = {"type": "object", "properties": properties}
        if required:
            body["required"] = required
        return body

    def _value_schema(self, annotation: Any, *, required: bool, default: Any) -> Schema:
        schema = self.registry.schema(annotation)
        if required:
            return schema
        if default is None:
            # NOTE: ``x: int | None = None``: the plan may strip Optional; the None default
            # says the same thing.
            schema = self.registry.nullable(schema)
        found, value = _json_default(default, schema)
        return {**schema, "default": value} if found else schema

    def _parameter(self, info: Any) -> Schema:
        required = bool(getattr(info, "required", False))
        schema = self._value_schema(
            getattr(info, "annotation", _EMPTY),
            required=required,
            default=getattr(info, "default", _EMPTY),
        )
        param: Schema = {
            "name": _wire_name(info),
            "in": info.location,
            "required": required,
            "schema": schema,
        }
        return _describe(param, info)

    # -- responses -------------------------------------------------------------------------------

    def _responses(
        self, endpoint: Endpoint, *, validates: bool, templated: bool, media_types: list[str]
    ) -> Schema:
        plan = endpoint.plan
        declared = getattr(plan, "status_code", None)
        model = _response_model(endpoint)
        status = declared or (204 if model is _NONE_TYPE else 200)
        success: Schema = {"description": _description(status)}
        content = None if status in _NO_CONTENT else self._content(model)
        if content is not None:
            success["content"] = content
        responses: dict[int, Schema] = {status: success}
        if templated:
            responses.setdefault(404, _text_error(404))
        for code in self.auth_statuses:
            responses.setdefault(code, _text_error(code))
        if media_types:
            if any(is_json_media_type(media) for media in media_types):
                responses.setdefault(400, _text_error(400))
            responses.setdefault(413, _text_error(413))
            responses.setdefault(415, _text_error(415))
        if validates:
            self.uses_error = True
            responses.setdefault(
                422,
                {
                    "description": _DESCRIPTIONS[422],
                    "content": {"application/json": {"schema": self.error_ref}},
                },
            )
        return {str(code): responses[code] for code in sorted(responses)}

    def _content(self, model: Any) -> Schema | None:
        if model is None or model is _NONE_TYPE:
            return None
        if isinstance(model, type) and issubclass(model, Response):
            return None
        if model is str:
            return {"text/plain": {"schema": {"type": "string"}}}
        if model is bytes or model is bytearray:
            return {"application/octet-stream": {}}
        return {"application/json": {"schema": self.registry.schema(model)}}

    # -- assembly --------------------------------------------------------------------------------

    def document(self, app: DocumentedApp) -> dict[str, Any]:
        self.registry.resolve()
        schemas = self.registry.components
        if self.uses_error:
            name = "ValidationError"
            while name in schemas:
                name = f"Flasgo{name}"
            schemas[name] = VALIDATION_ERROR_SCHEMA
            self.error_ref["$ref"] = REF_PREFIX + name
        settings = app.settings
        document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": api_info(app)}
        if settings.API_SERVERS:
            document["servers"] = [{"url": url} for url in settings.API_SERVERS]
        document["paths"] = {
            template: {method: item[method] for method in _METHODS if method in item}
            for template, item in self.paths.items()
            if item
        }
        components: dict[str, Any] = {}
        if schemas:
            components["schemas"] = {name: schemas[name] for name in sorted(schemas)}
        if security := security_schemes(app):
            components["securitySchemes"] = security
        if components:
            document["components"] = components
        if self.tags:
            document["tags"] = [{"name": tag} for tag in self.tags]
        # NOTE: one JSON round trip: shared placeholders become independent trees, and anything
        # that is not JSON fails here rather than in a client.
        result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(document))
        return result


# -- small pieces ---------------------------------------------------------------------------------


def _is_param(info: Any) -> bool:
    return getattr(info, "location", None) in _LOCATIONS and bool(getattr(info, "name", ""))


def _wire_name(info: Any) -> str:
    return str(getattr(info, "alias", None) or info.name)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _describe(param: Schema, info: Any) -> Schema:
    description = getattr(info, "description", None)
    if isinstance(description, str) and description:
        param["description"] = description
    return param


def _json_default(value: Any, schema: Schema) -> tuple[bool, Any]:
    """The parameter's default as JSON, when it has one worth showing."""
    if value is _EMPTY or value is Ellipsis:
        return False, None
    if value is None:
        return not schema or accepts_null(schema), None
    try:
        return True, msgspec.to_builtins(value, str_keys=True)
    except Exception:
        return False, None


def _media_types(body: Any) -> list[str]:
    return [str(getattr(body, "media_type", None) or "application/json")]


def _text_error(status: int) -> Schema:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }


def _description(status: int) -> str:
    if status in _DESCRIPTIONS and status < 400:
        return _DESCRIPTIONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Response"


def _tag(endpoint: Endpoint) -> str | None:
    """The innermost blueprint's name as registered (``register_blueprint(name=...)`` wins)."""
    depth = len(endpoint.scopes) - 1
    if depth < 1:
        return None
    parts = endpoint.name.split(".")
    return parts[depth - 1] if len(parts) > depth else None


def _docstring(func: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.getdoc(func)
    if not doc:
        return "", ""
    summary, _, rest = doc.strip().partition("\n")
    return summary.strip(), rest.strip()


def _response_model(endpoint: Endpoint) -> Any:
    """The plan's response model; ``NoneType`` for a handler declared ``-> None``."""
    model = getattr(endpoint.plan, "response_model", None)
    if isinstance(model, str | typing.ForwardRef):
        return None  # a forward reference the handler compiler could not resolve
    if model is not None:
        return model
    # NOTE: the handler compiler already needed the signature, so this cannot fail here.
    returns = inspect.signature(endpoint.func).return_annotation
    return _NONE_TYPE if returns is None or returns == "None" else None
