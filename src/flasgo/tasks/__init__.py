"""Durable background tasks: ``@app.task``, a store that survives ``kill -9``, workers.

`TaskQueue` (``app.tasks``) registers task functions and enqueues calls; a `Worker` (``flasgo
worker APP``) runs them at least once. Backends: `SQLiteTaskBackend` (embedded, the default)
and `RedisTaskBackend` (Redis Streams with consumer groups, for several machines).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from flasgo.tasks.redis import RedisTaskBackend
    from flasgo.tasks.sqlite import SQLiteTaskBackend
    from flasgo.tasks.worker import Worker

__all__ = [
    "LeaseState",
    "RedisTaskBackend",
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

# PERF: `import flasgo` loads only the queue (the app needs it); the store, the worker and
# sqlite3 load when first named.
_HOMES = {
    "LeaseState": "backend",
    "TaskBackend": "backend",
    "SQLiteTaskBackend": "sqlite",
    "RedisTaskBackend": "redis",
    "Worker": "worker",
    "Task": "queue",
    "TaskHandle": "queue",
    "TaskOptions": "queue",
    "TaskQueue": "queue",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'flasgo.tasks' has no attribute {name!r}")
    module = importlib.import_module(f"flasgo.tasks.{_HOMES.get(name, 'model')}")
    return getattr(module, name)
