"""Work left for after the response: `BackgroundTasks` and a request's `Deferred` state.

A handler queues `BackgroundTasks`; generator dependencies leave their exits. Both are kept in
the request's `Deferred` (under `DEFERRED_KEY` in the ASGI scope, absent when there is none)
and run by `flasgo.dependencies.finish_request` once the response has been sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from flasgo.concurrency import is_async_callable

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool

__all__ = ["DEFERRED_KEY", "BackgroundTasks", "Deferred", "deferred_state"]

log = logging.getLogger("flasgo.background")


class BackgroundTasks:
    """Calls to make once the response is sent, in the order they were added.

    Declare a parameter ``tasks: BackgroundTasks`` and the handler gets this request's
    collection. Async functions run on the loop, sync ones in the app's thread pool; a failing
    task is logged on ``flasgo.background`` and the next one still runs. Nothing runs when the
    handler failed.
    """

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add_task(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Queue ``func(*args, **kwargs)``."""
        self._tasks.append((func, args, kwargs))

    def __len__(self) -> int:
        return len(self._tasks)

    async def run(self, pool: ThreadPool) -> None:
        """Run every queued task once; failures are logged, never raised."""
        tasks, self._tasks = self._tasks, []
        for func, args, kwargs in tasks:
            try:
                if is_async_callable(func):
                    await func(*args, **kwargs)
                else:
                    await pool.run(func, *args, **kwargs)
            except Exception:
                log.exception("background-task-failed task=%s", getattr(func, "__qualname__", func))


DEFERRED_KEY = "flasgo.deferred"
"""The ASGI scope key holding a request's `Deferred` work (absent when there is none)."""


class Deferred:
    """Work a request leaves for after its response: generator exits and background tasks."""

    __slots__ = ("exits", "tasks")

    def __init__(self) -> None:
        self.exits: list[Any] = []
        self.tasks: BackgroundTasks | None = None

    def background_tasks(self) -> BackgroundTasks:
        """This request's `BackgroundTasks` (created on first use)."""
        tasks = self.tasks
        if tasks is None:
            tasks = self.tasks = BackgroundTasks()
        return tasks


class _Connection(Protocol):
    # NOTE: only the scope is needed; this module stays below `flasgo.request`.
    scope: dict[str, Any]


def deferred_state(request: _Connection) -> Deferred:
    """The request's `Deferred`, created on first use."""
    state: Deferred | None = request.scope.get(DEFERRED_KEY)
    if state is None:
        state = request.scope[DEFERRED_KEY] = Deferred()
    return state
