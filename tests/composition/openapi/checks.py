"""Structural checks of an OpenAPI 3.1 document, shared by the OpenAPI tests."""

from __future__ import annotations

import re
from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

_TEMPLATE_NAME = re.compile(r"\{([^}/]+)\}")
_TOP_LEVEL = {
    "openapi",
    "info",
    "jsonSchemaDialect",
    "servers",
    "paths",
    "webhooks",
    "components",
    "security",
    "tags",
    "externalDocs",
}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"unresolved $ref {ref}"
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def assert_valid_openapi(document: dict[str, Any]) -> None:
    """Fail unless `document` is a well-formed OpenAPI 3.1 document.

    The validator checks the document against the 3.1 meta-schema; the rest are rules it does
    not enforce: every ``$ref`` resolves, operationIds are unique, and each path template's
    names are exactly its operations' path parameters.
    """
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"] == "3.1.0"
    assert {"title", "version"} <= document["info"].keys()
    assert set(document) <= _TOP_LEVEL
    for ref in _refs(document):
        _resolve(document, ref)
    operation_ids: list[str] = []
    for template, item in document["paths"].items():
        assert template.startswith("/")
        names = _TEMPLATE_NAME.findall(template)
        assert len(names) == len(set(names)), template
        assert set(item) <= _METHODS, template
        for operation in item.values():
            operation_ids.append(operation["operationId"])
            assert re.fullmatch(r"[A-Za-z0-9_]+", operation["operationId"])
            params = operation.get("parameters", [])
            keys = [(param["in"], param["name"]) for param in params]
            assert len(keys) == len(set(keys)), (template, keys)
            path_names = [param["name"] for param in params if param["in"] == "path"]
            assert sorted(path_names) == sorted(names), template
            assert all(p["required"] for p in params if p["in"] == "path")
            assert operation["responses"], template
    assert len(operation_ids) == len(set(operation_ids))
