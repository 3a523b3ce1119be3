"""`Flasgo`: the registration API, the request pipeline compiled once, and the ASGI entry.

A request's path through this module: `__call__` -> `_handle_http` (route match, automatic
HEAD/OPTIONS, 404/405) -> `_dispatch` (before hooks, bound handler, return coercion, after
hooks; one `try` turns errors into responses) -> `_send` (prebuilt header block) -> teardown.
Everything that can be decided at startup is decided in `_freeze`, which runs once, on the
first request or at lifespan startup; registration after that is an error.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import chain
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import msgspec

from flasgo.concurrency import ThreadPool, is_async_callable
from flasgo.context import RequestBinding, find_request, request_binding
from flasgo.deadlines import ReadDeadlines
from flasgo.dependencies import finish_request, override
from flasgo.exceptions import (
    BadRequest,
    ConfigurationError,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestHeaderFieldsTooLarge,
    SetupFrozenError,
    URITooLong,
)
from flasgo.handlers import HandlerPlan, compile_handler
from flasgo.jsonenc import encode_json
from flasgo.lifespan import Lifespan
from flasgo.ratelimit import EndpointLimits, RateLimitBackend, Usage, install_rate_limits, stamp
from flasgo.request import Request
from flasgo.request_id import RequestIds
from flasgo.response import JSON, TEXT, RedirectResponse, Response, to_response
from flasgo.routing import Converter, Router, RuleEntry, parse_rule
from flasgo.scaffold import RouteRecord, Scaffold, hook_arity
from flasgo.security.auth import AuthRegistry, compile_guard, refuse
from flasgo.security.checks import check_startup
from flasgo.security.csp import NONCE_KEY, apply_nonce
from flasgo.security.csrf import SAFE_METHODS, CSRFFailed, CSRFProtection, is_exempt
from flasgo.security.events import log_security_event
from flasgo.security.hosts import HostValidator
from flasgo.security.proxy import ProxyResolver
from flasgo.security.throttle import SecurityFailureThrottle
from flasgo.sessions import CookieSessions, ServerSideSessions, Session, SessionBackend
from flasgo.sessions.session import SessionTooLarge, mark_private
from flasgo.settings import Settings

if TYPE_CHECKING:
    from flasgo.blueprints import Blueprint
    from flasgo.security.auth import AuthBackend, Guard
    from flasgo.security.outbound import SafeHTTPClient
    from flasgo.security.ssrf import SSRFGuard, SSRFResolvedURL
    from flasgo.testing import TestClient

__all__ = ["Flasgo", "RouteInfo"]

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
Hook = Callable[..., Awaitable[Any]]
Block = list[tuple[bytes, bytes]]

error_log = logging.getLogger("flasgo.error")
request_log = logging.getLogger("flasgo.request")

# Bad input worth a log line (404/405 are ordinary traffic and are not logged).
_LOGGED_CLIENT_ERRORS = frozenset({400, 408, 411, 413, 414, 415, 422, 429, 431})

_BAD_HOST = (
    "Invalid Host header. Send a Host value in ALLOWED_HOSTS or update settings.ALLOWED_HOSTS."
)
_HEAD_TOO_LARGE = "Request headers exceed MAX_REQUEST_HEAD_BYTES."
_NOT_FOUND = "No route matches {path!r}. Check the URL or register a handler for this path."
_NO_STORE = (
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
)


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """A registered route, as listed by `Flasgo.url_map` and ``flasgo routes``."""

    rule: str
    methods: tuple[str, ...]
    endpoint: str
    websocket: bool


class Endpoint:
    """A compiled route target: the handler plan plus its hook chains and error handlers."""

    __slots__ = (
        "after",
        "before",
        "csrf",
        "error_handlers",
        "guard",
        "methods",
        "name",
        "plan",
        "rate_limits",
        "record",
        "rule",
        "scopes",
        "simple",
        "teardown",
    )

    def __init__(
        self,
        name: str,
        plan: HandlerPlan,
        scopes: tuple[Scaffold, ...],
        record: RouteRecord,
        rule: str = "",
        methods: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.plan = plan
        self.scopes = scopes
        self.record = record
        self.rule = rule
        self.methods = methods
        self.before: tuple[Hook, ...] = ()
        self.after: tuple[Hook, ...] = ()
        self.teardown: tuple[Hook, ...] = ()
        self.error_handlers: tuple[dict[Any, Hook], ...] = ()
        self.simple = False
        # The route's compiled auth requirement (security/auth.py), or None.
        self.guard: Guard | None = None
        # The route's compiled rate limits (ratelimit.py), or None: no per-request cost.
        self.rate_limits: EndpointLimits | None = None
        # Whether unsafe methods pass the CSRF check; decided once in `_freeze`.
        self.csrf = True


class Flasgo(Scaffold):
    """The application: an ASGI 3 callable with Flask-style registration.

    Args:
        settings: A `Settings`, a mapping of setting keys, a dotted module path whose
            UPPERCASE attributes are settings, or an object with UPPERCASE attributes.
            ``FLASGO_*`` environment variables fill keys the source does not set.
        name: A name for logs and the CLI; defaults to ``"flasgo"``.
        session_backend: Where sessions live; signed cookies by default, server-side in
            Redis when ``REDIS_URL`` is set (see `flasgo.sessions`).
        rate_limiter: Where ``@app.ratelimit`` counters live; in memory by default, in Redis
            when ``REDIS_URL`` is set (see `flasgo.ratelimit`).
        security_throttle: Replaces the throttle built from the ``SECURITY_FAILURE_*``
            settings (see `flasgo.security.throttle`).
    """

    def __init__(
        self,
        settings: Settings | Mapping[str, Any] | str | object | None = None,
        *,
        name: str = "flasgo",
        session_backend: SessionBackend | None = None,
        rate_limiter: RateLimitBackend | None = None,
        security_throttle: SecurityFailureThrottle | None = None,
    ) -> None:
        super().__init__(name)
        self._session_backend = session_backend
        self.rate_limiter = rate_limiter
        self._throttle = security_throttle
        self.settings: Settings = Settings.load(settings)
        self.state = SimpleNamespace()
        self.thread_pool = ThreadPool(self.settings.THREAD_POOL_SIZE)
        self.read_deadlines = ReadDeadlines()
        self._router: Router[Endpoint] = Router()
        self._ws_router: Router[Endpoint] = Router(auto_head=False, auto_options=False)
        self._endpoints: list[Endpoint] = []
        self._openapi: dict[str, Any] | None = None
        self._blueprint_names: set[str] = set()
        self._middleware: list[tuple[Callable[..., ASGIApp], tuple[Any, ...], dict[str, Any]]] = []
        self._lifespan = Lifespan(self)
        # Features that register their own routes once settings are final (e.g. API docs).
        self._installers: list[Callable[[Flasgo], None]] = []
        # Dependency replacements for tests (`override_dependencies`); empty in production.
        self._dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        if self.settings.ENABLE_DOCS:
            self._installers.append(_install_docs)
        self._frozen = False
        self._entry: ASGIApp | None = None
        self._direct = False
        self._fallback = Endpoint(
            "", compile_handler(_no_handler, {}), (self,), RouteRecord("", (), _no_handler, "")
        )
        self._base_blocks: tuple[Block, Block] = ([], [])
        self._base_names: frozenset[str] = frozenset()
        self._text_blocks: tuple[Block, Block, str] = ([], [], TEXT)
        self._json_blocks: tuple[Block, Block, str] = ([], [], JSON)
        self._limits = (0, 0, 0)
        self._host_validator: HostValidator | None = None
        self._proxy: ProxyResolver | None = None
        self._screening = False
        self.sessions: SessionBackend = CookieSessions(self.settings)
        self._preload_sessions = False
        self._refresh_sessions = False
        self._request_ids = RequestIds()
        # Auth backends, their OpenAPI schemes and the session user loader.
        self.auth = AuthRegistry()
        self.csrf: CSRFProtection | None = None

    # -- registration --------------------------------------------------------------------------

    def _check_setup(self) -> None:
        if self._frozen:
            raise SetupFrozenError(
                "The app already started serving requests; register routes, hooks, "
                "blueprints and middleware before the first request."
            )

    def _record(self, record: RouteRecord) -> None:
        self._register(record, prefix="", name_prefix="", scopes=(self,))

    def _register(
        self, record: RouteRecord, *, prefix: str, name_prefix: str, scopes: tuple[Scaffold, ...]
    ) -> None:
        rule = _join_rule(prefix, record.rule)
        name = f"{name_prefix}{record.name}"
        # The handler is compiled before the rule is added, so a bad handler leaves no trace.
        placeholders = parse_rule(rule).placeholders
        methods: tuple[str, ...]
        if record.websocket:
            from flasgo.websocket import compile_websocket_handler

            plan = compile_websocket_handler(record.func, tuple(p.name for p in placeholders))
            router, methods = self._ws_router, ("GET",)
        else:
            text_converters = ("str", "path")
            typed = {p.name: p.converter not in text_converters for p in placeholders}
            plan = compile_handler(
                record.func,
                typed,
                methods=record.methods,
                options=record.options,
                dependencies=[d for scope in scopes for d in scope.dependencies],
            )
            router, methods = self._router, record.methods
        endpoint = Endpoint(name, plan, scopes, record, rule, methods)
        router.add(rule, methods, endpoint, name=name)
        self._endpoints.append(endpoint)

    def register_blueprint(
        self,
        blueprint: Blueprint,
        *,
        url_prefix: str | None = None,
        name: str | None = None,
        csrf_exempt: bool = False,
    ) -> None:
        """Add a blueprint's routes, hooks and error handlers to the app.

        Args:
            blueprint: The blueprint (with its nested blueprints).
            url_prefix: Overrides the blueprint's own ``url_prefix``.
            name: Registers it under another name (to register one blueprint twice).
            csrf_exempt: Exempt every route of this registration from the CSRF check.
        """
        self._check_setup()
        first = len(self._endpoints)
        blueprint.register(
            self,
            url_prefix=url_prefix,
            name=name,
            parent_prefix="",
            parent_name="",
            parent_scopes=(self,),
        )
        if csrf_exempt:
            for endpoint in self._endpoints[first:]:
                endpoint.csrf = False

    def _claim_blueprint_name(self, dotted: str) -> None:
        if dotted in self._blueprint_names:
            raise ConfigurationError(
                f"A blueprint named {dotted!r} is already registered; pass name='...' to "
                "register it again under another name."
            )
        self._blueprint_names.add(dotted)

    def add_converter(self, name: str, converter: type[Converter]) -> None:
        """Make ``<name:param>`` available in rules, using `converter`."""
        self._check_setup()
        self._router.add_converter(name, converter)
        self._ws_router.add_converter(name, converter)

    def add_middleware(
        self, middleware: Callable[..., ASGIApp], *args: Any, **options: Any
    ) -> None:
        """Wrap the app in a pure ASGI middleware: ``middleware(app, *args, **options)``.

        The first added is the outermost. The chain is built once, at startup.
        """
        self._check_setup()
        self._middleware.append((middleware, args, options))

    def lifespan(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Register an async generator (or async context manager factory) taking the app:
        code before its ``yield`` runs at startup, code after it at shutdown."""
        self._check_setup()
        self._lifespan.add_context(func)
        return func

    def on_startup(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Run `func()` (sync or async) at startup."""
        self._check_setup()
        self._lifespan.startup.append(func)
        return func

    def on_shutdown(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Run `func()` (sync or async) at shutdown."""
        self._check_setup()
        self._lifespan.shutdown.append(func)
        return func

    def register_auth_backend(
        self,
        name: str,
        backend: AuthBackend,
        *,
        openapi_scheme: Mapping[str, Any] | None = None,
    ) -> None:
        """Make `backend` available to ``@app.authorize(backend=name)``.

        Args:
            name: The backend's name (also its OpenAPI security scheme name).
            backend: ``backend(request)`` returns a `User`, an `AuthResult` or None; sync
                (run in the thread pool) or async.
            openapi_scheme: An OpenAPI Security Scheme Object describing it in the document.

        Raises:
            ConfigurationError: A bad name, a name already taken, or an invalid scheme.
        """
        self._check_setup()
        self.auth.register(name, backend, openapi_scheme)

    def user_loader(self, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Register `func(user_id) -> User | None` (sync or async): the ``"session"`` backend
        and `current_user` turn the id stored by `login` into a user with it."""
        self._check_setup()
        self.auth.user_loader = func
        return func

    # -- introspection -------------------------------------------------------------------------

    @property
    def url_map(self) -> list[RouteInfo]:
        """Every route: HTTP ones first, then WebSocket ones, in registration order."""
        routes: list[RouteInfo] = []
        for entry in self._router:
            names: dict[str, list[str]] = {}
            for method, endpoint_name in entry.names.items():
                names.setdefault(endpoint_name, []).append(method)
            for endpoint_name, methods in names.items():
                shown = set(methods)
                if "GET" in shown:
                    shown.add("HEAD")
                shown.add("OPTIONS")
                routes.append(RouteInfo(entry.rule, tuple(sorted(shown)), endpoint_name, False))
        routes.extend(
            RouteInfo(entry.rule, (), next(iter(entry.names.values())), True)
            for entry in self._ws_router
        )
        return routes

    def override_dependencies(
        self, replacements: Mapping[Callable[..., Any], Callable[..., Any]]
    ) -> AbstractContextManager[None]:
        """Replace dependency providers inside a ``with`` block (for tests).

        ``with app.override_dependencies({get_db: fake_db}): ...`` makes every
        ``Depends(get_db)`` call ``fake_db`` instead (with its own parameters bound as usual).
        The replacements apply to the whole app, from any thread, until the block ends.
        """
        return override(self._dependency_overrides, replacements)

    def iter_endpoints(self) -> Iterator[Endpoint]:
        """The compiled endpoints, in registration order."""
        return iter(self._endpoints)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app's HTTP routes (see `flasgo.openapi`).

        Built once the app has started serving (routes can no longer change) and cached from
        then on; before that each call builds a fresh document. Treat the result as read-only.
        """
        if self._openapi is not None:
            return self._openapi
        from flasgo.openapi.schema import openapi_spec

        document = openapi_spec(self)
        if self._frozen:
            self._openapi = document
        return document

    def url_for(
        self,
        endpoint: str,
        /,
        *,
        _external: bool = False,
        _anchor: str | None = None,
        **values: Any,
    ) -> str:
        """Build the URL of `endpoint`; values that are not placeholders become the query.

        A leading ``.`` names an endpoint in the current request's blueprint.

        Raises:
            BuildError: Unknown endpoint or missing/invalid values.
        """
        request = find_request()
        if endpoint.startswith(".") and request is not None and request.blueprint:
            endpoint = f"{request.blueprint}{endpoint}"
        elif endpoint.startswith("."):
            endpoint = endpoint[1:]
        try:
            path = self._router.build(endpoint, values)
        except LookupError:
            path = (
                self._ws_router.build(endpoint, values)
                if _has_name(self._ws_router, endpoint)
                else self._router.build(endpoint, values)
            )
        if request is not None:
            path = request.root_path + path
            if _external:
                path = f"{request.scheme}://{request.host}{path}"
        if _anchor:
            from urllib.parse import quote

            path = f"{path}#{quote(_anchor, safe='')}"
        return path

    # -- outbound requests ---------------------------------------------------------------------

    _ssrf_guard: SSRFGuard | None = None

    @property
    def ssrf(self) -> SSRFGuard:
        """The `SSRFGuard` built from the ``SSRF_*`` settings, rebuilt if they change."""
        from flasgo.security.ssrf import SSRFConfig, SSRFGuard

        config = SSRFConfig.from_settings(self.settings)
        guard = self._ssrf_guard
        if guard is None or guard.config != config:
            guard = self._ssrf_guard = SSRFGuard(config)
        return guard

    def validate_outbound_url(self, url: str) -> str:
        """Check `url` against the SSRF rules without DNS; return it normalised.

        Raises:
            SSRFViolation: The URL breaks a rule (a `ValueError`).
        """
        return self.ssrf.validate_url(url)

    def resolve_outbound_url(self, url: str) -> SSRFResolvedURL:
        """Validate `url` and pin a checked address; blocks on DNS, so not on the event loop.

        Raises:
            SSRFViolation: The URL, or an address its host resolves to, is not allowed.
            RuntimeError: Called on a running event loop (use `aresolve_outbound_url`).
        """
        return self.ssrf.resolve_url(url)

    async def aresolve_outbound_url(self, url: str) -> SSRFResolvedURL:
        """Validate `url` and pin a checked address, resolving on the loop with a timeout.

        Raises:
            SSRFViolation: The URL, or an address its host resolves to, is not allowed.
        """
        return await self.ssrf.aresolve_url(url)

    def outbound_client(
        self,
        *,
        timeout: float = 10.0,
        max_redirects: int = 5,
        max_response_bytes: int = 10 * 1024 * 1024,
    ) -> SafeHTTPClient:
        """A `SafeHTTPClient` whose every hop, redirects included, passes `ssrf`."""
        from flasgo.security.outbound import SafeHTTPClient

        return SafeHTTPClient(
            self.ssrf,
            timeout=timeout,
            max_redirects=max_redirects,
            max_response_bytes=max_response_bytes,
        )

    # -- running -------------------------------------------------------------------------------

    def test_client(self, **options: Any) -> TestClient:
        """A `TestClient` for this app (use it in a ``with`` block to run lifespan)."""
        from flasgo.testing import TestClient

        return TestClient(self, **options)

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        reload: bool | None = None,
        workers: int | None = None,
        server: str = "uvicorn",
        **server_options: Any,
    ) -> None:
        """Serve the app (uvicorn by default) on `host`:`port`; for development and simple
        deployments. ``flasgo run`` does the same from the command line."""
        from flasgo.serving import serve

        serve(
            self,
            host=host,
            port=port,
            reload=reload,
            workers=workers,
            server=server,
            **server_options,
        )

    # -- compile once --------------------------------------------------------------------------

    def _freeze(self) -> ASGIApp:
        if self._entry is not None:
            return self._entry
        # SECURITY: one loud warning for a generated SECRET_KEY; an error with several workers.
        check_startup(self.settings)
        for install in self._installers:
            install(self)
        self._frozen = True
        self._build_header_blocks()
        for endpoint in [*self._endpoints, self._fallback]:
            _compile_chains(self, endpoint)
        closers = install_rate_limits(self, self._endpoints)
        if self._throttle is None:
            self._throttle = SecurityFailureThrottle.from_settings(self.settings)
            if self._throttle is not None:
                closers.append(self._throttle.close)
        # The shared-storage clients made here are closed at lifespan shutdown.
        self._lifespan.shutdown.extend(closers)
        self.csrf = CSRFProtection(self.settings) if self.settings.CSRF_ENABLED else None
        for endpoint in self._endpoints:
            endpoint.csrf = (
                self.csrf is not None
                and endpoint.csrf
                and not endpoint.record.websocket
                and not is_exempt(endpoint.record.func, endpoint.record.options)
                and not any(getattr(scope, "csrf_exempt", False) for scope in endpoint.scopes)
            )
        self._fallback.csrf = False
        entry: ASGIApp = self._asgi
        for middleware, args, options in reversed(self._middleware):
            entry = middleware(entry, *args, **options)
        self._entry = entry
        self._direct = not self._middleware
        return entry

    def _build_header_blocks(self) -> None:
        settings = self.settings
        base = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in settings.SECURITY_HEADERS.items()
        ]
        if settings.ENFORCE_NO_STORE_CACHE:
            base.extend(_NO_STORE)
        secure = list(base)
        if settings.HSTS_SECONDS:
            # HSTS only means something over HTTPS (RFC 6797 §7.2); preload is opt-in.
            hsts = f"max-age={settings.HSTS_SECONDS}"
            if settings.HSTS_INCLUDE_SUBDOMAINS:
                hsts += "; includeSubDomains"
            if settings.HSTS_PRELOAD:
                hsts += "; preload"
            secure.append((b"strict-transport-security", hsts.encode("latin-1")))
        # Index 0 for plain HTTP, 1 for HTTPS: `blocks[scheme == "https"]`.
        self._base_blocks = (base, secure)
        self._base_names = frozenset(name.decode("latin-1") for name, _ in secure)
        text, json = (b"content-type", TEXT.encode()), (b"content-type", JSON.encode())
        # A third entry names the content type, for the rare fall back to a Response.
        self._text_blocks = ([*base, text], [*secure, text], TEXT)
        self._json_blocks = ([*base, json], [*secure, json], JSON)
        self._limits = (
            settings.MAX_REQUEST_HEADERS,
            settings.MAX_REQUEST_HEAD_BYTES,
            settings.MAX_URL_LENGTH,
        )
        self._host_validator = (
            HostValidator(settings.ALLOWED_HOSTS) if settings.ENFORCE_ALLOWED_HOSTS else None
        )
        self._proxy = ProxyResolver(settings.TRUSTED_PROXIES) if settings.TRUSTED_PROXIES else None
        self._screening = True
        self.sessions = self._session_backend or _default_sessions(settings)
        # Server-side sessions need I/O to load, so they are loaded before the handler when
        # the cookie is there; signed cookies are verified lazily, on first use.
        self._preload_sessions = not isinstance(self.sessions, CookieSessions)
        self._refresh_sessions = settings.SESSION_REFRESH_EACH_REQUEST

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # PERF: with no middleware, HTTP goes straight to the pipeline (one call fewer).
        if self._direct and scope["type"] == "http":
            await self._handle_http(scope, receive, send)
            return
        entry = self._entry
        if entry is None:
            entry = self._freeze()
        await entry(scope, receive, send)

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._handle_http(scope, receive, send)
        elif kind == "websocket":
            from flasgo.websocket import handle_websocket

            await handle_websocket(self, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan.run(scope, receive, send)
        else:
            raise RuntimeError(f"Flasgo does not handle ASGI scope type {kind!r}.")

    async def _handle_http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._screening:
            if self._proxy is not None:
                scope = self._proxy.apply(scope)
            refusal = self._screen(scope)
            if refusal is not None:
                await self._refuse(scope, receive, send, refusal)
                return
        path: str = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        method: str = scope["method"]
        match = self._router.match(path)
        preset: Response | HTTPException | None = None
        if match is None:
            params: dict[str, Any] = {}
            endpoint, entry = self._fallback, None
            preset = self._not_found(path, scope)
        else:
            entry, params = match
            target = entry.targets.get(method)
            if target is None:
                target, preset = self._other_method(entry, method)
            endpoint = target
        request = Request(scope, receive, self, params, endpoint.name or None, entry)
        binding = RequestBinding(request)
        token = request_binding.set(binding)
        try:
            if self._preload_sessions and not await self._preload_session(request, send):
                return
            if (
                endpoint.csrf
                and method not in SAFE_METHODS
                and not await self._csrf_passes(request, endpoint, send)
            ):
                return
            if endpoint.simple and preset is None:
                await self._dispatch_simple(request, endpoint, params, send, method == "HEAD")
            else:
                await self._dispatch(request, endpoint, params, send, preset)
        finally:
            binding.release()
            request_binding.reset(token)
            request._close_files()  # NOTE: uploads live until the response was sent

    def _screen(self, scope: dict[str, Any]) -> tuple[HTTPException, str] | None:
        """Checks that run before routing: a throttled client, head and URL limits, then
        the Host allowlist."""
        throttle = self._throttle
        # PERF: `blocked` is empty unless some client went over the security-failure limit.
        if throttle is not None and throttle.blocked and (refused := throttle.screen(scope)):
            return refused
        headers = scope["headers"]
        max_headers, max_head, max_url = self._limits
        # PERF: sizes are measured with C-level joins, not a Python loop over the headers.
        if len(headers) > max_headers or (
            len(b"".join(chain.from_iterable(headers))) + 4 * len(headers) > max_head
        ):
            return RequestHeaderFieldsTooLarge(_HEAD_TOO_LARGE, {"connection": "close"}), (
                "request-head-too-large"
            )
        target = scope.get("raw_path") or scope["path"]
        if len(target) + len(scope.get("query_string", b"")) > max_url:
            return URITooLong("Request URL exceeds MAX_URL_LENGTH."), "url-too-long"
        validator = self._host_validator
        if validator is not None:
            hosts = [value for name, value in headers if name == b"host"]
            # PERF: hosts seen before answer from the validator's cache without a call.
            if len(hosts) != 1 or (
                hosts[0] not in validator.seen and not validator.is_allowed(hosts[0])
            ):
                return BadRequest(_BAD_HOST), "host-check-failed"
        return None

    async def _refuse(
        self, scope: dict[str, Any], receive: Any, send: Any, refusal: tuple[HTTPException, str]
    ) -> None:
        exc, event = refusal
        request = Request(scope, receive, self, {}, None, None)
        log_security_event(event, request, status=exc.status_code)
        # NOTE: a bad Host is a failed security check; oversized heads and URLs are limits.
        if event == "host-check-failed":
            exc = await self._security_failure(request) or exc
        body, content_type = exc.render()
        await self._send(send, Response(body, exc.status_code, exc.headers, content_type), request)

    async def _security_failure(self, request: Request) -> HTTPException | None:
        """Count a refused security check (bad Host, CSRF, 401/403) against the client.

        Call it once per refusal, then send what it returns instead of the refusal.

        Returns:
            The 429 (with ``Retry-After``) once the client is over
            ``SECURITY_FAILURE_RATE_LIMIT``, else None.
        """
        throttle = self._throttle
        return None if throttle is None else await throttle.register(request)

    async def _csrf_passes(self, request: Request, endpoint: Endpoint, send: Any) -> bool:
        """Run the CSRF check before hooks and handler; send the refusal and return False."""
        csrf = self.csrf
        assert csrf is not None  # endpoint.csrf is only set when it exists
        try:
            await csrf.check(request)
        except HTTPException as exc:  # CSRFFailed (403), or a form body that failed to read
            if isinstance(exc, CSRFFailed):
                csrf.refuse(request, exc)
                exc = await self._security_failure(request) or exc
            await self._send(send, await self._handle_exception(request, endpoint, exc), request)
            return False
        return True

    def _other_method(
        self, entry: RuleEntry[Endpoint], method: str
    ) -> tuple[Endpoint, Response | HTTPException | None]:
        """The path matched but `method` has no handler: automatic HEAD/OPTIONS, or 405."""
        if method == "HEAD" and "GET" in entry.targets:
            return entry.targets["GET"], None
        if method == "OPTIONS":
            return self._fallback, Response(b"", 204, {"allow": entry.allow})
        return self._fallback, MethodNotAllowed(
            f"Method Not Allowed. Use one of: {entry.allow}.", {"allow": entry.allow}
        )

    async def _preload_session(self, request: Request, send: Any) -> bool:
        """Load a server-side session before the handler; False when the store failed."""
        if not self.sessions.has_cookie(request):
            return True
        try:
            request._session = await self.sessions.load(request)
        except HTTPException as exc:  # a store outage: 503, before any handler ran
            await self._send(
                send, await self._handle_exception(request, self._fallback, exc), request
            )
            return False
        return True

    def _not_found(self, path: str, scope: dict[str, Any]) -> Response | HTTPException:
        if self.settings.REDIRECT_TRAILING_SLASH and path != "/":
            other = path[:-1] if path.endswith("/") else f"{path}/"
            if self._router.match(other) is not None:
                query = scope.get("query_string", b"")
                root = scope.get("root_path", "")
                location = f"{root}{other}" + (f"?{query.decode('latin-1')}" if query else "")
                return RedirectResponse(location, 308)
        shown = path if len(path) <= 200 else f"{path[:200]}..."
        return NotFound(_NOT_FOUND.format(path=shown))

    async def _dispatch_simple(
        self,
        request: Request,
        endpoint: Endpoint,
        params: dict[str, Any],
        send: Any,
        is_head: bool,
    ) -> None:
        # PERF: no hooks anywhere on this route: call, encode common return types, send.
        plan = endpoint.plan
        try:
            if plan.passthrough:
                kwargs = params
            elif plan.bind_async:
                kwargs = await plan.bind(request, params)
            else:
                kwargs = plan.bind(request, params)
            if plan.is_async:
                result = await plan.func(**kwargs)
            else:
                result = await self.thread_pool.run(plan.func, **kwargs)
            kind = type(result)
            if kind is str:
                body = result.encode("utf-8", "replace")
                blocks = self._text_blocks
            elif kind is dict or kind is list or isinstance(result, msgspec.Struct):
                body = encode_json(result)
                blocks = self._json_blocks
            else:
                await self._finish(request, plan, to_response(result), send, None)
                return
        except Exception as exc:
            response = await self._handle_exception(request, endpoint, exc)
            await self._finish(request, plan, response, send, exc)
            return
        if request._session is not None or self._refresh_sessions:
            # The session was used: finish through a Response so it can be saved.
            await self._finish(request, plan, Response(body, 200, None, blocks[2]), send, None)
            return
        headers = [
            *blocks[request.scope.get("scheme") == "https"],
            (b"content-length", str(len(body)).encode()),
        ]
        # PERF: only a request that made a request id, a CSRF token or a CSP nonce pays more.
        if (
            request._request_id is not None
            or request._csrf is not None
            or NONCE_KEY in request.scope
        ):
            self._add_simple_headers(request, headers)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if is_head else body})
        if plan.defers:
            await finish_request(request, None)

    def _add_simple_headers(self, request: Request, headers: Block) -> None:
        if (nonce := request.scope.get(NONCE_KEY)) is not None:
            apply_nonce(headers, nonce)
        if request._request_id is not None:
            headers.append((b"x-request-id", request._request_id.encode()))
        # The fast path touched no session, so only a token made by csrf_token() is sent.
        if self.csrf is not None and (cookie := self.csrf.outgoing(request, None)) is not None:
            headers.append((b"set-cookie", cookie.encode("latin-1")))

    async def _finish(
        self,
        request: Request,
        plan: HandlerPlan,
        response: Response,
        send: Any,
        error: Exception | None,
    ) -> None:
        """The fast path's way out for anything but a plain 200: session, send, deferred work."""
        session = request._session
        if error is None:
            if session is not None or self._refresh_sessions:
                response = await self._save_session(request, response)
        elif session is not None and session.accessed:
            # A failed request never writes the session, but what it read is private.
            mark_private(response, default_no_store=self.settings.ENFORCE_NO_STORE_CACHE)
        await self._send(send, response, request)
        if plan.defers:
            await finish_request(request, error)

    async def _dispatch(
        self,
        request: Request,
        endpoint: Endpoint,
        params: dict[str, Any],
        send: Any,
        preset: Response | HTTPException | None,
    ) -> None:
        error: BaseException | None = None
        try:
            try:
                response = await self._full_dispatch(request, endpoint, params, preset)
                if request._session is not None or self._refresh_sessions:
                    response = await self._save_session(request, response)
            except Exception as exc:
                error = exc
                response = await self._handle_exception(request, endpoint, exc)
                response = await self._after(request, endpoint, response, from_error=True)
                if request._session is not None and request._session.accessed:
                    # A failed request never writes the session, but what it read is private.
                    mark_private(response, default_no_store=self.settings.ENFORCE_NO_STORE_CACHE)
            await self._send(send, response, request)
        finally:
            if endpoint.plan.defers:
                await finish_request(request, error)
            await self._teardown(endpoint, error)

    async def _full_dispatch(
        self,
        request: Request,
        endpoint: Endpoint,
        params: dict[str, Any],
        preset: Response | HTTPException | None,
    ) -> Response:
        result: Any = None
        usage: Usage | None = None
        # SECURITY: authentication and permissions first; hooks then see `current_user`.
        guard = endpoint.guard
        if guard is not None and (refusal := await guard.check(request)) is not None:
            denied = refuse(request, refusal)
            raise await self._security_failure(request) or denied
        for hook in endpoint.before:
            result = await hook(request)
            if result is not None:
                break
        if result is None:
            if isinstance(preset, HTTPException):
                raise preset
            if preset is not None:
                result = preset
            else:
                if endpoint.rate_limits is not None:  # after the hooks, which may set `g`
                    usage = await endpoint.rate_limits.enforce(request)
                result = await self._call_handler(request, endpoint.plan, params)
        response = to_response(result)
        if usage is not None:
            stamp(response, usage)
        return await self._after(request, endpoint, response, from_error=False)

    async def _call_handler(
        self, request: Request, plan: HandlerPlan, params: dict[str, Any]
    ) -> Any:
        if plan.passthrough:
            kwargs = params
        elif plan.bind_async:
            kwargs = await plan.bind(request, params)
        else:
            kwargs = plan.bind(request, params)
        if plan.is_async:
            return await plan.func(**kwargs)
        return await self.thread_pool.run(plan.func, **kwargs)

    async def _after(
        self, request: Request, endpoint: Endpoint, response: Response, *, from_error: bool
    ) -> Response:
        for hook in endpoint.after:
            try:
                result = await hook(request, response)
            except Exception:
                if not from_error:
                    raise
                error_log.exception("after-request-hook-failed path=%s", request.path)
                continue
            if not isinstance(result, Response):
                message = (
                    f"after_request hook {getattr(hook, '__qualname__', hook)!r} returned "
                    f"{type(result).__name__}; it must return the response it was given "
                    "(or a new Response)."
                )
                if from_error:
                    error_log.error(message)
                    continue
                raise TypeError(message)
            response = result
        return response

    async def _teardown(self, endpoint: Endpoint, error: BaseException | None) -> None:
        for hook in endpoint.teardown:
            try:
                await hook(error)
            except Exception:
                error_log.exception("teardown-hook-failed endpoint=%s", endpoint.name)

    async def _handle_exception(
        self, request: Request, endpoint: Endpoint, exc: Exception
    ) -> Response:
        handler = _find_error_handler(endpoint, exc)
        if handler is not None:
            try:
                return to_response(await handler(request, exc))
            except Exception:
                error_log.exception(
                    "error-handler-failed method=%s path=%s", request.method, request.path
                )
                return self._internal_error(exc)
        if isinstance(exc, HTTPException):
            body, content_type = exc.render()
            status = exc.status_code
            if status in _LOGGED_CLIENT_ERRORS:
                # NOTE: %r keeps CR/LF and other control characters out of the log line.
                request_log.info(
                    "client-error status=%d method=%r path=%r detail=%r",
                    status,
                    request.method,
                    request.path[:200],
                    exc.detail[:200],
                )
            response = Response(body, status, exc.headers, content_type)
            if "content-type" not in exc.headers and status in (204, 304):
                response.headers.pop("content-type", None)
            return response
        error_log.error(
            "unhandled-exception method=%s path=%s endpoint=%s",
            request.method,
            request.path,
            endpoint.name or "-",
            exc_info=exc,
        )
        return self._internal_error(exc)

    def open_session(self, request: Request) -> Session:
        """Load `request`'s session now (called by `Request.session` on first use).

        Raises:
            RuntimeError: The backend needs I/O to load (server-side sessions are loaded
                before the handler runs, so this only happens outside the pipeline).
        """
        if not self.sessions.has_cookie(request):
            return Session()
        # NOTE: the signed-cookie backend's load() never awaits, so it runs to completion
        # here; a backend that does await must be preloaded (see `_preload_sessions`).
        loading = self.sessions.load(request)
        try:
            loading.send(None)
        except StopIteration as done:
            session: Session = done.value
            return session
        loading.close()
        raise RuntimeError("This session backend loads asynchronously; it cannot load lazily.")

    async def _save_session(self, request: Request, response: Response) -> Response:
        session = request._session
        if session is None:  # only SESSION_REFRESH_EACH_REQUEST gets here without a session
            if not self.sessions.has_cookie(request):
                return response
            session = request.session
        if self.csrf is not None:
            self.csrf.prepare_session(session)
        try:
            await self.sessions.save(request, session, response)
        except HTTPException as exc:  # store outage (503) or a lost write race (409)
            return await self._handle_exception(request, self._fallback, exc)
        except (SessionTooLarge, TypeError) as exc:
            error_log.error("session-save-failed %s", exc)
            return self._internal_error(exc)
        return response

    def _internal_error(self, exc: BaseException) -> Response:
        if self.settings.DEBUG:
            detail = "".join(traceback.format_exception(exc))
            return Response(f"Internal Server Error (DEBUG is on)\n\n{detail}", 500)
        return Response(
            "Internal Server Error. Check the application logs for the original failure.", 500
        )

    async def _send(self, send: Any, response: Response, request: Request) -> None:
        try:
            raw = response.raw_headers()
        except (ValueError, UnicodeEncodeError):
            error_log.exception("response-prepare-failed")
            response = self._internal_error(RuntimeError("invalid response headers"))
            raw = response.raw_headers()
        base = self._base_blocks[request.scope.get("scheme") == "https"]
        if response.allow_public_cache:
            base = [item for item in base if item not in _NO_STORE]
        # PERF: the response's own names are checked against the prebuilt block in C;
        # only a response that overrides a default header pays for filtering.
        if not self._base_names.isdisjoint(response.headers.names()):
            own = {name for name, _ in raw}
            base = [item for item in base if item[0] not in own]
        headers = [*base, *raw]
        if (nonce := request.scope.get(NONCE_KEY)) is not None:
            apply_nonce(headers, nonce)
        if self.csrf is not None and (cookie := self.csrf.outgoing(request, response)) is not None:
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        # Error responses always carry the request id (it is in the log line too).
        if request._request_id is not None or response.status_code >= 400:
            headers.append((b"x-request-id", request.request_id.encode()))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await response.send_body(send, is_head=request.scope["method"] == "HEAD")
        if response.background is not None:
            await _call_maybe_sync(self, response.background)


