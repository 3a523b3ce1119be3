"""`TaskQueue`: the registry of task functions and the producer side of the task store;
`Task`, a registered function (``.delay()``, ``.enqueue()``); `TaskHandle`, an enqueued task.

The queue knows its backend lazily (opened on first use or at startup by `open`), so
registering tasks at import costs nothing and opens no file.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, ParamSpec, TypeVar

from flasgo.exceptions import ConfigurationError
from flasgo.tasks.backend import TaskBackend
from flasgo.tasks.model import TaskFailedError, TaskInfo, UnknownTaskError, encode_payload

__all__ = ["Submission", "Task", "TaskHandle", "TaskOptions", "TaskQueue"]

P = ParamSpec("P")
R = TypeVar("R")

_is_name: Final = re.compile(r"[A-Za-z_][\w.:-]{0,199}").fullmatch
_MAX_KEY_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """How a task runs (set with ``@app.task(...)``).

    Attributes:
        queue: The queue it is enqueued on (workers choose queues and their concurrency).
        priority: Higher runs first among ready tasks of a queue.
        retries: Attempts after the first one before the task is dead-lettered.
        timeout: Seconds one attempt may run before it counts as failed; None: no limit.
        backoff: The first retry's delay in seconds; it doubles each attempt.
        backoff_max: The longest retry delay in seconds.
    """

    queue: str = "default"
    priority: int = 0
    retries: int = 3
    timeout: float | None = None
    backoff: float = 1.0
    backoff_max: float = 300.0

    def __post_init__(self) -> None:
        if not _is_name(self.queue):
            raise ConfigurationError(
                f"queue must be 1-200 letters, digits and _ . : -, got {self.queue!r}"
            )
        if type(self.retries) is not int or self.retries < 0:
            raise ConfigurationError(f"retries must be an int >= 0, got {self.retries!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigurationError(f"timeout must be > 0 seconds or None, got {self.timeout!r}")
        if not 0 < self.backoff <= self.backoff_max:
            raise ConfigurationError("backoff must be > 0 and at most backoff_max")

    def retry_delay(self, attempt: int, jitter: float) -> float:
        """The delay before the retry that follows failed `attempt` (from 1).

        Exponential (``backoff * 2**(attempt-1)``, capped at `backoff_max`) with jitter:
        `jitter` in [0, 1) scales it to between half and all of that, so that tasks that
        failed together do not retry together.
        """
        exponent = min(attempt - 1, 62)
        delay = min(self.backoff_max, self.backoff * 2.0**exponent)
        return delay * (0.5 + jitter / 2)


@dataclass(frozen=True, slots=True)
class Submission:
    """A task to store (what `TaskBackend.enqueue` receives)."""

    name: str
    queue: str
    payload: bytes
    priority: int
    run_at: float
    idempotency_key: str | None


class TaskHandle:
    """An enqueued task: its id, and ways to follow it.

    Attributes:
        id: The task id.
        created: False when an idempotency key matched an existing task (this is that one).
    """

    __slots__ = ("_queue", "created", "id")

    def __init__(self, queue: TaskQueue, task_id: str, *, created: bool = True) -> None:
        self._queue = queue
        self.id = task_id
        self.created = created

    def __repr__(self) -> str:
        return f"TaskHandle({self.id!r})"

    async def info(self) -> TaskInfo:
        """The task's current state (see `TaskQueue.info`)."""
        return await self._queue.info(self.id)

    async def result(self, *, poll: float = 0.05) -> Any:
        """Wait for the task to finish and return its result (see `TaskQueue.result`)."""
        return await self._queue.result(self.id, poll=poll)

    async def cancel(self) -> bool:
        """Cancel the task (see `TaskQueue.cancel`)."""
        return await self._queue.cancel(self.id)


