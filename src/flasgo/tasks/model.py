"""What a task is once enqueued: its states, the `TaskInfo` users read, the `Claim` a worker
holds, the task errors, and the one payload codec (msgspec JSON) for arguments and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from flasgo.exceptions import FlasgoError
from flasgo.stores.base import StoreUnavailable

__all__ = [
    "FINAL_STATES",
    "Claim",
    "TaskArgumentsError",
    "TaskBackendError",
    "TaskError",
    "TaskFailedError",
    "TaskInfo",
    "TaskState",
    "UnknownTaskError",
    "decode_payload",
    "decode_result",
    "encode_payload",
    "encode_result",
]

TaskState = Literal["queued", "running", "done", "dead", "cancelled"]
"""``queued`` (waiting, or waiting for a retry), ``running`` (held under a lease), ``done``,
``dead`` (dead-lettered: out of retries or not retryable) and ``cancelled``."""

FINAL_STATES: Final = frozenset({"done", "dead", "cancelled"})

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder()


class TaskError(FlasgoError):
    """The root of the task errors."""


class TaskArgumentsError(TaskError, TypeError):
    """A task was enqueued with arguments that cannot be serialised (nothing was stored)."""


class TaskBackendError(TaskError, StoreUnavailable):
    """The task store cannot be used: unreadable or corrupted file, full disk, no server.

    The message says what failed and how to fix it; the cause is chained. Raised in a
    handler it answers 503 with ``Retry-After`` (a `StoreUnavailable`), never a 500.
    """

    def __str__(self) -> str:
        return self.reason


class UnknownTaskError(TaskError, LookupError):
    """No task of that name is registered (or no task with that id exists)."""


class TaskFailedError(TaskError):
    """The task ended without a result: dead-lettered or cancelled.

    Attributes:
        info: The task as it ended.
    """

    def __init__(self, info: TaskInfo) -> None:
        super().__init__(f"Task {info.id} ({info.name}) is {info.state}: {info.error}")
        self.info = info


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task as the store holds it now (a snapshot).

    Attributes:
        id: The task id (a string, unique per store).
        name: The registered task name.
        queue: The queue it runs on.
        state: Where it is (see `TaskState`).
        attempts: How many times a worker took it.
        priority: Higher runs first.
        run_at: When it may run next (Unix seconds).
        result: The decoded return value once ``done``; None before.
        error: The last failure, ``"ExcType: message"``; None when none happened.
        idempotency_key: The key it was enqueued with, if any.
    """

    id: str
    name: str
    queue: str
    state: TaskState
    attempts: int
    priority: int
    run_at: float
    result: Any
    error: str | None
    idempotency_key: str | None

    @property
    def is_final(self) -> bool:
        """Whether the task will not change any more (done, dead or cancelled)."""
        return self.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class Claim:
    """A task a worker took: what to run, and the token that proves the lease is still its.

    Attributes:
        id: The task id.
        name: The registered task name.
        queue: Its queue.
        payload: The encoded ``[args, kwargs]``.
        attempt: This attempt's number, from 1.
        token: The lease token; completing, failing or extending needs it.
    """

    id: str
    name: str
    queue: str
    payload: bytes
    attempt: int
    token: str


def encode_payload(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bytes:
    """Encode a task's arguments for the store.

    Raises:
        TaskArgumentsError: An argument is not JSON-serialisable by msgspec.
    """
    try:
        return _encoder.encode([list(args), dict(kwargs)])
    except (TypeError, ValueError, OverflowError) as exc:
        raise TaskArgumentsError(
            f"The task arguments cannot be serialised ({exc}); pass JSON-compatible values "
            "(str, int, float, bool, None, lists, dicts, msgspec Structs, dataclasses)"
        ) from exc


def decode_payload(payload: bytes) -> tuple[list[Any], dict[str, Any]]:
    """Decode what `encode_payload` made.

    Raises:
        TaskError: The payload is not a ``[list, dict]`` JSON document.
    """
    try:
        decoded = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise TaskError(f"The stored task payload is not valid JSON: {exc}") from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not isinstance(decoded[0], list)
        or not isinstance(decoded[1], dict)
    ):
        raise TaskError("The stored task payload is not [args, kwargs]")
    return decoded[0], decoded[1]


def encode_result(value: Any) -> bytes:
    """Encode a task's return value.

    Raises:
        TypeError: The value is not JSON-serialisable (the task is dead-lettered).
    """
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"The task's return value cannot be serialised: {exc}") from exc


def decode_result(data: bytes | None) -> Any:
    """Decode a stored result (None when there is none)."""
    return None if data is None else _decoder.decode(data)
