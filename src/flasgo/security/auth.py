"""Authentication and authorization: users, backends, permissions and the per-route guard.

A *backend* turns a request into a `User` (``callable(request) -> User | AuthResult | None``,
sync or async); a *permission* decides whether that user may use a route
(``has_permission(request, user)`` or a plain ``(request, user)`` callable, sync or async).
``@app.authorize(*permissions, backend=...)`` stores a `Requirement` on the handler function;
when the app freezes, `compile_guard` turns the route's requirement (plus its blueprints'
``permissions=``/``auth_backend=``) into a `Guard`: the backend and every permission are
resolved once, so a request only awaits them. Sync backends, permissions and user loaders run
in the app's thread pool, never on the event loop.

Outcomes: an anonymous user who is refused gets 401 (with ``WWW-Authenticate`` when the backend
gave a challenge), an authenticated one 403, a backend that raises 500. Every refusal is a
`Refusal` that leaves through `Pipeline.refuse`, which logs it and counts it for the throttle.

`request.user` (and the `flasgo.current_user` global) on a route without ``@authorize`` is
resolved lazily from the session (`login` stores the id), so routes that never look pay
nothing; see `load_user`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar, runtime_checkable

from flasgo.concurrency import ThreadPool, is_async_callable
from flasgo.exceptions import ConfigurationError, HTTPException, InternalServerError
from flasgo.security.events import log_security_event
from flasgo.security.refusal import Refusal
from flasgo.sessions.session import USER_ID_KEY
from flasgo.user import ANONYMOUS as _ANONYMOUS
from flasgo.user import AuthResult, User

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = [
    "FORBIDDEN",
    "UNAUTHORIZED",
    "AllowAny",
    "AuthBackend",
    "AuthRegistry",
    "AuthResult",
    "Guard",
    "HasScope",
    "IsAuthenticated",
    "Permission",
    "PermissionLike",
    "Refusal",
    "Requirement",
    "User",
    "authorize",
    "compile_guard",
    "is_scope_token",
    "load_user",
    "route_requirement",
]

error_log = logging.getLogger("flasgo.error")

UNAUTHORIZED: Final = "Authentication required. Provide valid credentials and retry."
FORBIDDEN: Final = (
    "Forbidden. The authenticated user does not have permission to access this route."
)
_SERVER_ERROR: Final = "Internal Server Error. Check the application logs for the original failure."

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE: Final = "__flasgo_authorize__"
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# OpenAPI component names (3.1 §4.8.7.1).
_COMPONENT_NAME = re.compile(r"[A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- values ----------------------------------------------------------------------------------


BackendResult = User | AuthResult | None
AuthBackend = Callable[["Request"], BackendResult | Awaitable[BackendResult]]
"""``backend(request)``: the user, an `AuthResult`, or None (anonymous); sync or async."""


@runtime_checkable
class Permission(Protocol):
    """A permission object: ``has_permission(request, user)`` returns a bool (or awaits one)."""

    def has_permission(self, request: Request, user: User) -> bool | Awaitable[bool]:
        """Whether `user` may use the route `request` is for."""
        ...


PermissionLike = Permission | Callable[["Request", User], bool | Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class AllowAny:
    """Everyone passes; the backend still runs, so `current_user` is known (optional auth)."""

    def has_permission(self, request: Request, user: User) -> bool:
        """Always True."""
        return True


@dataclass(frozen=True, slots=True)
class IsAuthenticated:
    """Only users a backend vouched for pass."""

    def has_permission(self, request: Request, user: User) -> bool:
        """Whether `user` is authenticated."""
        return user.is_authenticated


@dataclass(frozen=True, slots=True)
class HasScope:
    """Authenticated users granted `scope` pass.

    Raises:
        ConfigurationError: `scope` is not an RFC 6749 scope token.
    """

    scope: str

    def __post_init__(self) -> None:
        if not is_scope_token(self.scope):
            raise ConfigurationError(
                f"HasScope({self.scope!r}): a scope is one RFC 6749 token (printable ASCII, "
                "no spaces, quotes or backslashes)."
            )

    def has_permission(self, request: Request, user: User) -> bool:
        """Whether `user` is authenticated and holds the scope."""
        return user.is_authenticated and self.scope in user.scopes


_BUILTIN = (AllowAny, IsAuthenticated, HasScope)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def is_scope_token(value: object) -> bool:
    """Whether `value` is one RFC 6749 scope token."""
    return isinstance(value, str) and _SCOPE_TOKEN.fullmatch(value) is not None


# -- declaring requirements --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a route asks of its callers: every permission must pass, checked against the
    user `backend` finds. `kind` picks the log events (``"docs"`` for the API docs)."""

    permissions: tuple[PermissionLike, ...]
    backend: str = "default"
    kind: Literal["route", "docs"] = "route"


