"""`BackgroundTasks`: work a handler queues to run after its response has been sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flasgo.concurrency import is_async_callable

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool

__all__ = ["BackgroundTasks"]

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
