"""A portal: an event loop on its own thread that synchronous test code submits coroutines to."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Portal", "run_with_timeout"]

T = TypeVar("T")

# NOTE: how long `stop()` waits for the loop thread; only an app that ignores cancellation
# while blocking the loop can make it wait this long.
_JOIN_TIMEOUT = 10.0


async def run_with_timeout(coro: Coroutine[Any, Any, T], seconds: float, what: str) -> T:
    """Await `coro`, cancelling it and raising a descriptive TimeoutError after `seconds`.

    Raises:
        TimeoutError: `coro` did not finish in time (an app's own TimeoutError passes unchanged).
    """
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await coro
    except TimeoutError as exc:
        if deadline.expired():
            message = f"{what} did not finish within {seconds:g} s (the TestClient's timeout)"
            raise TimeoutError(message) from exc
        raise


def _in_context(coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    """`coro` to run as a task in a copy of the caller's context (ContextVars carry over).

    NOTE: a request made inside ``with app.override_dependencies(...)`` must see the
    overrides, as it does when the client runs the app on the caller's own thread.
    """
    context = contextvars.copy_context()

    async def run() -> T:
        return await asyncio.get_running_loop().create_task(coro, context=context)

    return run()


class Portal:
    """Run coroutines on a dedicated event-loop thread and wait for their results.

    `start()` launches the thread (a regular, non-daemon thread), `stop()` ends the loop the way
    `asyncio.run` does (cancelling leftover tasks, closing async generators) and joins it.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; only valid between `start()` and `stop()`."""
        if self._loop is None:
            raise RuntimeError("the portal is not running")
        return self._loop

    def is_current_thread(self) -> bool:
        """Tell whether the caller runs on the portal's own loop thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the loop thread and wait until its loop runs."""
        if self._thread is not None:
            raise RuntimeError("the portal is already running")
        self._thread = threading.Thread(target=self._main, name="flasgo-testclient-portal")
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        """Stop the loop (cancelling what still runs on it) and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        thread.join(_JOIN_TIMEOUT)
        self._thread = self._loop = self._stopping = None
        self._ready.clear()
        if thread.is_alive():  # pragma: no cover - needs an app that blocks the loop forever
            raise RuntimeError("the test client's event-loop thread did not stop")

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the portal loop and return its result (or raise its exception)."""
        if self.is_current_thread():
            coro.close()
            raise RuntimeError("a synchronous TestClient call cannot run on the client's own loop")
        future = asyncio.run_coroutine_threadsafe(_in_context(coro), self.loop)
        return future.result()

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the portal loop and await its result from another loop."""
        future = asyncio.run_coroutine_threadsafe(_in_context(coro), self.loop)
        return await asyncio.wrap_future(future)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()
