"""The ASGI lifespan protocol as the test client runs it around a `with` block."""

from __future__ import annotations

import asyncio
from typing import Any

from flasgo.testing.asgi import ASGI_VERSION, ASGIApp, Message
from flasgo.testing.channel import MAX_PENDING, call_app, finish_task, next_message

__all__ = ["Lifespan"]


class Lifespan:
    """Send `lifespan.startup` / `lifespan.shutdown` to an app and check its answers.

    An app that raises on the lifespan scope, or returns without answering, does not support
    lifespan; that is tolerated and the client then runs without it (and without `state`).

    Attributes:
        state: The lifespan state dict (ASGI lifespan state extension); request scopes receive a
            shallow copy of it when the app supports lifespan.
        is_supported: Whether the app completed startup.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.state: dict[str, Any] = {}
        self.is_supported = False
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue(MAX_PENDING)
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Run startup.

        Raises:
            RuntimeError: the app sent `lifespan.startup.failed` (with the app's message).
            AssertionError: the app sent an unexpected message.
        """
        scope = {"type": "lifespan", "asgi": dict(ASGI_VERSION), "state": self.state}
        task = asyncio.create_task(call_app(self._app, scope, self._to_app.get, self._send))
        self._task = task
        self._to_app.put_nowait({"type": "lifespan.startup"})
        message = await next_message(self._from_app, task)
        if message is None:
            # NOTE: ASGI says a server continues without lifespan when the app raises here.
            await finish_task(task, cancel=False)
            return
        try:
            kind = self._answer(message, "startup")
        except AssertionError:
            await finish_task(task, cancel=True)
            raise
        if kind == "lifespan.startup.failed":
            await finish_task(task, cancel=False)
            raise RuntimeError(f"lifespan startup failed: {message.get('message', '')}")
        self.is_supported = True

    async def shutdown(self) -> None:
        """Run shutdown (nothing when the app does not support lifespan).

        Raises:
            RuntimeError: the app sent `lifespan.shutdown.failed`.
            AssertionError: the app answered wrongly or returned without answering.
        """
        task = self._task
        if task is None or not self.is_supported:
            return
        self._task = None
        self._to_app.put_nowait({"type": "lifespan.shutdown"})
        message = await next_message(self._from_app, task)
        error = await finish_task(task, cancel=False)
        if error is not None:
            raise error
        if message is None:
            raise AssertionError("app returned without answering lifespan.shutdown")
        if self._answer(message, "shutdown") == "lifespan.shutdown.failed":
            raise RuntimeError(f"lifespan shutdown failed: {message.get('message', '')}")

    @staticmethod
    def _answer(message: Message, phase: str) -> str:
        kind = message.get("type")
        if kind not in {f"lifespan.{phase}.complete", f"lifespan.{phase}.failed"}:
            raise AssertionError(f"invalid ASGI message: {kind!r} in answer to lifespan.{phase}")
        text = message.get("message", "")
        if not isinstance(text, str):
            raise AssertionError(f"invalid ASGI message: {kind} 'message' must be a str")
        return str(kind)

    async def _send(self, message: Message) -> None:
        await self._from_app.put(message)
