"""`SQLiteTaskBackend`: the embedded default task store (one file, no server).

Why SQLite: it ships with Python, survives ``kill -9`` and power loss with WAL and
``synchronous=FULL`` (a commit is on disk when it returns), and lets several worker processes
on one machine share the file (``BEGIN IMMEDIATE`` serialises claims). Every statement runs on
one dedicated thread that owns the connection, so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from flasgo.tasks.backend import LeaseState, NewTask
from flasgo.tasks.model import Claim, TaskBackendError, TaskInfo, decode_result

__all__ = ["SQLiteTaskBackend"]

_T = TypeVar("_T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS flasgo_tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    run_at REAL NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    token TEXT,
    worker TEXT,
    lease_until REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result BLOB,
    error TEXT,
    idempotency_key TEXT,
    created REAL NOT NULL,
    finished REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS flasgo_tasks_idempotency
    ON flasgo_tasks (name, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS flasgo_tasks_ready
    ON flasgo_tasks (queue, state, priority DESC, run_at, seq);
CREATE INDEX IF NOT EXISTS flasgo_tasks_lease ON flasgo_tasks (queue, state, lease_until);
"""

_INFO_COLUMNS: Final = (
    "id, name, queue, state, attempts, priority, run_at, result, error, idempotency_key"
)
# NOTE: a running task whose lease ran out is ready again: its worker died or hung.
_NEXT: Final = (
    "SELECT seq FROM flasgo_tasks WHERE queue = ? AND "
    "((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?)) "
    "ORDER BY priority DESC, run_at, seq LIMIT 1"
)
_HELD: Final = "id = ? AND token = ? AND state = 'running'"