def authorize(*permissions: PermissionLike, backend: str = "default") -> Callable[[F], F]:
    """Protect a handler: the user `backend` finds must pass every permission.

    Works on either side of the route decorator (the requirement is stored on the function
    and read when the app starts). No permissions means `IsAuthenticated`. Applied twice, the
    permissions add up.

    Args:
        *permissions: Objects with ``has_permission(request, user)`` or ``(request, user)``
            callables, sync or async.
        backend: The name given to `Flasgo.register_auth_backend` (``"session"`` is built in;
            ``"default"`` finds nobody unless you register your own under that name).

    Raises:
        ConfigurationError: A permission is neither kind of object, or two ``authorize``
            calls on one handler name different backends.
    """
    checked = tuple(_checked_permission(p) for p in permissions) or (IsAuthenticated(),)
    if not _is_text(backend):
        raise ConfigurationError("authorize(backend=...) must name a registered auth backend.")

    def decorator(func: F) -> F:
        protect(func, Requirement(checked, backend))
        return func

    return decorator


def protect(func: Callable[..., Any], requirement: Requirement) -> None:
    """Attach `requirement` to `func` (adding to one already there)."""
    current: Requirement | None = getattr(func, _ATTRIBUTE, None)
    if current is not None:
        if current.backend != requirement.backend:
            raise ConfigurationError(
                f"{_label(func)} is authorized with backends {current.backend!r} and "
                f"{requirement.backend!r}; a route uses one backend."
            )
        requirement = Requirement(
            (*current.permissions, *requirement.permissions), current.backend, current.kind
        )
    try:
        setattr(func, _ATTRIBUTE, requirement)
    except (AttributeError, TypeError):
        raise ConfigurationError(
            f"authorize() cannot mark {func!r}; decorate a plain function."
        ) from None


def _checked_permission(permission: object) -> PermissionLike:
    if isinstance(permission, type):
        raise ConfigurationError(
            f"authorize() got the class {permission.__name__}; pass an instance "
            f"({permission.__name__}())."
        )
    if isinstance(permission, Permission) or callable(permission):
        return typing.cast(PermissionLike, permission)
    raise ConfigurationError(
        f"authorize() takes permission objects (with has_permission(request, user)) or "
        f"callables (request, user) -> bool, not {permission!r}."
    )


def route_requirement(func: Callable[..., Any], scopes: Sequence[object]) -> Requirement | None:
    """The requirement of a route: its scopes' ``permissions=`` (outermost first; blueprints
    have them), then its own ``@authorize``; the innermost backend named wins. None when
    unprotected."""
    own: Requirement | None = getattr(func, _ATTRIBUTE, None)
    permissions: list[PermissionLike] = []
    backend = "default"
    for scope in scopes:
        scope_permissions = getattr(scope, "permissions", None)
        scope_backend = getattr(scope, "auth_backend", None)
        if not (scope_permissions or scope_backend):
            continue
        permissions.extend(scope_permissions or (IsAuthenticated(),))
        backend = scope_backend or backend
    if own is None and not permissions:
        return None
    if own is not None:
        permissions.extend(own.permissions)
        backend = own.backend if own.backend != "default" else backend
    return Requirement(tuple(permissions), backend, own.kind if own is not None else "route")


# -- the registry ------------------------------------------------------------------------------


