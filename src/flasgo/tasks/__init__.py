"""Durable background tasks: ``@app.task``, a store that survives ``kill -9``, workers.

`TaskQueue` (``app.tasks``) registers task functions and enqueues calls; a `Worker` (``flasgo
worker APP``) runs them at least once. Backends: `SQLiteTaskBackend` (embedded, the default)
and `(later) a Redis backend for several machines.
"""

from flasgo.tasks.backend import LeaseState, TaskBackend
from flasgo.tasks.model import (
    TaskArgumentsError,
    TaskBackendError,
    TaskError,
    TaskFailedError,
    TaskInfo,
    TaskState,
    UnknownTaskError,
)
from flasgo.tasks.queue import Task, TaskHandle, TaskOptions, TaskQueue
from flasgo.tasks.sqlite import SQLiteTaskBackend
from flasgo.tasks.worker import Worker

__all__ = [
    "LeaseState",
    "SQLiteTaskBackend",
    "Task",
    "TaskArgumentsError",
    "TaskBackend",
    "TaskBackendError",
    "TaskError",
    "TaskFailedError",
    "TaskHandle",
    "TaskInfo",
    "TaskOptions",
    "TaskQueue",
    "TaskState",
    "UnknownTaskError",
    "Worker",
]
