"""WebSocket dispatch: compiling WebSocket handlers, and serving a ``websocket`` scope.

A handshake passes the Host allowlist and the Origin check (cross-site WebSocket hijacking)
before the handler runs; a refusal is a `Refusal` logged with its reason code and answered
with an HTTP denial. The dispatcher is built once, when the app is compiled.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flasgo.concurrency import is_async_callable
from flasgo.context import app_var
from flasgo.exceptions import BadRequest, ConfigurationError, Forbidden
from flasgo.handlers import HandlerPlan
from flasgo.origin import InvalidHostError, Origin, parse_origin, request_origin
from flasgo.request import Request
from flasgo.security.events import log_security_event
from flasgo.security.refusal import Refusal
from flasgo.websocket import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.request import RequestApp
    from flasgo.routing import Router
    from flasgo.security.hosts import HostValidator
    from flasgo.settings import Settings

__all__ = ["SocketDispatcher", "compile_websocket_handler"]

log = logging.getLogger("flasgo.websocket")


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
        hosts: The ``ALLOWED_HOSTS`` check, or None when it is off.
        settings: The app's settings (Origin policy, message limits).
    """

    __slots__ = ("_app", "_hosts", "_router", "_settings")

    def __init__(
        self,
        app: RequestApp,
        router: Router[Endpoint],
        hosts: HostValidator | None,
        settings: Settings,
    ) -> None:
        self._app = app
        self._router = router
        self._hosts = hosts
        self._settings = settings

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve one ASGI websocket scope."""
        app = self._app
        path: str = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        match = self._router.match(path)
        websocket = WebSocket(scope, receive, send, app, match[1] if match else {})
        token = app_var.set(app)
        try:
            if match is None:
                await websocket.deny(404, "No WebSocket route matches this path.")
                return
            refusal = self.screen(scope)
            if refusal is not None:
                error = refusal.error
                log_security_event(
                    refusal.reason, Request(scope, receive, app), status=error.status_code
                )
                await websocket.deny(error.status_code, error.detail)
                return
            await _run(match[0].targets["GET"].plan, websocket, path)
        finally:
            app_var.reset(token)

    def screen(self, scope: dict[str, Any]) -> Refusal | None:
        """The Host allowlist and the Origin check of a handshake (CSWSH defence)."""
        headers = scope["headers"]
        validator = self._hosts
        hosts = [value for name, value in headers if name == b"host"]
        if validator is not None and (len(hosts) != 1 or not validator.is_allowed(hosts[0])):
            return Refusal(BadRequest("Invalid Host header."), "websocket-host-failed")
        settings = self._settings
        if not settings.WEBSOCKET_ENFORCE_ORIGIN:
            return None
        origins = [value.decode("latin-1") for name, value in headers if name == b"origin"]
        if not origins:
            if settings.WEBSOCKET_ALLOW_MISSING_ORIGIN:
                return None
            missing = Forbidden("WebSocket handshake without an Origin header.")
            return Refusal(missing, "websocket-origin-failed")
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        own = _own_origin(scheme, hosts[0]) if len(hosts) == 1 else None
        origin = _origin_or_none(origins[0]) if len(origins) == 1 else None
        if origin is not None and (
            origin == own or origin in _allowed_origins(settings.WEBSOCKET_ALLOWED_ORIGINS)
        ):
            return None
        return Refusal(Forbidden("WebSocket origin not allowed."), "websocket-origin-failed")


async def _run(plan: HandlerPlan, websocket: WebSocket, path: str) -> None:
    try:
        await plan.func(**plan.bind(websocket, websocket.path_params))
    except WebSocketDisconnect:
        pass
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
