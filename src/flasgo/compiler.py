"""Compiling an app's registrations into its `Pipeline`, once, when it starts serving.

Everything that can be decided before the first request is decided here: each endpoint's
steps (CORS preflight, auth guard, before hooks, rate limits), its hook chains (the CORS
headers last) and error-handler tables, its CSRF flag; the header policy; the pre-routing
screen; the shared-storage clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flasgo.cors import CORSConfig, CORSPolicy
from flasgo.exceptions import ConfigurationError
from flasgo.hooks import Hook, after_hook, before_hook, teardown_hook
from flasgo.pipeline import Pipeline, Screen, Step, Target
from flasgo.ratelimit import (
    EndpointLimits,
    RateLimitBackend,
    RateLimitRule,
    RedisRateLimiter,
    default_backend,
    route_rules,
)
from flasgo.routing import Router
from flasgo.security.auth import AuthRegistry, Guard, compile_guard
from flasgo.security.csrf import CSRFProtection, is_exempt
from flasgo.security.headers import HeaderPolicy
from flasgo.security.hosts import HostValidator
from flasgo.security.proxy import ProxyResolver
from flasgo.security.refusal import Refusal
from flasgo.security.throttle import SecurityFailureThrottle

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool
    from flasgo.endpoint import Endpoint
    from flasgo.request import Request
    from flasgo.response import Response
    from flasgo.routing import Converter
    from flasgo.sessions import SessionBackend
    from flasgo.settings import Settings

__all__ = ["Compiled", "Registrations", "compile_pipeline", "header_policy", "needs_csrf"]

Closer = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Registrations:
    """What the app hands the compiler: its settings, endpoints and the parts it owns."""

    app: Any  # NOTE: passed through to each Request as `request.app` (a layer above).
    settings: Settings
    endpoints: Sequence[Endpoint]
    fallback: Endpoint
    converters: Sequence[tuple[str, type[Converter]]]
    pool: ThreadPool
    auth: AuthRegistry
    sessions: SessionBackend
    rate_limiter: RateLimitBackend | None
    throttle: SecurityFailureThrottle | None
    on_refusal: Callable[[str], None] | None = None


@dataclass(slots=True)
class Compiled:
    """The compiler's output."""

    pipeline: Pipeline
    csrf: CSRFProtection | None
    rate_limiter: RateLimitBackend | None
    throttle: SecurityFailureThrottle | None
    closers: list[Closer] = field(default_factory=list)
    socket_guards: dict[Endpoint, Guard] = field(default_factory=dict)


def header_policy(settings: Settings) -> HeaderPolicy:
    """The security header policy of `settings`."""
    hsts = None
    if settings.HSTS_SECONDS:
        # HSTS only means something over HTTPS (RFC 6797 §7.2); preload is opt-in.
        hsts = f"max-age={settings.HSTS_SECONDS}"
        if settings.HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.HSTS_PRELOAD:
            hsts += "; preload"
    return HeaderPolicy(
        settings.SECURITY_HEADERS,
        settings.PAGE_SECURITY_HEADERS,
        no_store=settings.ENFORCE_NO_STORE_CACHE,
        hsts=hsts,
    )


def compile_pipeline(given: Registrations) -> Compiled:
    """Compile `given` into the app's pipeline.

    Raises:
        ConfigurationError: A route's auth backend is missing, a WebSocket route has rate
            limits.
    """
    settings = given.settings
    closers: list[Closer] = []
    throttle = given.throttle
    if throttle is None:
        throttle = SecurityFailureThrottle.from_settings(settings)
        if throttle is not None:
            closers.append(throttle.close)
    csrf = CSRFProtection(settings) if settings.CSRF_ENABLED else None
    limiter = given.rate_limiter
    router: Router[Target] = Router()
    for name, converter in given.converters:
        router.add_converter(name, converter)
    pipeline_ref: list[Pipeline] = []
    socket_guards: dict[Endpoint, Guard] = {}
    for endpoint in given.endpoints:
        if endpoint.websocket:
            route_rules(endpoint.func, (), rule=endpoint.rule, websocket=True)
            if (socket_guard := _guard(given, endpoint)) is not None:
                socket_guards[endpoint] = socket_guard
            continue
        rules = route_rules(endpoint.func, endpoint.scopes, rule=endpoint.rule, websocket=False)
        limits: tuple[EndpointLimits | None, EndpointLimits | None] | None = None
        if rules:
            if limiter is None:
                limiter = default_backend(settings.REDIS_URL, settings.REDIS_TIMEOUT_SECONDS)
                if isinstance(limiter, RedisRateLimiter):
                    closers.append(limiter.close)
            # SECURITY: rules keyed by client IP count before authentication, so failed
            # credentials are counted (and refused) too; rules with a key function may read
            # the user, so they count after the guard and hooks.
            by_ip = [rule for rule in rules if rule.key_func is None]
            by_key = [rule for rule in rules if rule.key_func is not None]
            run, v6 = given.pool.run, settings.CLIENT_IPV6_PREFIX
            limits = (
                EndpointLimits(endpoint.name, by_ip, limiter, run, ipv6_prefix=v6)
                if by_ip
                else None,
                EndpointLimits(endpoint.name, by_key, limiter, run, ipv6_prefix=v6)
                if by_key
                else None,
            )
        target = _target(given, endpoint, csrf, limits, pipeline_ref)
        # NOTE: registration already refused two views under one name.
        router.add(endpoint.rule, endpoint.methods, target, name=endpoint.name, shared_name=True)
    fallback = _target(given, given.fallback, None, None, pipeline_ref)
    screen = Screen(
        settings.MAX_REQUEST_HEADERS,
        settings.MAX_REQUEST_HEAD_BYTES,
        settings.MAX_URL_LENGTH,
        HostValidator(settings.ALLOWED_HOSTS) if settings.ENFORCE_ALLOWED_HOSTS else None,
        ProxyResolver(settings.TRUSTED_PROXIES) if settings.TRUSTED_PROXIES else None,
    )
    pipeline = Pipeline(
        app=given.app,
        settings=settings,
        router=router,
        fallback=fallback,
        pool=given.pool,
        sessions=given.sessions,
        csrf=csrf,
        throttle=throttle,
        headers=header_policy(settings),
        screen=screen,
        on_refusal=given.on_refusal,
    )
    pipeline_ref.append(pipeline)
    return Compiled(pipeline, csrf, limiter, throttle, closers, socket_guards)


