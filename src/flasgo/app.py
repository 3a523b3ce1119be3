"""`Flasgo`: the registration API and the ASGI entry.

Registration records endpoints (`flasgo.endpoint`), hooks and settings; `freeze` compiles
them once, on the first request or at lifespan startup, into the request pipeline
(`flasgo.compiler` -> `flasgo.pipeline`); registration after that is an error. WebSocket
scopes go to `flasgo.websocket`, lifespan scopes to `flasgo.lifespan`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast, overload

from flasgo.accesslog import AccessLog, is_access_log_on
from flasgo.compiler import Registrations, compile_pipeline
from flasgo.concurrency import ThreadPool
from flasgo.context import LocalProxy, app_var, find_app, find_request
from flasgo.deadlines import ReadDeadlines
from flasgo.dependencies import scoped_overrides
from flasgo.endpoint import Endpoint
from flasgo.exceptions import ConfigurationError, NotFound, SetupFrozenError
from flasgo.handlers import compile_handler
from flasgo.health import HealthChecks, install_health
from flasgo.injectables import Injectables
from flasgo.lifespan import Lifespan
from flasgo.observer import observe
from flasgo.pages import PageSupport, add_static_route, find_root_path
from flasgo.ratelimit import RateLimitBackend
from flasgo.request import Request
from flasgo.request_id import RequestIds
from flasgo.routing import Converter, Router, parse_rule
from flasgo.scaffold import RouteRecord, Scaffold
from flasgo.security.auth import AuthRegistry, load_user
from flasgo.security.checks import check_startup
from flasgo.security.config import SecurityConfig
from flasgo.security.csrf import CSRFProtection
from flasgo.security.outbound import Outbound
from flasgo.security.throttle import SecurityFailureThrottle
from flasgo.sessions import CookieSessions, ServerSideSessions, Session, SessionBackend
from flasgo.settings import Settings
from flasgo.sockets import SocketDispatcher, compile_websocket_handler

if TYPE_CHECKING:
    from flasgo.blueprints import Blueprint
    from flasgo.cache import Cache
    from flasgo.cors import CORSConfig
    from flasgo.metrics import Metrics
    from flasgo.pipeline import Pipeline
    from flasgo.realtime import Channels
    from flasgo.security.auth import AuthBackend
    from flasgo.security.hosts import HostValidator
    from flasgo.security.outbound import SafeHTTPClient
    from flasgo.security.ssrf import SSRFGuard, SSRFResolvedURL
    from flasgo.tasks.backend import TaskBackend
    from flasgo.tasks.queue import Task, TaskQueue
    from flasgo.templating import JinjaTemplates
    from flasgo.testing import TestClient
    from flasgo.tracing import Tracing
    from flasgo.user import User

__all__ = ["Flasgo", "RouteInfo", "current_app"]

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """A registered route, as listed by `Flasgo.url_map` and ``flasgo routes``."""

    rule: str
    methods: tuple[str, ...]
    endpoint: str
    websocket: bool


class Flasgo(PageSupport, Scaffold):
    """The application: an ASGI 3 callable with Flask-style registration.

    Args:
        import_name: The app module's name, as in Flask (``Flasgo(__name__)``): its folder
            holds ``templates/`` and ``static/``. A `Settings` or a mapping here is read as
            `settings` (the older spelling).
        settings: A `Settings`, a mapping of setting keys, a dotted module path whose
            UPPERCASE attributes are settings, or an object with UPPERCASE attributes.
            ``FLASGO_*`` environment variables fill keys the source does not set.
        name: A name for logs and the CLI; the import name, else ``"flasgo"``.
        template_folder: The app's template folder, relative to its root folder.
        static_folder: The folder served at `static_url_path` when it exists (relative to
            the root folder; only with an import name); None serves none.
        static_url_path: Where static files are served; ``/<static_folder name>`` by default.
        static_cache_max_age: ``Cache-Control: public, max-age=N`` for the static files (0,
            the default, makes browsers revalidate: a 304 while unchanged; fingerprinted
            names such as ``app.3f2a9c1d.css`` always get a year).
        templates: A ready `JinjaTemplates` to use instead of building one.
        cors: The app-wide `CORSConfig` (blueprints and routes may override it with their
            own or ``cors=False``); none by default.
        session_backend: Where sessions live; signed cookies by default, server-side in
            Redis when ``REDIS_URL`` is set (see `flasgo.sessions`).
        rate_limiter: Where ``@app.ratelimit`` counters live; in memory by default, in Redis
            when ``REDIS_URL`` is set (see `flasgo.ratelimit`).
        tracer_provider: An OpenTelemetry ``TracerProvider`` of your own: requests get server
            spans from it (as with ``OTEL_ENABLED``), and it is yours to shut down.
        security_throttle: Replaces the throttle built from the ``SECURITY_FAILURE_*``
            settings (see `flasgo.security.throttle`).
        security: A `SecurityConfig` whose values are written onto the settings (upstream's
            spelling); ``app.security`` is a live lower-case view of the security settings.
    """

    def __init__(
        self,
        import_name: str | Settings | Mapping[str, Any] | object | None = None,
        *,
        settings: Settings | Mapping[str, Any] | str | object | None = None,
        name: str | None = None,
        template_folder: str | None = "templates",
        static_folder: str | None = "static",
        static_url_path: str | None = None,
        static_cache_max_age: int = 0,
        templates: JinjaTemplates | None = None,
        cors: CORSConfig | None = None,
        tracer_provider: Any = None,
        session_backend: SessionBackend | None = None,
        rate_limiter: RateLimitBackend | None = None,
        security_throttle: SecurityFailureThrottle | None = None,
        security: SecurityConfig | None = None,
    ) -> None:
        if import_name is not None and not isinstance(import_name, str):
            # NOTE: a Settings or mapping positional (the older spelling) is the settings.
            if settings is not None:
                raise TypeError("Pass the settings once: positionally or as settings=.")
            import_name, settings = None, import_name
        super().__init__(name or (import_name if import_name else "flasgo"))
        self.import_name = import_name
        self.root_path = find_root_path(import_name)
        self._init_pages(template_folder, templates)
        self.cors = cors
        self._session_backend = session_backend
        self.rate_limiter = rate_limiter
        self._throttle = security_throttle
        loaded = Settings.load(settings)
        self.settings: Settings = loaded if security is None else security.apply(loaded)
        self.state = SimpleNamespace()
        # Durable tasks (@app.task), made on first use; the store opens then or at startup.
        self._tasks: TaskQueue | None = None
        self._cache: Cache | None = None
        self.thread_pool = ThreadPool(self.settings.THREAD_POOL_SIZE)
        self.read_deadlines = ReadDeadlines()
        self.request_ids = RequestIds()
        self._outbound = Outbound(self.settings)
        # What handler parameters can be injected by type (Request, Session, User, ...).
        self.injectables = Injectables()
        # Auth backends, their OpenAPI schemes and the session user loader.
        self.auth = AuthRegistry()
        self.sessions: SessionBackend = CookieSessions(self.settings)
        self.csrf: CSRFProtection | None = None
        # The compiled runtime, made by `freeze`.
        self.pipeline: Pipeline | None = None
        self._router: Router[Endpoint] = Router()
        self._ws_router: Router[Endpoint] = Router(auto_head=False, auto_options=False)
        self._endpoints: list[Endpoint] = []
        self._converters: list[tuple[str, type[Converter]]] = []
        self._openapi: dict[str, Any] | None = None
        self._blueprint_names: set[str] = set()
        self._middleware: list[tuple[Callable[..., ASGIApp], tuple[Any, ...], dict[str, Any]]] = []
        self._lifespan = Lifespan(self)
        # Features that register their own routes once settings are final (e.g. API docs).
        self._installers: list[Callable[[Flasgo], None]] = []
        # Dependency replacements for tests (`override_dependencies`); empty in production.
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        if self.settings.ENABLE_DOCS:
            self._installers.append(_install_docs)
        self._init_operations(tracer_provider)
        self._frozen = False
        self._entry: ASGIApp | None = None
        self._direct = False
        self._http: ASGIApp = self._serve_first
        self._sockets: SocketDispatcher | None = None
        self._channels: Channels | None = None
        self._fallback = Endpoint("", compile_handler(_no_handler, {}), (self,), _no_handler, {})
        if static_folder is not None and import_name is not None:
            folder = self.root_path / static_folder
            if folder.is_dir():
                add_static_route(self, folder, static_url_path, static_cache_max_age, "static")

    def _init_operations(self, tracer_provider: Any) -> None:
        # Readiness checks for /readyz (``HEALTH_ENABLED``): ``@app.health.check``.
        self.health = HealthChecks()
        # The Prometheus metrics (``METRICS_ENABLED``), made by `freeze`.
        self.metrics: Metrics | None = None
        # OpenTelemetry (``OTEL_ENABLED`` or a provider passed in): add span processors to
        # ``app.tracing.provider``.
        self.tracing: Tracing | None = None
        if self.settings.OTEL_ENABLED or tracer_provider is not None:
            from flasgo.tracing import Tracing

            self.tracing = Tracing(self.settings, tracer_provider)

    @property
    def security(self) -> SecurityConfig:
        """The security settings by lower-case name, live: ``app.security.csrf_enabled``."""
        return SecurityConfig.view(self.settings)

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
                injectables=self.injectables,
            )
            router, methods = self._router, record.methods
        endpoint = Endpoint(
            name, plan, scopes, record.func, record.options, rule, methods, record.websocket
        )
        # NOTE: Flask lets one view sit under several rules (stacked decorators): the name is
        # shared only by the same function, so two views cannot clash silently.
        shared = any(other.func is record.func for other in router.targets_named(name))
        router.add(rule, methods, endpoint, name=name, shared_name=shared)
        self._endpoints.append(endpoint)
        self._routes_changed()

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
        for mounted in blueprint.mount(
            url_prefix=url_prefix,
            name=name,
            parent_prefix="",
            parent_name="",
            parent_scopes=(self,),
        ):
            self._claim_blueprint_name(mounted.name)
            owner = mounted.scopes[-1]
            folder = getattr(owner, "template_folder", None)
            if folder is not None:
                self._add_template_folder(getattr(owner, "root_path", Path.cwd()) / folder)
            for record in mounted.records:
                self._register(
                    record,
                    prefix=mounted.prefix,
                    name_prefix=f"{mounted.name}.",
                    scopes=mounted.scopes,
                )
        if csrf_exempt:
            self._endpoints[first:] = [
                replace(endpoint, csrf_exempt=True) for endpoint in self._endpoints[first:]
            ]

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
        self._converters.append((name, converter))

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
        self._routes_changed()

    def register_injectable(self, kind: type, provide: Callable[[Request], Any]) -> None:
        """Inject ``provide(request)`` into handler parameters annotated `kind` (or a
        subclass), with no marker; for this app only. Register before the routes using it.

        Raises:
            ConfigurationError: `kind` is not a class or `provide` is not callable.
        """
        self._check_setup()
        self.injectables.register(kind, provide)

    def user_loader(self, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Register `func(user_id) -> User | None` (sync or async): the ``"session"`` backend
        and `current_user` turn the id stored by `login` into a user with it."""
        self._check_setup()
        self.auth.user_loader = func
        return func

    @property
    def tasks(self) -> TaskQueue:
        """The app's durable task registry and queue (`flasgo.tasks.TaskQueue`)."""
        if self._tasks is None:
            from flasgo.tasks.queue import TaskQueue

            self._tasks = TaskQueue(self._task_backend)
        return self._tasks

    @overload
    def task(
        self, func: Callable[P, R], /, *, name: str | None = None, **options: Any
    ) -> Task[P, R]: ...
    @overload
    def task(
        self, func: None = None, /, *, name: str | None = None, **options: Any
    ) -> Callable[[Callable[P, R]], Task[P, R]]: ...
    def task(
        self, func: Callable[P, R] | None = None, /, *, name: str | None = None, **options: Any
    ) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
        """Register a durable task: ``@app.task`` or ``@app.task(queue=..., retries=...)``.

        The function (sync or async) gets ``.delay(*args, **kwargs)`` and ``.enqueue(args,
        kwargs, priority=, countdown=, eta=, idempotency_key=)``; ``flasgo worker`` runs it.
        `options` are those of `flasgo.tasks.TaskOptions`.

        Raises:
            ConfigurationError: The name is taken or an option is invalid.
        """
        self._check_setup()

        def register(target: Callable[P, R]) -> Task[P, R]:
            return self.tasks.register(target, name=name, **options)

        return register if func is None else register(func)

    @property
    def cache(self) -> Cache:
        """The app's `flasgo.cache.Cache`: memory, plus Redis when ``REDIS_URL`` is set
        (made on first use, closed at lifespan shutdown)."""
        if self._cache is None:
            from flasgo.cache.settings import cache_from_settings

            self._cache = cache_from_settings(self.settings)
            self._lifespan.shutdown.append(self._cache.close)
        return self._cache

    def _task_backend(self) -> TaskBackend:
        from flasgo.tasks.runtime import task_backend

        return task_backend(self.settings)

    # -- Flask's conveniences ------------------------------------------------------------------

    @property
    def logger(self) -> logging.Logger:
        """The app's logger, named after the import name (``flasgo.app`` without one)."""
        name = self.import_name if self.import_name else "flasgo.app"
        return logging.getLogger(name)

    @contextmanager
    def app_context(self) -> Iterator[Flasgo]:
        """Make this app `current_app` inside a ``with`` block (scripts, shells, tests).

        ``url_for`` then builds paths without a request (no host: ``_external`` needs one).
        """
        token = app_var.set(self)
        try:
            yield self
        finally:
            app_var.reset(token)

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
        ``Depends(get_db)`` call ``fake_db`` instead (with its own parameters bound as usual)
        for requests made inside the block. A ContextVar scopes them: two tests overriding
        the same app at once (threads or tasks) never see each other's replacements. For an
        app-wide replacement, set ``app.dependency_overrides[get_db] = fake_db``.
        """
        return scoped_overrides(self, replacements)

    def iter_endpoints(self) -> Iterator[Endpoint]:
        """The compiled endpoints, in registration order."""
        return iter(self._endpoints)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app's HTTP routes (see `flasgo.openapi`).

        Built on first use and cached; registering a route, a blueprint, an auth backend or
        an ``authorize`` requirement makes the next call build it again. Treat the result as
        read-only.
        """
        if self._openapi is not None:
            return self._openapi
        from flasgo.openapi.schema import openapi_spec

        document = openapi_spec(self)
        self._openapi = document
        return document

    def openapi_spec(self) -> dict[str, Any]:
        """The OpenAPI document (upstream's name for `openapi`), cached the same way."""
        return self.openapi()

    def policy_snapshot(self) -> dict[str, Any]:
        """The app's security policy as versioned JSON-ready data, without secrets.

        The security controls and, per route, its auth requirement, CSRF check, rate limits
        and response model (see `flasgo.policy`); commit it, and ``flasgo check --against``
        fails when a later change weakens any of them.
        """
        from flasgo.policy import policy_snapshot

        return policy_snapshot(self)

    def _routes_changed(self) -> None:
        self._openapi = None

    def url_for(
        self,
        endpoint: str,
        /,
        *,
        _external: bool = False,
        _anchor: str | None = None,
        _scheme: str | None = None,
        **values: Any,
    ) -> str:
        """Build the URL of `endpoint`; values that are not placeholders become the query.

        A leading ``.`` names an endpoint in the current request's blueprint. ``_external``
        makes an absolute URL on the request's host; ``_scheme`` (``"https"``) one with that
        scheme (Flask's spelling; it implies ``_external``).

        Raises:
            BuildError: Unknown endpoint or missing/invalid values.
        """
        if _scheme is not None and _scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"_scheme must be http, https, ws or wss, got {_scheme!r}")
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
            if _external or _scheme is not None:
                path = f"{_scheme or request.scheme}://{request.host}{path}"
        if _anchor:
            from urllib.parse import quote

            path = f"{path}#{quote(_anchor, safe='')}"
        return path

    # -- outbound requests ---------------------------------------------------------------------

    @property
    def ssrf(self) -> SSRFGuard:
        """The `SSRFGuard` built from the ``SSRF_*`` settings, rebuilt if they change."""
        return self._outbound.guard

    def validate_outbound_url(self, url: str) -> str:
        """Check `url` against the SSRF rules without DNS; return it normalised.

        It does not resolve: IP literals and ``localhost`` names are judged, other names are
        not looked up (use `aresolve_outbound_url` or `outbound_client` for that).

        Raises:
            SSRFViolation: The URL breaks a rule (a `ValueError`).
        """
        return self._outbound.validate_url(url)

    def resolve_outbound_url(self, url: str) -> SSRFResolvedURL:
        """Validate `url`, resolve it, check every address and pin one; blocks on DNS, so not
        on the event loop.

        Raises:
            SSRFViolation: The URL, or an address its host resolves to, is not allowed, or
                the name does not resolve.
            RuntimeError: Called on a running event loop (use `aresolve_outbound_url`).
        """
        return self._outbound.resolve_url(url)

    async def aresolve_outbound_url(self, url: str) -> SSRFResolvedURL:
        """Validate `url`, resolve it off the loop with a timeout, check every address and
        pin one.

        Raises:
            SSRFViolation: The URL, or an address its host resolves to, is not allowed, or
                the name does not resolve.
        """
        return await self._outbound.aresolve_url(url)

    def outbound_client(
        self,
        *,
        timeout: float = 10.0,
        max_redirects: int = 5,
        max_response_bytes: int = 10 * 1024 * 1024,
    ) -> SafeHTTPClient:
        """A `SafeHTTPClient` whose every hop, redirects included, passes `ssrf` and connects
        to the checked address."""
        return self._outbound.client(
            timeout=timeout, max_redirects=max_redirects, max_response_bytes=max_response_bytes
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

    def freeze(self) -> ASGIApp:
        """Compile the app for serving (once); registration is closed from then on.

        Called by the first request or the lifespan startup; call it yourself to find
        configuration errors before serving.

        Returns:
            The ASGI entry: the pipeline, wrapped in the middleware added.
        """
        if self._entry is not None:
            return self._entry
        # SECURITY: one loud warning for a generated SECRET_KEY; an error with several workers.
        check_startup(self.settings)
        if self.settings.HEALTH_ENABLED:
            install_health(self, self.health)
        if self.settings.METRICS_ENABLED:
            self.metrics = _install_metrics(self)
        for install in self._installers:
            install(self)
        self._frozen = True
        self.sessions = self._session_backend or _default_sessions(self.settings)
        compiled = compile_pipeline(
            Registrations(
                app=self,
                settings=self.settings,
                endpoints=tuple(self._endpoints),
                fallback=self._fallback,
                converters=tuple(self._converters),
                pool=self.thread_pool,
                auth=self.auth,
                sessions=self.sessions,
                rate_limiter=self.rate_limiter,
                throttle=self._throttle,
                on_refusal=self.metrics.refused if self.metrics is not None else None,
            )
        )
        self.pipeline = compiled.pipeline
        self.csrf = compiled.csrf
        self.rate_limiter = compiled.rate_limiter
        self._throttle = compiled.throttle
        if self._throttle is not None and self._throttle.shared_store is not None:
            # The block of a client over the limit is shared: merge other workers' blocks.
            self._lifespan.startup.append(self._throttle.start)
        # The shared-storage clients made here are closed at lifespan shutdown.
        self._lifespan.shutdown.extend(compiled.closers)
        if self._tasks is not None and self._tasks.registry:
            from flasgo.tasks.runtime import TaskService

            service = TaskService(self._tasks, self.settings)
            self._lifespan.startup.append(service.start)
            self._lifespan.shutdown.append(service.stop)
        # /readyz answers 503 from the moment shutdown starts.
        self._lifespan.shutdown.insert(0, self.health.start_draining)
        # PERF: with metrics and the access log off this is the pipeline's entry itself.
        self._http = observe(
            compiled.pipeline.handle,
            metrics=self.metrics,
            access=AccessLog() if is_access_log_on(self.settings) else None,
        )
        if self.tracing is not None:
            from flasgo.tracing import traced

            self._http = traced(self._http, self.tracing)
            self._lifespan.shutdown.append(self.tracing.shutdown)
        self._sockets = SocketDispatcher(
            self, self._ws_router, compiled.pipeline, self.settings, compiled.socket_guards
        )
        entry: ASGIApp = self._asgi
        for middleware, args, options in reversed(self._middleware):
            entry = middleware(entry, *args, **options)
        self._entry = entry
        self._direct = not self._middleware
        return entry

    @property
    def channels(self) -> Channels:
        """WebSocket rooms: join, leave, publish, broadcast, presence (see `Channels`).

        Over Redis pub/sub (every worker) when ``REDIS_URL`` is set, else in this process.
        Made on first use and closed at lifespan shutdown.
        """
        channels = self._channels
        if channels is None:
            from flasgo.realtime import Channels

            channels = self._channels = Channels.from_settings(self.settings)
            self._lifespan.shutdown.append(channels.close)
        return channels

    @property
    def security_throttle(self) -> SecurityFailureThrottle | None:
        """The security-failure throttle in use (None before startup or when it is off)."""
        return self._throttle

    @property
    def host_validator(self) -> HostValidator | None:
        """The compiled ``ALLOWED_HOSTS`` check (None when it is off or before startup)."""
        pipeline = self.pipeline
        return None if pipeline is None else pipeline.host_validator

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # PERF: with no middleware, HTTP goes straight to the pipeline (one call fewer).
        if self._direct and scope["type"] == "http":
            await self._http(scope, receive, send)
            return
        entry = self._entry
        if entry is None:
            entry = self.freeze()
        await entry(scope, receive, send)

    async def _serve_first(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.freeze()
        await self._http(scope, receive, send)

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            sockets = self._sockets
            if sockets is None:  # pragma: no cover - the entry exists only after freeze()
                raise RuntimeError("The app was not compiled; call freeze() first.")
            await sockets.handle(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan.run(scope, receive, send)
        else:
            raise RuntimeError(f"Flasgo does not handle ASGI scope type {kind!r}.")

    def has_session_cookie(self, request: Request) -> bool:
        """Whether `request` carries a session cookie (cheap; loads nothing)."""
        return self.sessions.has_cookie(request)

    def load_user(self, request: Request) -> User:
        """`request`'s user on a route without ``@authorize`` (see `Request.user`)."""
        return load_user(request, self.auth.user_loader)

    def open_session(self, request: Request) -> Session:
        """Load `request`'s session now (called by `Request.session` on first use).

        Raises:
            RuntimeError: The backend needs I/O to load (server-side sessions are loaded
                before the handler runs, so this only happens outside the pipeline).
        """
        if not self.sessions.has_cookie(request):
            return Session()
        # NOTE: the signed-cookie backend's load() never awaits, so it runs to completion
        # here; a backend that does await must be preloaded by the pipeline.
        loading = self.sessions.load(request)
        try:
            loading.send(None)
        except StopIteration as done:
            session: Session = done.value
            return session
        loading.close()
        raise RuntimeError("This session backend loads asynchronously; it cannot load lazily.")


def _no_handler() -> None:  # pragma: no cover - the fallback endpoint always has a preset
    raise NotFound


def _install_docs(app: Flasgo) -> None:
    from flasgo.openapi.docs import install_docs

    install_docs(app)


def _install_metrics(app: Flasgo) -> Metrics:
    from flasgo.metrics import Metrics, install_metrics

    metrics = Metrics(app.settings)
    install_metrics(app, metrics)
    app.on_startup(metrics.start_sampler)
    app.on_shutdown(metrics.stop_sampler)
    return metrics


def _default_sessions(settings: Settings) -> SessionBackend:
    if settings.REDIS_URL:
        from flasgo.stores.redis import RedisStore

        store = RedisStore.from_url(settings.REDIS_URL, timeout=settings.REDIS_TIMEOUT_SECONDS)
        return ServerSideSessions(store, settings)
    return CookieSessions(settings)


def _join_rule(prefix: str, rule: str) -> str:
    return prefix.rstrip("/") + rule if prefix else rule


def _has_name(router: Router[Endpoint], name: str) -> bool:
    return any(name in entry.names.values() for entry in router)


def _current_app() -> Flasgo:
    app = find_app()
    if not isinstance(app, Flasgo):  # pragma: no cover - only Flasgo apps set the context
        raise LookupError("flasgo.app")
    return app


current_app = cast("Flasgo", LocalProxy(_current_app, "current_app"))
"""The app handling the current request (also during lifespan and WebSocket handlers)."""
