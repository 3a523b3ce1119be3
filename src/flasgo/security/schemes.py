"""Validating OpenAPI Security Scheme Objects given to ``register_auth_backend``.

A scheme is checked when it is registered, so a typo fails at startup, not in the docs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from flasgo.exceptions import ConfigurationError

__all__ = ["validate_security_scheme"]

_COMMON: Final = frozenset({"type", "description"})
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "apiKey": _COMMON | {"name", "in"},
    "http": _COMMON | {"scheme", "bearerFormat"},
    "mutualTLS": _COMMON,
    "oauth2": _COMMON | {"flows"},
    "openIdConnect": _COMMON | {"openIdConnectUrl"},
}
# Each OAuth flow's URL fields: (required, optional).
_FLOWS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "implicit": (("authorizationUrl",), ("refreshUrl",)),
    "password": (("tokenUrl",), ("refreshUrl",)),
    "clientCredentials": (("tokenUrl",), ("refreshUrl",)),
    "authorizationCode": (("authorizationUrl", "tokenUrl"), ("refreshUrl",)),
}


def validate_security_scheme(name: str, scheme: Mapping[str, Any]) -> dict[str, Any]:
    """Check `scheme` and return a private copy of it.

    Raises:
        ConfigurationError: Not a mapping, an unknown ``type``, a missing or unknown field,
            a ``$ref`` anywhere (the scheme must be written inline), or a URL that is not
            absolute HTTPS.
    """
    where = f"openapi_scheme of auth backend {name!r}"
    if not isinstance(scheme, Mapping):
        raise ConfigurationError(f"{where} must be a dict (an OpenAPI Security Scheme Object).")
    _refuse_refs(scheme, where)
    kind = scheme.get("type")
    if kind not in _FIELDS:
        kinds = ", ".join(_FIELDS)
        raise ConfigurationError(f"{where}: type must be one of {kinds}; got {kind!r}.")
    _check_fields(scheme, _FIELDS[kind], where)
    _text(scheme, "description", where, required=False)
    if kind == "apiKey":
        _text(scheme, "name", where)
        if scheme.get("in") not in ("query", "header", "cookie"):
            raise ConfigurationError(f"{where}: 'in' must be 'query', 'header' or 'cookie'.")
    elif kind == "http":
        _text(scheme, "scheme", where)
        _text(scheme, "bearerFormat", where, required=False)
    elif kind == "openIdConnect":
        _https(scheme.get("openIdConnectUrl"), f"{where}: openIdConnectUrl")
    elif kind == "oauth2":
        _check_flows(scheme.get("flows"), where)
    return copy.deepcopy(dict(scheme))


def _refuse_refs(value: object, where: str) -> None:
    if isinstance(value, Mapping):
        if "$ref" in value:
            raise ConfigurationError(f"{where}: write the scheme inline; $ref is not allowed.")
        for item in value.values():
            _refuse_refs(item, where)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_refs(item, where)


def _check_fields(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in value:
        name: object = key
        if not isinstance(name, str) or (name not in allowed and not name.startswith("x-")):
            raise ConfigurationError(f"{where}: unknown field {key!r}.")


def _text(value: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> None:
    item = value.get(key)
    if item is None and not required:
        return
    if not isinstance(item, str) or not item:
        raise ConfigurationError(f"{where}: {key!r} must be a non-empty string.")


def _https(url: object, where: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise ConfigurationError(f"{where} must be an absolute https:// URL, got {url!r}.")


def _check_flows(flows: object, where: str) -> None:
    if not isinstance(flows, Mapping) or not flows:
        raise ConfigurationError(f"{where}: oauth2 needs a non-empty 'flows' object.")
    for flow_name, flow in flows.items():
        if flow_name not in _FLOWS and not str(flow_name).startswith("x-"):
            raise ConfigurationError(f"{where}: unknown OAuth flow {flow_name!r}.")
        if flow_name not in _FLOWS:
            continue
        if not isinstance(flow, Mapping):
            raise ConfigurationError(f"{where}: flow {flow_name!r} must be an object.")
        required, optional = _FLOWS[flow_name]
        _check_fields(flow, frozenset({*required, *optional, "scopes"}), where)
        for key in required:
            _https(flow.get(key), f"{where}: {flow_name}.{key}")
        for key in optional:
            if key in flow:
                _https(flow[key], f"{where}: {flow_name}.{key}")
        scopes = flow.get("scopes")
        if not isinstance(scopes, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in scopes.items()
        ):
            raise ConfigurationError(
                f"{where}: flow {flow_name!r} needs 'scopes', a map of scope name to description."
            )