class AuthRegistry:
    """An app's auth backends, their OpenAPI security schemes and the session user loader."""

    def __init__(self) -> None:
        self.backends: dict[str, AuthBackend] = {
            "default": _nobody,
            "session": self._session_user,
        }
        self.schemes: dict[str, dict[str, Any]] = {}
        self.user_loader: Callable[[Any], Any] | None = None
        self._builtin = {"default", "session"}

    def register(
        self, name: str, backend: AuthBackend, openapi_scheme: Mapping[str, Any] | None
    ) -> None:
        """Add `backend` under `name` (see `Flasgo.register_auth_backend`)."""
        if not _is_text(name) or not _COMPONENT_NAME.fullmatch(name):
            raise ConfigurationError(
                f"Auth backend name {name!r} must be letters, digits, '.', '-' or '_'."
            )
        if not callable(backend):
            raise ConfigurationError(f"Auth backend {name!r} is not callable: {backend!r}")
        if name in self.backends and name not in self._builtin:
            raise ConfigurationError(f"An auth backend named {name!r} is already registered.")
        self._builtin.discard(name)
        self.backends[name] = backend
        if openapi_scheme is not None:
            from flasgo.security.schemes import validate_security_scheme

            self.schemes[name] = validate_security_scheme(name, openapi_scheme)
        else:
            self.schemes.pop(name, None)

    async def _session_user(self, request: Request) -> User | None:
        user_id = _session_user_id(request)
        if user_id is None:
            return None
        loader = self.user_loader
        if loader is None:
            return User(id=user_id, is_authenticated=True)
        if is_async_callable(loader):
            loaded = await loader(user_id)
        else:
            loaded = await request.app.thread_pool.run(loader, user_id)
        return _loaded_user(loaded)


async def _nobody(request: Request) -> None:
    return None


def _session_user_id(request: Request) -> str | int | None:
    # PERF: no session cookie, no session: nothing is parsed or verified.
    state = request.current_state
    loaded = state is not None and state.session is not None
    if not loaded and not request.app.has_session_cookie(request):
        return None
    user_id = request.session.get(USER_ID_KEY)
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        return None
    return user_id


def _loaded_user(loaded: object) -> User | None:
    if loaded is None or isinstance(loaded, User):
        return loaded
    raise TypeError(f"user_loader must return a User or None, got {type(loaded).__name__}")


def load_user(request: Request, loader: Callable[[Any], Any] | None) -> User:
    """The user of a route without ``@authorize``, on first use of `request.user`.

    No session cookie, or no id stored by `login`: anonymous. An id and no
    ``app.user_loader``: ``User(id=..., is_authenticated=True)``. With a loader, it is called
    here only off the event loop (sync handlers, hooks and dependencies run in the thread
    pool); on the loop it would block it, so this raises and says how to load the user before
    the handler instead.

    Raises:
        RuntimeError: A user loader would have to run on the event loop.
    """
    if loader is not None and (is_async_callable(loader) or _on_event_loop()):
        raise RuntimeError(
            "current_user needs app.user_loader, which cannot run lazily from async code. "
            "Load the user before the handler: decorate the route with "
            "@app.authorize(AllowAny(), backend='session') (or give the blueprint "
            "permissions=[AllowAny()], auth_backend='session'), or take a `user: User` "
            "parameter."
        )
    user_id = _session_user_id(request)
    if user_id is None:
        return _ANONYMOUS
    if loader is None:
        return User(id=user_id, is_authenticated=True)
    return _loaded_user(loader(user_id)) or _ANONYMOUS


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- the guard ---------------------------------------------------------------------------------

Check = Callable[["Request", User], Awaitable[bool]]


