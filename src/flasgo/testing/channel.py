"""The app-to-client message channel: a bounded queue read until the app task ends."""

from __future__ import annotations

import asyncio

from flasgo.testing.asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_PENDING", "call_app", "finish_task", "next_message"]

# NOTE: bounded so an app that streams forever waits for the test to read, like a real socket.
MAX_PENDING = 16


async def call_app(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Call `app` (wrapped in a coroutine, so any awaitable-returning app can become a task)."""
    await app(scope, receive, send)


async def next_message(queue: asyncio.Queue[Message], task: asyncio.Task[None]) -> Message | None:
    """Return the app's next message, or None once the app task ended and the queue is empty."""
    while True:
        if not queue.empty():
            return queue.get_nowait()
        if task.done():
            return None
        getter = asyncio.ensure_future(queue.get())
        try:
            await asyncio.wait((getter, task), return_when=asyncio.FIRST_COMPLETED)
        finally:
            getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()


async def finish_task(task: asyncio.Task[None], *, cancel: bool) -> BaseException | None:
    """Wait for the app task to end (cancelling it first if asked) and return its error, if any.

    A cancellation is not an error: it is how the client abandons an app it no longer needs.
    """
    if cancel and not task.done():
        task.cancel()
    await asyncio.wait((task,))
    if task.cancelled():
        return None
    return task.exception()
