"""WebSocket dispatch: compiling WebSocket handlers, and serving a ``websocket`` scope.

A handshake passes the same screen as an HTTP request (`Pipeline.admit`: trusted proxies,
the security-failure throttle, header count and head size, URL length, the Host
allowlist), then the route, the Origin check (cross-site WebSocket hijacking), the
server-side session and the route's auth guard, all before the handler runs. Every refusal
is a `Refusal` that leaves through `Pipeline.refuse` (logged with its reason code, counted
by the throttle when it is a failed security check) and is answered with an HTTP denial
(``websocket.http.response``), else a close 1008. The dispatcher is built once, when the
app is compiled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import typing
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flasgo.concurrency import is_async_callable
from flasgo.context import RequestBinding, app_var, request_binding
from flasgo.exceptions import ConfigurationError, Forbidden, HTTPException
from flasgo.handlers import HandlerPlan
from flasgo.origin import InvalidHostError, Origin, parse_origin, request_origin
from flasgo.request import Request
from flasgo.security.events import log_security_event
from flasgo.security.refusal import Refusal
from flasgo.websocket import SocketLimits, WebSocket, WebSocketDisconnect, WebSocketException

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.pipeline import Pipeline
    from flasgo.request import RequestApp
    from flasgo.routing import Router
    from flasgo.security.auth import Guard
    from flasgo.settings import Settings

__all__ = ["SocketDispatcher", "compile_websocket_handler"]

log = logging.getLogger("flasgo.websocket")

_NO_ROUTE = "No WebSocket route matches this path."
_TIMED_OUT = "The WebSocket handshake was not accepted in time."
# The screen's reason codes, renamed for a handshake so the logs say what was refused.
_RENAMED = {"host-check-failed": "websocket-host-failed"}


def compile_websocket_handler(
    func: Callable[..., Any], param_names: tuple[str, ...]
) -> HandlerPlan:
    """Compile a WebSocket handler: it gets the `WebSocket` plus the path values.

    Raises:
        ConfigurationError: The handler is not async, or does not take a WebSocket parameter.
    """
    name = getattr(func, "__qualname__", repr(func))
    if not is_async_callable(func):
        raise ConfigurationError(f"WebSocket handler {name!r} must be an async function.")
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    parameters = [
        p for p in inspect.signature(func).parameters.values() if p.name not in param_names
    ]
    target = next((p.name for p in parameters if hints.get(p.name) is WebSocket), None) or next(
        (p.name for p in parameters if p.name in ("websocket", "ws")), None
    )
    if target is None and parameters:
        target = parameters[0].name
    if target is None:
        raise ConfigurationError(
            f"WebSocket handler {name!r} needs a parameter for the connection, e.g. "
            "`async def handler(websocket: WebSocket)`."
        )
    socket_name = target

    def bind(connection: Any, path_values: dict[str, Any]) -> dict[str, Any]:
        return {socket_name: connection, **path_values}

    return HandlerPlan(func, True, False, bind)


class SocketDispatcher:
    """Serves ``websocket`` scopes for one app.

    Args:
        app: The app, handed to each `WebSocket` as ``websocket.app``.
        router: Path -> WebSocket endpoints.
        pipeline: The HTTP pipeline, whose screen and refusal path handshakes share.
        settings: The app's settings (Origin policy, message limits, timeouts).
        guards: Each protected WebSocket endpoint's auth guard.
    """

    __slots__ = ("_app", "_guards", "_limits", "_pipeline", "_router", "_settings", "_timeout")

    def __init__(
        self,
        app: RequestApp,
        router: Router[Endpoint],
        pipeline: Pipeline,
        settings: Settings,
        guards: Mapping[Endpoint, Guard] | None = None,
    ) -> None:
        self._app = app
        self._router = router
        self._pipeline = pipeline
        self._settings = settings
        self._guards = dict(guards or {})
        self._limits = SocketLimits.from_settings(settings)
        self._timeout = settings.WEBSOCKET_HANDSHAKE_TIMEOUT

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve one ASGI websocket scope."""
        app = self._app
        scope, refusal = self._pipeline.admit(scope)
        path: str = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        match = self._router.match(path)
        endpoint = match[0].targets["GET"] if match else None
        params = match[1] if match else {}
        request = Request(scope, receive, app, params, endpoint.name if endpoint else None)
        websocket = self._connection(scope, receive, send, request, endpoint)
        binding: RequestBinding = [request]
        tokens = (app_var.set(app), request_binding.set(binding))
        try:
            if refusal is None and endpoint is None:
                await websocket.deny(404, _NO_ROUTE)
                return
            if refusal is None:
                refusal = self.screen(scope)
            if refusal is not None:
                await self._refuse(request, websocket, refusal)
                return
            assert endpoint is not None
            await self._serve(endpoint, request, websocket, path)
        finally:
            binding[0] = None  # NOTE: see flasgo.context: nothing kept may reach the request
            request_binding.reset(tokens[1])
            app_var.reset(tokens[0])

    def _connection(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        request: Request,
        endpoint: Endpoint | None,
    ) -> WebSocket:
        async def violated(reason: str, code: int) -> None:
            log_security_event(reason, request, close_code=code)

        offered = endpoint.options.get("subprotocols", ()) if endpoint else ()
        return WebSocket(
            scope,
            receive,
            send,
            self._app,
            request.view_args,
            limits=self._limits,
            request=request,
            subprotocols=tuple(offered),
            on_violation=violated,
        )

    async def _serve(
        self, endpoint: Endpoint, request: Request, websocket: WebSocket, path: str
    ) -> None:
        """The session, the auth guard and the handler, within the handshake timeout."""
        try:
            async with asyncio.timeout(self._timeout) as deadline:
                # Once accepted, the connection lives as long as the handler wants.
                websocket.on_accept(lambda: deadline.reschedule(None))
                try:
                    await self._pipeline.load_session(request)
                except HTTPException as exc:  # a session store outage: 503
                    await _deny(websocket, exc)
                    return
                guard = self._guards.get(endpoint)
                if guard is not None:
                    refusal = await guard.check(request)
                    if refusal is not None:
                        await self._refuse(request, websocket, refusal)
                        return
                await _run(endpoint.plan, websocket, path)
        except TimeoutError:
            if websocket.accepted or websocket.closed:
                raise
            log.warning("websocket-handshake-timeout path=%s", path)
            await websocket.deny(408, _TIMED_OUT)

    async def _refuse(self, request: Request, websocket: WebSocket, refusal: Refusal) -> None:
        reason = _RENAMED.get(refusal.reason)
        if reason is not None:
            refusal = dataclasses.replace(refusal, reason=reason)
        await _deny(websocket, await self._pipeline.refuse(request, refusal))

    def screen(self, scope: dict[str, Any]) -> Refusal | None:
        """The Origin check of a handshake (CSWSH defence), after the HTTP screen."""
        settings = self._settings
        if not settings.WEBSOCKET_ENFORCE_ORIGIN:
            return None
        headers = scope["headers"]
        origins = [value.decode("latin-1") for name, value in headers if name == b"origin"]
        if not origins:
            if settings.WEBSOCKET_ALLOW_MISSING_ORIGIN:
                return None
            missing = Forbidden("WebSocket handshake without an Origin header.")
            return Refusal(missing, "websocket-origin-failed")
        hosts = [value for name, value in headers if name == b"host"]
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        own = _own_origin(scheme, hosts[0]) if len(hosts) == 1 else None
        origin = _origin_or_none(origins[0]) if len(origins) == 1 else None
        if origin is not None and (
            origin == own or origin in _allowed_origins(settings.WEBSOCKET_ALLOWED_ORIGINS)
        ):
            return None
        return Refusal(Forbidden("WebSocket origin not allowed."), "websocket-origin-failed")


