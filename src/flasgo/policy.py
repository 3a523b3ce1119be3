"""Policy snapshots: an app's security controls and per-route protections as versioned JSON.

`policy_snapshot` records what a reviewer wants pinned (hosts, CSRF, cookies, limits, the
failure throttle, SSRF, headers, and for each route its auth requirement, CSRF check and rate
limits), never a secret. `weakened` compares a snapshot kept in the repository with the app as
it is now and lists every control that became weaker; ``flasgo check --against FILE`` fails
on them, so a change that loosens security has to update the snapshot on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from flasgo.compiler import needs_csrf
from flasgo.exceptions import ConfigurationError
from flasgo.ratelimit import route_rules
from flasgo.security.auth import route_requirement
from flasgo.security.csrf import SAFE_METHODS

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.settings import Settings

__all__ = ["SCHEMA_VERSION", "PolicyApp", "policy_snapshot", "weakened"]


class PolicyApp(Protocol):
    """What a snapshot reads from the app (`Flasgo` is one)."""

    settings: Settings

    def iter_endpoints(self) -> Iterator[Endpoint]:
        """The registered endpoints."""
        ...


SCHEMA_VERSION: Final = 1

# Controls by the direction that is safer. Secrets (SECRET_KEY, tokens, REDIS_URL) never appear.
_SAFE_WHEN_TRUE: Final = (
    "CSRF_ENABLED",
    "ENFORCE_ALLOWED_HOSTS",
    "CSRF_CHECK_ORIGIN",
    "CSRF_REQUIRE_ORIGIN",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTP_ONLY",
    "ENFORCE_NO_STORE_CACHE",
    "LOG_SECURITY_EVENTS",
    "WEBSOCKET_ENFORCE_ORIGIN",
    "SSRF_ENABLED",
)
_SAFE_WHEN_FALSE: Final = (
    "DEBUG",
    "ENABLE_DOCS",
    "TRUST_INCOMING_REQUEST_ID",
    "WEBSOCKET_ALLOW_MISSING_ORIGIN",
    "SSRF_ALLOW_PRIVATE_NETWORKS",
    "SSRF_ALLOW_USERINFO",
    "SSRF_ALLOW_UNRESOLVABLE_HOSTS",
)
_SAFE_WHEN_LOWER: Final = (
    "MAX_REQUEST_BODY_BYTES",
    "MAX_REQUEST_HEAD_BYTES",
    "MAX_REQUEST_HEADERS",
    "MAX_URL_LENGTH",
    "REQUEST_READ_TIMEOUT_SECONDS",
    "MAX_MULTIPART_PARTS",
    "MAX_FILE_UPLOADS",
    "MAX_FORM_FIELDS",
    "MAX_FORM_MEMORY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_VALIDATION_DEPTH",
    "MAX_VALIDATION_WORK",
    "MAX_VALIDATION_ISSUES",
    "SESSION_COOKIE_MAX_AGE",
    "SECURITY_FAILURE_WINDOW_SECONDS",
    "WEBSOCKET_MAX_MESSAGE_BYTES",
    "WEBSOCKET_MAX_MESSAGES_PER_MINUTE",
)
_SAFE_WHEN_HIGHER: Final = ("HSTS_SECONDS",)
# A set that grows lets more in.
_SAFE_WHEN_SMALLER: Final = (
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "WEBSOCKET_ALLOWED_ORIGINS",
    "TRUSTED_PROXIES",
    "SSRF_ALLOWED_SCHEMES",
)
_OTHER: Final = (
    "SESSION_COOKIE_SAME_SITE",
    "SECURITY_FAILURE_RATE_LIMIT",
    "SSRF_ALLOWED_HOSTS",
    "SECURITY_HEADERS",
    "DOCS_AUTH_BACKEND",
)
_SAME_SITE_STRENGTH: Final = {"Strict": 2, "Lax": 1, "None": 0}


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, set | frozenset):
        return sorted(str(item) for item in value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def _permission(permission: Any) -> str:
    scope = getattr(permission, "scope", None)
    if isinstance(scope, str):
        return f"{type(permission).__name__}({scope})"
    if isinstance(permission, type) or not hasattr(permission, "has_permission"):
        return str(getattr(permission, "__qualname__", type(permission).__name__))
    return type(permission).__name__


def _route(app: PolicyApp, endpoint: Endpoint) -> dict[str, Any]:
    requirement = route_requirement(endpoint.func, endpoint.scopes)
    rules = route_rules(
        endpoint.func, endpoint.scopes, rule=endpoint.rule, websocket=endpoint.websocket
    )
    model = endpoint.plan.response_model
    return {
        "rule": endpoint.rule,
        "methods": sorted(endpoint.methods),
        "endpoint": endpoint.name,
        "websocket": endpoint.websocket,
        "auth": None
        if requirement is None
        else {
            "backend": requirement.backend,
            "permissions": [_permission(p) for p in requirement.permissions],
        },
        # Whether its unsafe methods are CSRF-checked (False for a route with only safe ones).
        "csrf": bool(
            app.settings.CSRF_ENABLED
            and not endpoint.websocket
            and not SAFE_METHODS.issuperset(endpoint.methods)
            and needs_csrf(endpoint, endpoint.scopes)
        ),
        "rate_limits": [
            {
                "requests": rule.requests,
                "window_seconds": rule.window_seconds,
                "scope": rule.scope,
                "keyed": rule.key_func is not None,
            }
            for rule in rules
        ],
        "response_model": None if model is None else getattr(model, "__name__", str(model)),
    }


def policy_snapshot(app: PolicyApp) -> dict[str, Any]:
    """Return the app's security policy as JSON-ready data (``schema_version`` 1).

    Holds the security controls from the settings and, for each route, its auth requirement,
    whether its unsafe methods are CSRF-checked, its rate limits and response model. No
    secret is included.
    """
    settings = app.settings
    names = (
        *_SAFE_WHEN_TRUE,
        *_SAFE_WHEN_FALSE,
        *_SAFE_WHEN_LOWER,
        *_SAFE_WHEN_HIGHER,
        *_SAFE_WHEN_SMALLER,
        *_OTHER,
    )
    controls = {name: _plain(getattr(settings, name)) for name in sorted(names)}
    routes = [_route(app, endpoint) for endpoint in app.iter_endpoints()]
    routes.sort(key=lambda route: (route["rule"], route["methods"], route["websocket"]))
    return {"schema_version": SCHEMA_VERSION, "controls": controls, "routes": routes}


def weakened(baseline: Any, current: Mapping[str, Any]) -> list[str]:
    """List every control or route protection weaker in `current` than in `baseline`.

    Raises:
        ConfigurationError: `baseline` is not a policy snapshot of a known schema version.
    """
    if not isinstance(baseline, Mapping) or baseline.get("schema_version") != SCHEMA_VERSION:
        raise ConfigurationError(
            f"Not a policy snapshot of schema_version {SCHEMA_VERSION}; write one with "
            "`flasgo routes TARGET --policy > policy.json`."
        )
    problems = _weaker_controls(baseline.get("controls", {}), current["controls"])
    problems.extend(_weaker_routes(baseline.get("routes", []), current["routes"]))
    return problems


def _weaker_controls(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:  # noqa: C901, PLR0912 - one branch per kind of control
    problems: list[str] = []
    for name, before in old.items():
        if name not in new:
            continue
        after = new[name]
        if before == after:
            continue
        worse = False
        if name in _SAFE_WHEN_TRUE:
            worse = before is True and after is False
        elif name in _SAFE_WHEN_FALSE:
            worse = before is False and after is True
        elif name in _SAFE_WHEN_LOWER:
            worse = _number(after) > _number(before)
        elif name in _SAFE_WHEN_HIGHER:
            worse = _number(after) < _number(before)
        elif name in _SAFE_WHEN_SMALLER:
            worse = bool(set(after) - set(before))
        elif name == "SSRF_ALLOWED_HOSTS":  # empty means any host
            worse = (bool(before) and not after) or bool(set(after) - set(before))
        elif name == "SECURITY_FAILURE_RATE_LIMIT":  # 0 switches the throttle off
            worse = bool(before) and (after == 0 or _number(after) > _number(before))
        elif name == "SESSION_COOKIE_SAME_SITE":
            worse = _SAME_SITE_STRENGTH.get(after, 0) < _SAME_SITE_STRENGTH.get(before, 0)
        elif name == "SECURITY_HEADERS":
            worse = bool(set(before) - set(after))
        elif name == "DOCS_AUTH_BACKEND":
            worse = before is not None and after is None
        if worse:
            problems.append(f"{name} weakened: {before!r} -> {after!r}")
    return problems


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("inf")


def _key(route: Mapping[str, Any]) -> tuple[str, tuple[str, ...], bool]:
    return route["rule"], tuple(route["methods"]), bool(route.get("websocket"))


def _weaker_routes(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[str]:
    current = {_key(route): route for route in new}
    problems: list[str] = []
    for before in old:
        after = current.get(_key(before))
        if after is None:
            continue  # a removed route exposes nothing
        where = f"{' '.join(before['methods'])} {before['rule']}"
        problems.extend(f"{where}: {problem}" for problem in _weaker_route(before, after))
    return problems


def _weaker_route(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    old_auth, new_auth = before.get("auth"), after.get("auth")
    if old_auth is not None:
        if new_auth is None:
            problems.append("authentication removed")
        else:
            if new_auth["backend"] != old_auth["backend"]:
                problems.append(
                    f"auth backend changed: {old_auth['backend']!r} -> {new_auth['backend']!r}"
                )
            dropped = [p for p in old_auth["permissions"] if p not in new_auth["permissions"]]
            if dropped:
                problems.append(f"permissions removed: {', '.join(dropped)}")
    if before.get("csrf") and not after.get("csrf"):
        problems.append("CSRF check removed")
    new_rules = after.get("rate_limits", [])
    problems.extend(
        f"rate limit {rule['requests']}/{rule['window_seconds']}s removed or loosened"
        for rule in before.get("rate_limits", [])
        if not any(_as_strict(new_rule, rule) for new_rule in new_rules)
    )
    return problems


def _as_strict(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    return (
        new.get("scope") == old.get("scope")
        and new.get("keyed") == old.get("keyed")
        and new["requests"] <= old["requests"]
        and new["window_seconds"] >= old["window_seconds"]
    )