class Task(Generic[P, R]):
    """A function registered with ``@app.task``: calling it runs it here and now;
    `delay` and `enqueue` store it for a worker."""

    def __init__(
        self, queue: TaskQueue, func: Callable[P, R], name: str, options: TaskOptions
    ) -> None:
        self.queue = queue
        self.func = func
        self.name = name
        self.options = options
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<Task {self.name!r} queue={self.options.queue!r}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    async def delay(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle:
        """Enqueue a call with the task's default options; durable when it returns.

        Raises:
            TaskArgumentsError: An argument cannot be serialised (nothing is stored).
            TaskBackendError: The task store cannot be written.
        """
        return await self.enqueue(args, kwargs)

    async def enqueue(
        self,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        countdown: float | None = None,
        eta: datetime.datetime | float | None = None,
        idempotency_key: str | None = None,
    ) -> TaskHandle:
        """Enqueue a call with options; durable when it returns.

        Args:
            args: Positional arguments (JSON-serialisable).
            kwargs: Keyword arguments (JSON-serialisable).
            priority: Overrides the task's priority (higher runs first).
            countdown: Run no sooner than this many seconds from now.
            eta: Run no sooner than this time (an aware datetime or Unix seconds).
            idempotency_key: A task of this name with the same key is stored once: a second
                enqueue returns the first task's handle (with ``created`` False).

        Raises:
            TaskArgumentsError: An argument cannot be serialised (nothing is stored).
            TaskBackendError: The task store cannot be written.
            ValueError: Both `countdown` and `eta`, a naive `eta`, or a bad key.
        """
        return await self.queue.submit(
            Submission(
                name=self.name,
                queue=self.options.queue,
                payload=encode_payload(args, kwargs or {}),
                priority=self.options.priority if priority is None else int(priority),
                run_at=_run_at(countdown, eta),
                idempotency_key=_check_key(idempotency_key),
            )
        )


def _run_at(countdown: float | None, eta: datetime.datetime | float | None) -> float:
    now = time.time()
    if countdown is not None and eta is not None:
        raise ValueError("Give countdown or eta, not both")
    if countdown is not None:
        return now + max(0.0, float(countdown))
    if isinstance(eta, datetime.datetime):
        if eta.tzinfo is None:
            raise ValueError("eta must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return eta.timestamp()
    return now if eta is None else float(eta)


def _check_key(key: str | None) -> str | None:
    if key is not None and not 0 < len(key) <= _MAX_KEY_LENGTH:
        raise ValueError(f"idempotency_key must be a string of 1-{_MAX_KEY_LENGTH} characters")
    return key


class TaskQueue:
    """The app's tasks: the registry (name -> `Task`) and the store they are enqueued in.

    Args:
        backend: The store, or a factory called on first use (so nothing opens at import).
    """

    def __init__(self, backend: TaskBackend | Callable[[], TaskBackend]) -> None:
        self._backend: TaskBackend | None = None
        self._factory: Callable[[], TaskBackend] | None = None
        if callable(backend) and not hasattr(backend, "claim"):
            self._factory = backend
        else:
            self._backend = backend  # type: ignore[assignment]  # a TaskBackend, checked above
        self.registry: dict[str, Task[Any, Any]] = {}

    @property
    def backend(self) -> TaskBackend:
        """The task store (made on first use)."""
        if self._backend is None:
            factory = self._factory
            assert factory is not None  # one of the two is always set
            self._backend = factory()
        return self._backend

    def register(
        self, func: Callable[P, R], *, name: str | None = None, **options: Any
    ) -> Task[P, R]:
        """Register `func` (sync or async) as a task; see `TaskOptions` for `options`.

        Raises:
            ConfigurationError: The name is taken or invalid, or an option is invalid.
        """
        task_name = name or f"{func.__module__}.{func.__qualname__}"
        if not _is_name(task_name) or "<" in task_name:
            raise ConfigurationError(
                f"Task name {task_name!r} is not usable; pass name='...' (letters, digits, "
                "_ . : -) to @app.task"
            )
        if task_name in self.registry:
            raise ConfigurationError(
                f"A task named {task_name!r} is already registered; pass name='...'"
            )
        task: Task[P, R] = Task(self, func, task_name, TaskOptions(**options))
        self.registry[task_name] = task
        return task

    async def open(self) -> None:
        """Open the store now (at startup), so a broken one fails before serving.

        Raises:
            TaskBackendError: The store cannot be used.
        """
        await self.backend.open()

    async def close(self) -> None:
        """Close the store if it was opened."""
        if self._backend is not None:
            await self._backend.close()

    async def submit(self, submission: Submission) -> TaskHandle:
        """Store a prepared task (what `Task.enqueue` calls)."""
        task_id, created = await self.backend.enqueue(submission)
        return TaskHandle(self, task_id, created=created)

    async def info(self, task_id: str) -> TaskInfo:
        """The task's current state.

        Raises:
            UnknownTaskError: No task has that id.
        """
        info = await self.backend.info(task_id)
        if info is None:
            raise UnknownTaskError(f"No task with id {task_id!r}")
        return info

    async def result(self, task_id: str, *, poll: float = 0.05) -> Any:
        """Wait until the task is final; return its result. Bound the wait with
        ``async with asyncio.timeout(...)``.

        Raises:
            UnknownTaskError: No task has that id.
            TaskFailedError: It was dead-lettered or cancelled (the error says why).
        """
        while True:
            info = await self.info(task_id)
            if info.state == "done":
                return info.result
            if info.is_final:
                raise TaskFailedError(info)
            await asyncio.sleep(poll)

    async def cancel(self, task_id: str) -> bool:
        """Cancel a queued task now, or stop a running one at its worker's next heartbeat.

        Returns:
            False when the task is unknown or already final.
        """
        return await self.backend.cancel(task_id)

    async def dead_letters(self, *, limit: int = 100) -> list[TaskInfo]:
        """The dead-lettered tasks, oldest first."""
        return await self.backend.in_state("dead", limit=limit)