class Guard:
    """One endpoint's compiled requirement: awaits the backend, then each permission."""

    __slots__ = ("authenticate", "backend", "checks", "kind", "requirement")

    def __init__(
        self,
        requirement: Requirement,
        authenticate: Callable[[Request], Awaitable[Any]],
        checks: tuple[Check, ...],
    ) -> None:
        self.requirement = requirement
        self.backend = requirement.backend
        self.kind = requirement.kind
        self.authenticate = authenticate
        self.checks = checks

    async def check(self, request: Request) -> Refusal | None:
        """Find the user (stored as `request.user`) and check it; a refusal or None."""
        try:
            found = await self.authenticate(request)
            if inspect.isawaitable(found):
                found = await found
            user, challenge = _outcome(found)
        except Exception as exc:
            error_log.error("auth-backend-error backend=%s", self.backend, exc_info=exc)
            event = "docs-auth-backend-error" if self.kind == "docs" else "auth-backend-error"
            return Refusal(
                InternalServerError(_SERVER_ERROR),
                event,
                level=logging.ERROR,
                fields={"backend": self.backend, "error": type(exc).__name__},
            )
        request.state.user = user
        for check in self.checks:
            if not await self._allows(check, request, user):
                return self._deny(user, challenge)
        return None

    async def _allows(self, check: Check, request: Request, user: User) -> bool:
        try:
            allowed: object = await check(request, user)
            if inspect.isawaitable(allowed):
                allowed = await allowed
        except Exception as exc:
            error_log.error("permission-check-error backend=%s", self.backend, exc_info=exc)
            log_security_event("permission-check-error", request, level=logging.ERROR)
            return False
        if not isinstance(allowed, bool):
            # SECURITY: fail closed; a forgotten `await` or a truthy object is not a yes.
            error_log.error(
                "permission-check-error: a permission returned %s, not a bool",
                type(allowed).__name__,
            )
            log_security_event("permission-check-error", request, level=logging.ERROR)
            return False
        return allowed

    def _deny(self, user: User, challenge: str | None) -> Refusal:
        event = "docs-auth-failed" if self.kind == "docs" else "permission-denied"
        if user.is_authenticated:
            return Refusal(HTTPException(403, FORBIDDEN), event)
        headers = {"www-authenticate": challenge} if challenge else None
        return Refusal(HTTPException(401, UNAUTHORIZED, headers), event)


def _outcome(found: object) -> tuple[User, str | None]:
    if found is None:
        return _ANONYMOUS, None
    if isinstance(found, User):
        return found, None
    if isinstance(found, AuthResult):
        return found.user or _ANONYMOUS, found.challenge
    raise TypeError(
        f"An auth backend returned {type(found).__name__}; return a User, an AuthResult or None."
    )


def compile_guard(
    registry: AuthRegistry,
    pool: ThreadPool,
    *,
    func: Callable[..., Any],
    scopes: Sequence[object],
    rule: str,
    websocket: bool = False,
) -> Guard | None:
    """Build a route's guard once, at startup (None for a route that needs none).

    A route without a requirement still gets an `AllowAny` session guard when it takes a
    `User` parameter and the app has a user loader, so the loader runs before the handler.

    Raises:
        ConfigurationError: The backend is not registered.
    """
    requirement = route_requirement(func, scopes)
    if requirement is None:
        if registry.user_loader is None or not _takes_user(func):
            return None
        requirement = Requirement((AllowAny(),), "session")
    backend = registry.backends.get(requirement.backend)
    if backend is None:
        known = ", ".join(sorted(registry.backends))
        raise ConfigurationError(
            f"Route {rule!r} uses auth backend {requirement.backend!r}, which is not "
            f"registered (known: {known}); call app.register_auth_backend("
            f"{requirement.backend!r}, ...) before the first request."
        )
    checks = tuple(_compile_check(pool, p) for p in requirement.permissions)
    return Guard(requirement, _compile_call(pool, backend), checks)


def _compile_call(
    pool: ThreadPool, func: Callable[..., Any]
) -> Callable[[Request], Awaitable[Any]]:
    if is_async_callable(func):
        return typing.cast("Callable[[Request], Awaitable[Any]]", func)

    def in_thread(request: Request) -> Awaitable[Any]:
        return pool.run(func, request)

    return in_thread


def _compile_check(pool: ThreadPool, permission: PermissionLike) -> Check:
    if isinstance(permission, _BUILTIN):
        inline = permission.has_permission

        # PERF: the built-ins are pure attribute checks: run them on the loop, no thread hop.
        async def builtin(request: Request, user: User) -> bool:
            return inline(request, user)

        return builtin
    target = typing.cast("Callable[..., Any]", getattr(permission, "has_permission", permission))
    if is_async_callable(target):
        return typing.cast(Check, target)

    def in_thread(request: Request, user: User) -> Awaitable[Any]:
        return pool.run(target, request, user)

    return in_thread


def _takes_user(func: Callable[..., Any]) -> bool:
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        return False
    hints.pop("return", None)
    return any(isinstance(kind, type) and issubclass(kind, User) for kind in hints.values())


def _label(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", func))
