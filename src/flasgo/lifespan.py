"""The ASGI lifespan protocol: startup/shutdown hooks and `@app.lifespan` contexts."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from flasgo.concurrency import is_async_callable
from flasgo.context import app_var
from flasgo.request import RequestApp

__all__ = ["Lifespan", "LifespanApp"]


class LifespanApp(RequestApp, Protocol):
    """What the lifespan needs from the app: compiling it, and what to close at shutdown."""

    @property
    def sessions(self) -> object:
        """The session backend (a server-side one's store is closed at shutdown)."""
        ...

    def freeze(self) -> object:
        """Compile the app for serving (once)."""
        ...


log = logging.getLogger("flasgo.lifespan")


class Lifespan:
    """Runs an app's startup and shutdown work, in the ASGI lifespan scope or by hand."""

    def __init__(self, app: LifespanApp) -> None:
        self.app = app
        self.startup: list[Callable[..., Any]] = []
        self.shutdown: list[Callable[..., Any]] = []
        self._contexts: list[Callable[..., Any]] = []
        self._stack: contextlib.AsyncExitStack | None = None

    def add_context(self, func: Callable[..., Any]) -> None:
        """Register an async generator function or an async context manager factory."""
        if not (inspect.isasyncgenfunction(func) or callable(func)):
            raise TypeError("@app.lifespan needs an async generator function")
        self._contexts.append(func)

    def _open(self, func: Callable[..., Any]) -> AbstractAsyncContextManager[Any]:
        wants_app = _takes_argument(func)
        if inspect.isasyncgenfunction(func):
            factory = contextlib.asynccontextmanager(func)
            return factory(self.app) if wants_app else factory()
        manager = func(self.app) if wants_app else func()
        if not hasattr(manager, "__aenter__"):
            raise TypeError(
                f"@app.lifespan function {func.__qualname__!r} must be an async generator "
                "(code, then `yield`, then cleanup) or return an async context manager."
            )
        return manager  # type: ignore[no-any-return]

    async def _call(self, func: Callable[..., Any]) -> None:
        if is_async_callable(func):
            await func()
        else:
            await self.app.thread_pool.run(func)

    async def start(self) -> None:
        """Freeze the app and run every startup hook and lifespan context."""
        self.app.freeze()
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            for func in self._contexts:
                await stack.enter_async_context(self._open(func))
            for func in self.startup:
                await self._call(func)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        """Run every shutdown hook, close the lifespan contexts, stop the thread pool."""
        stack, self._stack = self._stack, None
        try:
            for func in self.shutdown:
                await self._call(func)
            store = getattr(self.app.sessions, "store", None)  # server-side sessions
            if store is not None:
                await store.close()
        finally:
            try:
                if stack is not None:
                    await stack.aclose()
            finally:
                self.app.thread_pool.shutdown()

    async def run(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve one ASGI lifespan scope."""
        token = app_var.set(self.app)
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "lifespan.startup":
                    try:
                        await self.start()
                    except BaseException as exc:
                        log.exception("lifespan-startup-failed")
                        await send({"type": "lifespan.startup.failed", "message": _describe(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif kind == "lifespan.shutdown":
                    try:
                        await self.stop()
                    except BaseException as exc:
                        log.exception("lifespan-shutdown-failed")
                        await send({"type": "lifespan.shutdown.failed", "message": _describe(exc)})
                        return
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        finally:
            app_var.reset(token)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _takes_argument(func: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return len(parameters) >= 1