def _limits(
    given: Registrations, endpoint: Endpoint, rules: list[RateLimitRule], limiter: RateLimitBackend
) -> EndpointLimits:
    ipv6_prefix = given.settings.CLIENT_IPV6_PREFIX
    return EndpointLimits(endpoint.name, rules, limiter, given.pool.run, ipv6_prefix=ipv6_prefix)


def _guard(given: Registrations, endpoint: Endpoint) -> Guard | None:
    return compile_guard(
        given.auth,
        given.pool,
        func=endpoint.func,
        scopes=endpoint.scopes,
        rule=endpoint.rule,
        websocket=endpoint.websocket,
    )


def _target(
    given: Registrations,
    endpoint: Endpoint,
    csrf: CSRFProtection | None,
    limits: tuple[EndpointLimits | None, EndpointLimits | None] | None,
    pipeline_ref: list[Pipeline],
) -> Target:
    pool = given.pool
    scopes = endpoint.scopes
    steps: list[Step] = []
    early, late = limits if limits is not None else (None, None)
    if early is not None:
        steps.append(_limit_step(early))
    guard = _guard(given, endpoint) if endpoint is not given.fallback else None
    if guard is not None:
        # SECURITY: authentication and permissions next; hooks then see `current_user`.
        steps.append(_guard_step(guard, pipeline_ref))
    steps.extend(before_hook(pool, f) for s in scopes for f in s.before_request_funcs)
    if late is not None:  # after the hooks, which may set `g`, and the user
        steps.append(_limit_step(late))
    after: tuple[Hook, ...] = tuple(
        after_hook(pool, f) for s in reversed(scopes) for f in reversed(s.after_request_funcs)
    )
    cors = _cors_policy(endpoint)
    if cors is not None:
        # A preflight is answered before the guard and hooks (browsers send no credentials
        # with it); every other response of the route gets its headers last.
        fallback = endpoint is given.fallback
        steps.insert(0, _preflight_step(cors, pipeline_ref, unmatched_only=fallback))
        after = (*after, _cors_hook(cors))
    return Target(
        endpoint=endpoint,
        steps=tuple(steps),
        after=after,
        teardown=tuple(
            teardown_hook(pool, f)
            for s in reversed(scopes)
            for f in reversed(s.teardown_request_funcs)
        ),
        errors=tuple(
            {key: after_hook(pool, f) for key, f in s.error_handlers.items()}
            for s in reversed(scopes)
        ),
        csrf=csrf is not None and needs_csrf(endpoint, scopes),
        plain=not after and limits is None,
        cors=cors,
    )


def _cors_policy(endpoint: Endpoint) -> CORSPolicy | None:
    """The route's CORS: its own ``cors=`` option, else the innermost scope's setting."""
    if "cors" in endpoint.options:
        value = endpoint.options["cors"]
    else:
        value = next(
            (c for s in reversed(endpoint.scopes) if (c := getattr(s, "cors", None)) is not None),
            None,
        )
    if value is None or value is False:
        return None
    if not isinstance(value, CORSConfig):
        raise ConfigurationError(
            f"cors= for {endpoint.rule or 'the app'!r} must be a CORSConfig or False, got {value!r}"
        )
    return CORSPolicy(value)


def _preflight_step(
    policy: CORSPolicy, pipeline_ref: list[Pipeline], *, unmatched_only: bool
) -> Step:
    # NOTE: the fallback target answers preflights for unknown paths only; a matched path
    # whose routes opted out (cors=False) gets the plain OPTIONS answer.
    async def preflight(request: Request) -> Any:
        if request.scope["method"] != "OPTIONS" or (unmatched_only and request.rule is not None):
            return None
        answer = policy.preflight(request)
        if isinstance(answer, Refusal):
            raise await pipeline_ref[0].refuse(request, answer)
        return answer

    return preflight


def _cors_hook(policy: CORSPolicy) -> Hook:
    async def cors(request: Request, response: Response) -> Response:
        return policy.apply(request, response)

    return cors


def needs_csrf(endpoint: Endpoint, scopes: Iterable[object]) -> bool:
    """Whether the route's unsafe methods are CSRF-checked (when CSRF is on)."""
    return not (
        endpoint.csrf_exempt
        or endpoint.websocket
        or not endpoint.name
        or is_exempt(endpoint.func, endpoint.options)
        or any(getattr(scope, "csrf_exempt", False) for scope in scopes)
    )


def _guard_step(guard: Guard, pipeline_ref: list[Pipeline]) -> Step:
    async def authorize(request: Request) -> None:
        refusal = await guard.check(request)
        if refusal is not None:
            raise await pipeline_ref[0].refuse(request, refusal)

    return authorize


def _limit_step(limits: EndpointLimits) -> Step:
    async def limit(request: Request) -> None:
        usage = await limits.enforce(request)
        if usage is not None:
            state = request.state
            # The response reports the tightest rule of both phases.
            if state.usage is None or usage.remaining < state.usage.remaining:
                state.usage = usage

    return limit