def _no_handler() -> None:  # pragma: no cover - the fallback endpoint always has a preset
    raise NotFound


def _install_docs(app: Flasgo) -> None:
    from flasgo.openapi.docs import install_docs

    install_docs(app)


def _default_sessions(settings: Settings) -> SessionBackend:
    if settings.REDIS_URL:
        from flasgo.stores.redis import RedisStore

        return ServerSideSessions(RedisStore.from_url(settings.REDIS_URL), settings)
    return CookieSessions(settings)


def _join_rule(prefix: str, rule: str) -> str:
    return prefix.rstrip("/") + rule if prefix else rule


def _has_name(router: Router[Endpoint], name: str) -> bool:
    return any(name in entry.names.values() for entry in router)


async def _call_maybe_sync(app: Flasgo, func: Callable[[], Any]) -> None:
    try:
        if is_async_callable(func):
            await func()
        else:
            await app.thread_pool.run(func)
    except Exception:
        error_log.exception("background-task-failed")


def _before_hook(app: Flasgo, func: Callable[..., Any]) -> Hook:
    """``await hook(request)`` for ``f()`` or ``f(request)``, sync or async."""
    wants_request = hook_arity(func) >= 1
    return _hook(app, func, lambda request: (request,) if wants_request else ())


def _after_hook(app: Flasgo, func: Callable[..., Any]) -> Hook:
    """``await hook(request, value)`` for ``f(value)`` or ``f(request, value)``.

    Used for after_request hooks (value = response) and error handlers (value = exc).
    """
    wants_request = hook_arity(func) >= 2
    return _hook(app, func, lambda request, value: (request, value) if wants_request else (value,))


