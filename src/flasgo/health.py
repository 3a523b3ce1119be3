"""Health endpoints: ``/healthz`` (liveness) and ``/readyz`` (readiness with pluggable checks).

Both are opt-in (``HEALTH_ENABLED``). Liveness answers 200 while the process serves requests;
it runs no checks, so a slow database never gets a healthy process restarted. Readiness runs
every registered check at once, each bounded by ``HEALTH_CHECK_TIMEOUT_SECONDS``: a check that
fails, raises or hangs makes it 503, so a load balancer stops sending traffic here. Once the
app starts shutting down readiness answers 503 (``draining``) whatever the checks say.

A check is a callable taking no argument, sync (run in the thread pool) or async; returning
None or True means ready, False or an exception means not ready. The response names each check
and its outcome (``ok``, ``failed``, ``timeout``), never an exception's message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

from flasgo.concurrency import is_async_callable
from flasgo.exceptions import ConfigurationError
from flasgo.jsonenc import encode_json
from flasgo.response import Response

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool
    from flasgo.settings import Settings

__all__ = [
    "HEALTH_PATH",
    "READY_PATH",
    "HealthApp",
    "HealthChecks",
    "install_health",
    "redis_check",
]

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"

Check = Callable[[], Any]
_C = TypeVar("_C", bound=Callable[[], Any])
Outcome = Literal["ok", "failed", "timeout"]

log = logging.getLogger("flasgo.health")


class HealthApp(Protocol):
    """What the health endpoints need from the app (`flasgo.Flasgo` is one)."""

    settings: Settings
    thread_pool: ThreadPool

    def add_route(
        self,
        rule: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        """Register `endpoint` for `rule`."""
        ...

    def on_shutdown(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Run `func` at shutdown."""
        ...


class HealthChecks:
    """The app's readiness checks (``app.health``), and whether it is draining."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self.draining = False

    @property
    def names(self) -> tuple[str, ...]:
        """The registered checks' names, in registration order."""
        return tuple(self._checks)

    async def start_draining(self) -> None:
        """Make readiness answer 503 from now on (the app is shutting down)."""
        self.draining = True

    def add(self, name: str, check: Check) -> None:
        """Register `check` under `name` (shown in the ``/readyz`` body).

        Raises:
            ValueError: `name` is empty or already taken.
            TypeError: `check` is not callable.
        """
        if not name or name in self._checks:
            raise ValueError(f"A readiness check needs a new, non-empty name; got {name!r}")
        if not callable(check):
            raise TypeError(f"The readiness check {name!r} is not callable: {check!r}")
        self._checks[name] = check

    @overload
    def check(self, func: _C, /) -> _C: ...
    @overload
    def check(self, func: None = None, /, *, name: str | None = None) -> Callable[[_C], _C]: ...
    def check(self, func: _C | None = None, /, *, name: str | None = None) -> Any:
        """Decorator: register the decorated function as a readiness check.

        Use as ``@app.health.check`` or ``@app.health.check(name="database")``; the name
        defaults to the function's name.
        """

        def register(target: _C) -> _C:
            self.add(name or str(getattr(target, "__name__", "")), target)
            return target

        return register if func is None else register(func)

    async def run(self, pool: ThreadPool, seconds: float) -> dict[str, Outcome]:
        """Run every check at once, each bounded by `seconds`."""
        names = list(self._checks)
        outcomes = await asyncio.gather(
            *(_run_one(name, self._checks[name], pool, seconds) for name in names)
        )
        return dict(zip(names, outcomes, strict=True))


async def _run_one(name: str, check: Check, pool: ThreadPool, seconds: float) -> Outcome:
    try:
        async with asyncio.timeout(seconds):
            if is_async_callable(check):
                result = await check()
            else:
                result = await pool.run(check)
                if isinstance(result, Awaitable):
                    result = await result
    except TimeoutError:
        log.warning("readiness-check-timeout check=%s seconds=%s", name, seconds)
        return "timeout"
    except Exception as exc:
        # NOTE: the message may name hosts or credentials: the log gets the class name only.
        log.warning("readiness-check-failed check=%s error=%s", name, type(exc).__name__)
        return "failed"
    if result is None or result is True:
        return "ok"
    log.warning("readiness-check-failed check=%s result=%r", name, type(result).__name__)
    return "failed"


def redis_check(url: str) -> tuple[Check, Callable[[], Awaitable[None]]]:
    """A readiness check that PINGs the Redis server at `url`, and its closer.

    The client is made on the first check (``redis`` extra).

    Returns:
        The check and a coroutine function that closes its client.
    """
    client: Any = None

    async def redis() -> bool:
        nonlocal client
        if client is None:
            try:
                import redis.asyncio
            except ImportError:
                raise ConfigurationError(
                    "The redis readiness check needs redis-py; pip install 'flasgo[redis]'"
                ) from None
            client = redis.asyncio.Redis.from_url(url)
        return bool(await client.ping())

    async def close() -> None:
        nonlocal client
        if client is not None:
            await client.aclose()
            client = None

    return redis, close


def install_health(app: HealthApp, checks: HealthChecks) -> None:
    """Register ``/healthz`` and ``/readyz`` on `app` (called when ``HEALTH_ENABLED`` is on).

    With ``REDIS_URL`` set, a ``redis`` check is added: sessions, rate limits and the
    throttle live there, so the app is not ready without it.
    """
    settings = app.settings
    if settings.REDIS_URL and "redis" not in checks.names:
        check, close = redis_check(settings.REDIS_URL)
        checks.add("redis", check)
        app.on_shutdown(close)

    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', content_type="application/json")

    async def readyz() -> Response:
        if checks.draining:
            return Response(b'{"status":"draining"}', 503, content_type="application/json")
        outcomes = await checks.run(app.thread_pool, settings.HEALTH_CHECK_TIMEOUT_SECONDS)
        ready = all(outcome == "ok" for outcome in outcomes.values())
        body = encode_json({"status": "ready" if ready else "unavailable", "checks": outcomes})
        return Response(body, 200 if ready else 503, content_type="application/json")

    # Probes are not part of the API the OpenAPI document describes.
    app.add_route(HEALTH_PATH, healthz, name="flasgo_healthz", include_in_schema=False)
    app.add_route(READY_PATH, readyz, name="flasgo_readyz", include_in_schema=False)
