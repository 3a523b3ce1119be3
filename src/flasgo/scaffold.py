"""What `Flasgo` and `Blueprint` share: route decorators, hooks and error-handler registration.

Registration only records; the app compiles the records into routes and per-endpoint hook
chains (see `flasgo.app`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flasgo.exceptions import ConfigurationError
from flasgo.params import Depends

if TYPE_CHECKING:
    from flasgo.security.auth import PermissionLike
from flasgo.ratelimit import RateLimitRule, rate_limit

__all__ = ["ROUTE_OPTIONS", "RouteRecord", "Scaffold"]

F = TypeVar("F", bound=Callable[..., Any])
ErrorKey = type[BaseException] | int


ROUTE_OPTIONS = frozenset(
    {"response_model", "status_code", "dependencies", "include_in_schema", "csrf", "cors"}
)
"""The options a route accepts besides ``methods`` and ``name``; add a new one here."""


def _check_options(rule: str, options: dict[str, Any]) -> None:
    """Refuse an option no layer reads (``method=``, ``status=``): it would be ignored."""
    unknown = sorted(set(options) - ROUTE_OPTIONS)
    if not unknown:
        return
    from difflib import get_close_matches

    name = unknown[0]
    close = get_close_matches(name, [*ROUTE_OPTIONS, "methods", "name"], n=1)
    hint = f"; did you mean {close[0]}=?" if close else ""
    raise TypeError(
        f"Unknown route option {name}= for {rule!r}{hint} Route options are methods=, name=, "
        f"{', '.join(f'{o}=' for o in sorted(ROUTE_OPTIONS))}."
    )


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """A route as declared, before prefixes and blueprint names are applied."""

    rule: str
    methods: tuple[str, ...]
    func: Callable[..., Any]
    name: str
    websocket: bool = False
    options: dict[str, Any] = field(default_factory=dict)


class Scaffold:
    """Route and hook registration shared by the app and blueprints."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.before_request_funcs: list[Callable[..., Any]] = []
        self.after_request_funcs: list[Callable[..., Any]] = []
        self.teardown_request_funcs: list[Callable[..., Any]] = []
        self.error_handlers: dict[ErrorKey, Callable[..., Any]] = {}
        # Depends(...) run before every route of this scope (values not passed).
        self.dependencies: tuple[Depends, ...] = ()
        # Rate limits applied to every route of this scope (each route has its own bucket).
        self.rate_limits: tuple[RateLimitRule, ...] = ()

    # -- routes -------------------------------------------------------------------------------

    def _record(self, record: RouteRecord) -> None:
        raise NotImplementedError

    def _check_setup(self) -> None:
        """Raise when registration is no longer allowed."""

    def add_route(
        self,
        rule: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        """Register `endpoint` for `rule` and `methods` (GET by default).

        Args:
            rule: A path rule such as ``/users/<int:user_id>``.
            endpoint: The handler, sync or async.
            methods: HTTP methods, e.g. ``["GET", "POST"]``.
            name: Endpoint name for `url_for`; defaults to the function's name.
            **options: Route options: ``response_model=`` (the return value is validated
                into it), ``status_code=``, ``dependencies=[Depends(...)]`` (run, values not
                passed), and options kept for later layers (security, docs).
        """
        if isinstance(methods, str):
            raise TypeError(f"methods must be a list of method names, e.g. [{methods!r}]")
        _check_options(rule, options)
        if not callable(endpoint):
            raise TypeError(f"The endpoint for {rule!r} is not callable: {endpoint!r}")
        self._check_setup()
        method_list = tuple(m.upper() for m in (methods if methods is not None else ("GET",)))
        self._record(
            RouteRecord(rule, method_list, endpoint, name or endpoint.__name__, False, options)
        )

    def route(
        self,
        rule: str,
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[F], F]:
        """Decorator form of `add_route`."""

        def decorator(func: F) -> F:
            self.add_route(rule, func, methods=methods, name=name, **options)
            return func

        return decorator

    def get(self, rule: str, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a GET (and automatic HEAD) handler."""
        return self.route(rule, methods=("GET",), name=name, **options)

    def post(self, rule: str, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a POST handler."""
        return self.route(rule, methods=("POST",), name=name, **options)

    def put(self, rule: str, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a PUT handler."""
        return self.route(rule, methods=("PUT",), name=name, **options)

    def patch(self, rule: str, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a PATCH handler."""
        return self.route(rule, methods=("PATCH",), name=name, **options)

    def delete(self, rule: str, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a DELETE handler."""
        return self.route(rule, methods=("DELETE",), name=name, **options)

    def add_websocket_route(
        self,
        rule: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        **options: Any,
    ) -> None:
        """Register a WebSocket handler; it receives the `WebSocket` and the path values."""
        self._check_setup()
        self._record(RouteRecord(rule, (), endpoint, name or endpoint.__name__, True, options))

    def websocket(self, rule: str, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Decorator form of `add_websocket_route`."""

        def decorator(func: F) -> F:
            self.add_websocket_route(rule, func, name=name, **options)
            return func

        return decorator

    def ratelimit(
        self,
        requests: int,
        per: float = 60.0,
        *,
        scope: str | None = None,
        key_func: Callable[..., Any] | None = None,
    ) -> Callable[[F], F]:
        """Limit a handler to `requests` per `per` seconds for each client: `rate_limit`."""
        return rate_limit(requests, per, scope=scope, key_func=key_func)

    def authorize(self, *permissions: PermissionLike, backend: str = "default") -> Callable[[F], F]:
        """Protect a handler (either decorator order works); see `flasgo.security.auth`.

        Args:
            *permissions: Permission objects or ``(request, user)`` callables, sync or
                async; none means `IsAuthenticated`.
            backend: A name given to ``register_auth_backend`` (``"session"`` is built in).
        """
        from flasgo.security.auth import authorize

        protect = authorize(*permissions, backend=backend)

        def decorator(func: F) -> F:
            protected = protect(func)
            self._routes_changed()  # the OpenAPI document shows the requirement
            return protected

        return decorator

    def _routes_changed(self) -> None:
        """Note that the routes' documented shape changed (the app drops its OpenAPI cache)."""

    # -- hooks --------------------------------------------------------------------------------

    def before_request(self, func: F) -> F:
        """Run `func()` (or `func(request)`) before each handler; a non-None result is the
        response and the handler is skipped."""
        self._check_setup()
        self.before_request_funcs.append(func)
        return func

    def after_request(self, func: F) -> F:
        """Run `func(response)` (or `func(request, response)`) on each response; it must
        return the response (the same or a new one)."""
        self._check_setup()
        self.after_request_funcs.append(func)
        return func

    def teardown_request(self, func: F) -> F:
        """Run `func(exc)` after each request, even when it failed (`exc` is None on success)."""
        self._check_setup()
        self.teardown_request_funcs.append(func)
        return func

    def errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """Handle an exception class (and its subclasses) or an HTTP status code.

        The handler is called as `handler(exc)` (or `handler(request, exc)`) and its return
        value becomes the response.
        """

        def decorator(func: F) -> F:
            self.register_error_handler(key, func)
            return func

        return decorator

    def register_error_handler(self, key: ErrorKey, func: Callable[..., Any]) -> None:
        """Non-decorator form of `errorhandler`."""
        self._check_setup()
        if isinstance(key, int) and not isinstance(key, bool):
            if not 400 <= key <= 599:
                raise ConfigurationError(
                    f"errorhandler({key}) needs an error status code (400-599)."
                )
        elif not (isinstance(key, type) and issubclass(key, BaseException)):
            raise ConfigurationError(
                f"errorhandler() takes an exception class or a status code, not {key!r}."
            )
        self.error_handlers[key] = func
