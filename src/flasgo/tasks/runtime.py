"""How an app runs its tasks: the backend its settings choose, the worker its settings
shape, and `TaskService`, the lifespan part (open the store at startup so a broken one stops
the app, optionally run a worker in the process, drain and close at shutdown)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from typing import Protocol

from flasgo.context import app_var
from flasgo.exceptions import ConfigurationError
from flasgo.request import RequestApp
from flasgo.settings import Settings
from flasgo.tasks.backend import TaskBackend
from flasgo.tasks.queue import TaskQueue
from flasgo.tasks.sqlite import SQLiteTaskBackend
from flasgo.tasks.worker import Worker

__all__ = ["TaskApp", "TaskService", "make_worker", "run_worker", "task_backend"]

log = logging.getLogger("flasgo.tasks")


class TaskApp(RequestApp, Protocol):
    """What running a worker needs from the app: its task queue and settings."""

    @property
    def tasks(self) -> TaskQueue: ...


def task_backend(settings: Settings) -> TaskBackend:
    """The task store `settings` choose (``TASKS_BACKEND``): Redis Streams at ``REDIS_URL``
    for ``"redis"`` (and ``"auto"`` when ``REDIS_URL`` is set), else the SQLite file
    ``TASKS_DATABASE``.

    Raises:
        ConfigurationError: ``"redis"`` without ``REDIS_URL``, or redis-py is missing.
    """
    kind = settings.TASKS_BACKEND
    if kind == "redis" or (kind == "auto" and settings.REDIS_URL):
        if not settings.REDIS_URL:
            raise ConfigurationError("TASKS_BACKEND='redis' needs REDIS_URL; set it")
        from flasgo.tasks.redis import RedisTaskBackend

        # NOTE: at least 5 s: a claim script may move many due tasks in one call.
        timeout = max(5.0, settings.REDIS_TIMEOUT_SECONDS)
        return RedisTaskBackend.from_url(settings.REDIS_URL, timeout=timeout)
    return SQLiteTaskBackend(settings.TASKS_DATABASE)


def make_worker(
    queue: TaskQueue,
    settings: Settings,
    *,
    queues: Iterable[str] | None = None,
    concurrency: int | None = None,
) -> Worker:
    """A `Worker` for `queue` shaped by the ``TASKS_*`` settings.

    Args:
        queue: The app's task queue.
        settings: The app's settings.
        queues: The queues to run; default: every queue a registered task uses.
        concurrency: Tasks per queue at once; default ``TASKS_CONCURRENCY``.
    """
    names = list(queues or sorted({task.options.queue for task in queue.registry.values()}))
    limit = concurrency or settings.TASKS_CONCURRENCY
    return Worker(
        queue,
        queues=dict.fromkeys(names or ["default"], limit),
        lease=settings.TASKS_LEASE_SECONDS,
        drain=settings.TASKS_DRAIN_SECONDS,
    )


class TaskService:
    """The app's lifespan part for tasks: `start` and `stop` are startup/shutdown hooks."""

    def __init__(self, queue: TaskQueue, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings
        self.worker: Worker | None = None
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the store (a broken one fails startup); start the in-process worker if asked.

        Raises:
            TaskBackendError: The store cannot be used.
        """
        await self.queue.open()
        if self.settings.TASKS_IN_PROCESS_WORKER:
            self.worker = make_worker(self.queue, self.settings)
            self._running = asyncio.get_running_loop().create_task(self.worker.run())

    async def stop(self) -> None:
        """Drain the in-process worker, then close the store."""
        worker, running = self.worker, self._running
        self.worker = self._running = None
        try:
            if worker is not None and running is not None:
                worker.stop()
                await running
        finally:
            await self.queue.close()


def run_worker(
    app: TaskApp,
    *,
    queues: Iterable[str] = (),
    concurrency: int | None = None,
    on_ready: Callable[[Worker], None] | None = None,
) -> None:
    """Run a worker for `app` in this process until SIGINT or SIGTERM, then drain
    (``flasgo worker``). Tasks see the app as `current_app`; `on_ready` is called once the
    signals are handled (from then on SIGTERM drains).

    Raises:
        TaskBackendError: The store cannot be used.
    """
    worker = make_worker(app.tasks, app.settings, queues=queues, concurrency=concurrency)

    async def main() -> None:
        app_var.set(app)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, worker.stop)
        if on_ready is not None:
            on_ready(worker)
        try:
            await worker.run()
        finally:
            await app.tasks.close()

    asyncio.run(main())
