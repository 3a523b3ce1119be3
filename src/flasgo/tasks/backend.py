"""The `TaskBackend` protocol: what the queue and the workers need from a task store.

A backend stores each task durably before `enqueue` returns and hands tasks to workers under
a lease: `claim` takes the best ready task (highest priority, then earliest, then oldest) or
one whose lease ran out (its worker died), and every later call proves it still holds the
lease with the claim's token. Backends: `flasgo.tasks.sqlite` (embedded, the default) and
`flasgo.tasks.redis` (several machines).
"""

from __future__ import annotations

from typing import Literal, Protocol

from flasgo.tasks.model import Claim, TaskInfo

__all__ = ["LeaseState", "NewTask", "TaskBackend"]

LeaseState = Literal["held", "lost", "cancelled"]
"""What `TaskBackend.extend` found: the lease is still ours, another worker has the task
(or it finished), or cancellation was asked for."""


class NewTask(Protocol):
    """The fields of a task to enqueue (a `flasgo.tasks.queue.Submission`)."""

    @property
    def name(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def priority(self) -> int: ...
    @property
    def run_at(self) -> float: ...
    @property
    def idempotency_key(self) -> str | None: ...


class TaskBackend(Protocol):
    """A durable task store. Every method may raise `TaskBackendError`."""

    async def open(self) -> None:
        """Connect and check the store (called once at startup; a broken store fails here)."""
        ...

    async def close(self) -> None:
        """Release connections; the store keeps every task."""
        ...

    async def enqueue(self, task: NewTask) -> tuple[str, bool]:
        """Store `task` durably; return its id and whether it is new (False: a task with the
        same name and idempotency key already exists, and its id is returned)."""
        ...

    async def claim(self, queue: str, *, worker: str, lease: float) -> Claim | None:
        """Take the next ready task of `queue` for `lease` seconds, or None."""
        ...

    async def extend(self, claim: Claim, lease: float) -> LeaseState:
        """Renew the lease for `lease` seconds from now (the worker's heartbeat)."""
        ...

    async def complete(self, claim: Claim, result: bytes) -> bool:
        """Mark the task done with its encoded result; False when the lease was lost."""
        ...

    async def retry(self, claim: Claim, error: str, run_at: float) -> bool:
        """Queue the task again for `run_at` after a failure; False when the lease was lost."""
        ...

    async def bury(self, claim: Claim, error: str, state: Literal["dead", "cancelled"]) -> bool:
        """End the task as dead-lettered or cancelled; False when the lease was lost."""
        ...

    async def release(self, claim: Claim) -> bool:
        """Hand the task back untouched (drain at shutdown): queued again, this attempt not
        counted; False when the lease was lost."""
        ...

    async def info(self, task_id: str) -> TaskInfo | None:
        """The task's current state, or None for an unknown id."""
        ...

    async def cancel(self, task_id: str) -> bool:
        """Cancel a queued task now, or ask the worker running it to stop; False when the
        task is unknown or already final."""
        ...

    async def in_state(self, state: str, *, limit: int = 100) -> list[TaskInfo]:
        """Tasks in `state`, oldest first (e.g. the dead letters)."""
        ...