class SQLiteTaskBackend:
    """A `TaskBackend` in one SQLite file.

    Args:
        path: The database file; created with its folder when missing.
        busy_timeout: Seconds a statement waits for another process's write lock.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._connecting: Future[None] | None = None
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteTaskBackend({str(self.path)!r})"

    # -- the connection thread ---------------------------------------------------------------

    async def _run(self, call: Callable[[sqlite3.Connection], _T]) -> _T:
        executor = await self._ready()
        return await asyncio.wrap_future(executor.submit(self._call, call))

    async def _ready(self) -> ThreadPoolExecutor:
        # NOTE: the executor and its connecting job are made without awaiting, so concurrent
        # first calls share them; its one thread runs every later call after the connect.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="flasgo-tasks-sqlite")
            self._connecting = self._executor.submit(self._connect)
        executor, connecting = self._executor, self._connecting
        assert connecting is not None  # set with the executor
        try:
            await asyncio.wrap_future(connecting)
        except BaseException:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False)
            raise
        return executor

    def _call(self, call: Callable[[sqlite3.Connection], _T]) -> _T:
        connection = self._connection
        if connection is None:
            raise TaskBackendError(f"The task database {self.path} is closed")
        try:
            return call(connection)
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.rollback()
            raise _backend_error(self.path, exc) from exc

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise _backend_error(self.path, exc) from exc
        try:
            # SECURITY: a corrupted file is reported now, not when a task is lost later.
            checked = connection.execute("PRAGMA quick_check").fetchone()
            if checked is None or checked[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {checked}")
            connection.execute("PRAGMA journal_mode=WAL")
            # NOTE: FULL fsyncs the WAL at every commit: a task is on disk when enqueue returns.
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
            # A write at startup: a read-only file or a full disk is reported here.
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("CREATE TABLE IF NOT EXISTS flasgo_tasks_probe (at REAL)")
            connection.execute("DELETE FROM flasgo_tasks_probe")
            connection.execute("INSERT INTO flasgo_tasks_probe VALUES (?)", (time.time(),))
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            connection.close()
            raise _backend_error(self.path, exc) from exc
        self._connection = connection

    async def open(self) -> None:
        """Open (or create) the database and check it.

        Raises:
            TaskBackendError: The file cannot be opened or written, is not a database, or is
                corrupted; the message names the file and what to do.
        """
        await self._ready()

    async def close(self) -> None:
        """Close the connection and its thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.wrap_future(executor.submit(self._disconnect))
        executor.shutdown(wait=True)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    # -- producer side -----------------------------------------------------------------------

    async def enqueue(self, task: NewTask) -> tuple[str, bool]:
        """Store `task` (committed and fsynced before returning); see `TaskBackend.enqueue`."""
        task_id = secrets.token_hex(16)
        row = (
            task_id,
            task.name,
            task.queue,
            task.priority,
            task.run_at,
            task.payload,
            task.idempotency_key,
            time.time(),
        )

        def insert(db: sqlite3.Connection) -> tuple[str, bool]:
            db.execute("BEGIN IMMEDIATE")
            if task.idempotency_key is not None:
                found = db.execute(
                    "SELECT id FROM flasgo_tasks WHERE name = ? AND idempotency_key = ?",
                    (task.name, task.idempotency_key),
                ).fetchone()
                if found is not None:
                    db.execute("COMMIT")
                    return str(found[0]), False
            db.execute(
                "INSERT INTO flasgo_tasks (id, name, queue, state, priority, run_at, payload, "
                "idempotency_key, created) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                row,
            )
            db.execute("COMMIT")
            return task_id, True

        return await self._run(insert)

    async def info(self, task_id: str) -> TaskInfo | None:
        """The task's current state, or None for an unknown id."""

        def read(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = db.execute(
                f"SELECT {_INFO_COLUMNS} FROM flasgo_tasks WHERE id = ?",  # noqa: S608  # constant
                (task_id,),
            ).fetchone()
            return row

        row = await self._run(read)
        return None if row is None else _info(row)

    async def in_state(self, state: str, *, limit: int = 100) -> list[TaskInfo]:
        """Tasks in `state`, oldest first."""

        def read(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return db.execute(
                f"SELECT {_INFO_COLUMNS} FROM flasgo_tasks "  # noqa: S608  # constant columns
                "WHERE state = ? ORDER BY seq LIMIT ?",
                (state, limit),
            ).fetchall()

        return [_info(row) for row in await self._run(read)]

    async def cancel(self, task_id: str) -> bool:
        """Cancel a queued task, or flag a running one for its worker's next heartbeat."""

        def update(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            now = time.time()
            changed = db.execute(
                "UPDATE flasgo_tasks SET state = 'cancelled', finished = ?, token = NULL "
                "WHERE id = ? AND state = 'queued'",
                (now, task_id),
            ).rowcount
            if not changed:
                changed = db.execute(
                    "UPDATE flasgo_tasks SET cancel_requested = 1 "
                    "WHERE id = ? AND state = 'running'",
                    (task_id,),
                ).rowcount
            db.execute("COMMIT")
            return bool(changed)

        return await self._run(update)

    # -- worker side -------------------------------------------------------------------------

    async def claim(self, queue: str, *, worker: str, lease: float) -> Claim | None:
        """Take the next ready task of `queue` (or one whose lease ran out) for `lease` s."""
        token = secrets.token_hex(8)

        def take(db: sqlite3.Connection) -> Claim | None:
            db.execute("BEGIN IMMEDIATE")
            now = time.time()
            found = db.execute(_NEXT, (queue, now, now)).fetchone()
            if found is None:
                db.execute("COMMIT")
                return None
            row = db.execute(
                "UPDATE flasgo_tasks SET state = 'running', token = ?, worker = ?, "
                "lease_until = ?, attempts = attempts + 1 WHERE seq = ? "
                "RETURNING id, name, queue, payload, attempts",
                (token, worker, now + lease, found[0]),
            ).fetchone()
            db.execute("COMMIT")
            return Claim(row[0], row[1], row[2], bytes(row[3]), row[4], token)

        return await self._run(take)

    async def extend(self, claim: Claim, lease: float) -> LeaseState:
        """Renew the lease; report a lost lease or a cancellation request."""

        def update(db: sqlite3.Connection) -> LeaseState:
            row = db.execute(
                f"UPDATE flasgo_tasks SET lease_until = ? WHERE {_HELD} "  # noqa: S608  # constant
                "RETURNING cancel_requested",
                (time.time() + lease, claim.id, claim.token),
            ).fetchone()
            if row is None:
                return "lost"
            return "cancelled" if row[0] else "held"

        return await self._run(update)

    async def _finish(self, claim: Claim, assignments: str, values: tuple[Any, ...]) -> bool:
        def update(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                f"UPDATE flasgo_tasks SET {assignments} WHERE {_HELD}",  # noqa: S608  # constant
                (*values, claim.id, claim.token),
            ).rowcount
            return bool(changed)

        return await self._run(update)

    async def complete(self, claim: Claim, result: bytes) -> bool:
        """Mark the task done with its result."""
        return await self._finish(
            claim,
            "state = 'done', result = ?, finished = ?, token = NULL, lease_until = NULL",
            (result, time.time()),
        )

    async def retry(self, claim: Claim, error: str, run_at: float) -> bool:
        """Queue the task again for `run_at`, remembering the error."""
        return await self._finish(
            claim,
            "state = 'queued', error = ?, run_at = ?, token = NULL, lease_until = NULL",
            (error, run_at),
        )

    async def bury(self, claim: Claim, error: str, state: Literal["dead", "cancelled"]) -> bool:
        """End the task as dead-lettered or cancelled."""
        return await self._finish(
            claim,
            "state = ?, error = ?, finished = ?, token = NULL, lease_until = NULL",
            (state, error, time.time()),
        )

    async def release(self, claim: Claim) -> bool:
        """Hand the task back: queued again, this attempt not counted."""
        return await self._finish(
            claim,
            "state = 'queued', attempts = attempts - 1, token = NULL, lease_until = NULL",
            (),
        )


def _info(row: tuple[Any, ...]) -> TaskInfo:
    result = row[7]
    return TaskInfo(
        id=row[0],
        name=row[1],
        queue=row[2],
        state=row[3],
        attempts=row[4],
        priority=row[5],
        run_at=row[6],
        result=decode_result(None if result is None else bytes(result)),
        error=row[8],
        idempotency_key=row[9],
    )


def _backend_error(path: Path, exc: BaseException) -> TaskBackendError:
    text = str(exc)
    if "full" in text:
        advice = "the disk (or the database's size limit) is full; free space"
    elif "not a database" in text or "malformed" in text or "integrity" in text:
        advice = "the file is corrupted or not a task database; restore it or move it away"
    elif "readonly" in text or "unable to open" in text or isinstance(exc, OSError):
        advice = "the file or its folder cannot be opened for writing; check the path and rights"
    else:
        advice = "see the cause below"
    return TaskBackendError(f"The task database {path} cannot be used ({text}): {advice}")
