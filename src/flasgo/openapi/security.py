"""The OpenAPI document's security: ``securitySchemes`` and each operation's ``security``,
with the 401/403 responses of protected routes. Schemes are validated when registered
(`flasgo.security.schemes`)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from flasgo.security.schemes import validate_security_scheme

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.openapi.documented import DocumentedApp

__all__ = ["operation_security", "security_schemes", "validate_security_scheme"]


def security_schemes(app: DocumentedApp) -> dict[str, Any]:
    """``components.securitySchemes``: every registered backend's scheme, by backend name."""
    schemes = app.auth.schemes
    return {name: copy.deepcopy(schemes[name]) for name in sorted(schemes)}


def operation_security(
    app: DocumentedApp, endpoint: Endpoint
) -> tuple[list[Any] | None, tuple[int, ...]]:
    """The operation's ``security`` (None to leave it out) and its auth error statuses."""
    from flasgo.security.auth import AllowAny, HasScope, route_requirement

    requirement = route_requirement(endpoint.func, endpoint.scopes)
    if requirement is None:
        return None, ()
    optional = all(isinstance(p, AllowAny) for p in requirement.permissions)
    statuses: tuple[int, ...] = () if optional else (401, 403)
    if requirement.backend not in app.auth.schemes:
        return None, statuses
    scopes = sorted({p.scope for p in requirement.permissions if isinstance(p, HasScope)})
    security: list[Any] = [{requirement.backend: scopes}]
    if optional:
        security.append({})  # NOTE: an empty requirement: calling without credentials is fine
    return security, statuses