def _teardown_hook(app: Flasgo, func: Callable[..., Any]) -> Hook:
    """``await hook(exc)`` for ``f()`` or ``f(exc)``."""
    wants_error = hook_arity(func) >= 1
    return _hook(app, func, lambda error: (error,) if wants_error else ())


def _hook(app: Flasgo, func: Callable[..., Any], arguments: Callable[..., tuple[Any, ...]]) -> Hook:
    if is_async_callable(func):

        async def call_async(*given: Any) -> Any:
            return await func(*arguments(*given))

        hook = call_async
    else:

        async def call_sync(*given: Any) -> Any:
            return await app.thread_pool.run(func, *arguments(*given))

        hook = call_sync
    hook.__qualname__ = getattr(func, "__qualname__", repr(func))
    return hook


def _compile_chains(app: Flasgo, endpoint: Endpoint) -> None:
    scopes = endpoint.scopes
    endpoint.before = tuple(_before_hook(app, f) for s in scopes for f in s.before_request_funcs)
    endpoint.after = tuple(
        _after_hook(app, f) for s in reversed(scopes) for f in reversed(s.after_request_funcs)
    )
    endpoint.teardown = tuple(
        _teardown_hook(app, f) for s in reversed(scopes) for f in reversed(s.teardown_request_funcs)
    )
    endpoint.error_handlers = tuple(
        {key: _after_hook(app, f) for key, f in s.error_handlers.items()} for s in reversed(scopes)
    )
    endpoint.guard = compile_guard(app, endpoint)
    endpoint.simple = not (endpoint.before or endpoint.after or endpoint.teardown or endpoint.guard)


def _find_error_handler(endpoint: Endpoint, exc: Exception) -> Hook | None:
    status = exc.status_code if isinstance(exc, HTTPException) else None
    for handlers in endpoint.error_handlers:
        if not handlers:
            continue
        if status is not None and status in handlers:
            return handlers[status]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
    if status is None and not isinstance(exc, HTTPException):
        # An unhandled error is a 500: a handler registered for 500 takes it.
        for handlers in endpoint.error_handlers:
            if 500 in handlers:
                return handlers[500]
    return None