async def _deny(websocket: WebSocket, error: HTTPException) -> None:
    await websocket.deny(error.status_code, error.detail, headers=error.headers or None)


async def _run(plan: HandlerPlan, websocket: WebSocket, path: str) -> None:
    try:
        await plan.func(**plan.bind(websocket, websocket.path_params))
    except WebSocketDisconnect:
        pass
    except WebSocketException as exc:
        if not websocket.closed:
            await websocket.close(exc.code, exc.reason)
        return
    except Exception:
        log.exception("websocket-handler-failed path=%s", path)
        if websocket.accepted:
            await websocket.close(1011)
        elif not websocket.closed:
            await websocket.deny(500, "Internal Server Error")
        return
    if not websocket.accepted and not websocket.closed:
        await websocket.deny(403, "WebSocket was not accepted")
    elif not websocket.closed:
        await websocket.close(1000)


def _origin_or_none(value: str) -> Origin | None:
    try:
        return parse_origin(value)
    except InvalidHostError:  # "null" included: an opaque origin matches nothing
        return None


def _own_origin(scheme: str, raw_host: bytes) -> Origin | None:
    try:
        return request_origin(scheme, raw_host.decode("latin-1"))
    except InvalidHostError:
        return None


@lru_cache(maxsize=8)
def _allowed_origins(entries: frozenset[str]) -> frozenset[Origin]:
    """``WEBSOCKET_ALLOWED_ORIGINS`` parsed once per settings value."""
    allowed: set[Origin] = set()
    for entry in entries:
        try:
            allowed.add(parse_origin(entry, config=True))
        except InvalidHostError as exc:
            raise ConfigurationError(
                f"WEBSOCKET_ALLOWED_ORIGINS entry {entry!r} {exc.problem}; list origins such "
                "as 'https://example.com'"
            ) from None
    return frozenset(allowed)
