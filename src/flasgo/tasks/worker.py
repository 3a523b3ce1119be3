"""`Worker`: takes tasks from the store and runs them, at least once.

Each queue gets its own concurrency limit. A task runs under a lease the worker renews by a
heartbeat; a worker that dies stops renewing, so another takes the task once the lease runs
out. A failure is retried with jittered exponential backoff until the task's retries are
spent, then dead-lettered; so is a task that keeps losing its worker. On `stop` the worker
takes nothing new, lets in-flight tasks finish within the drain time and hands the rest back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import random
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

from flasgo.concurrency import is_async_callable
from flasgo.tasks.model import (
    Claim,
    TaskBackendError,
    TaskError,
    decode_payload,
    encode_result,
)
from flasgo.tasks.queue import Task, TaskOptions, TaskQueue

__all__ = ["Worker"]

log = logging.getLogger("flasgo.tasks")

_DEFAULT_OPTIONS: Final = TaskOptions()
_Stop = Literal["cancelled", "lost", "drain"]


class _Interrupted(Exception):
    """Why a running attempt was stopped from outside (cancel, lost lease, drain)."""

    def __init__(self, reason: _Stop) -> None:
        super().__init__(reason)
        self.reason: _Stop = reason


class Worker:
    """Runs the tasks of some queues until stopped.

    Args:
        queue: The app's `TaskQueue` (its registry says what each task name runs).
        queues: Queue name -> how many of its tasks run at once.
        lease: Seconds a task is held before another worker may take it; renewed every
            ``lease / 3`` seconds while it runs.
        drain: Seconds in-flight tasks get to finish on `stop` before they are handed back.
        poll: Seconds between looks at an empty queue.
        threads: Threads for synchronous task functions.
        name: This worker's name in the store (host:pid by default).
    """

    def __init__(
        self,
        queue: TaskQueue,
        *,
        queues: Mapping[str, int] | None = None,
        lease: float = 30.0,
        drain: float = 10.0,
        poll: float = 0.2,
        threads: int = 8,
        name: str | None = None,
    ) -> None:
        self.queue = queue
        self.queues = dict(queues or {"default": 4})
        if not self.queues or any(
            type(limit) is not int or limit < 1 for limit in self.queues.values()
        ):
            raise ValueError("queues must map queue names to concurrency limits >= 1")
        if not lease > 0 or drain < 0 or not poll > 0:
            raise ValueError("lease and poll must be > 0 and drain >= 0")
        self.lease = float(lease)
        self.drain = float(drain)
        self.poll = float(poll)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = asyncio.Event()
        self._running: dict[asyncio.Task[None], Claim] = {}
        self._interrupts: dict[str, _Stop] = {}
        self.processed = 0

    def stop(self) -> None:
        """Ask the worker to drain and return from `run` (safe from a signal handler)."""
        self._stopping.set()

    async def run(self) -> None:
        """Run until `stop`, then drain.

        Raises:
            TaskBackendError: The store cannot be opened.
        """
        await self.queue.open()
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="flasgo-task")
        log.info("task-worker-started %s queues=%s", self.name, self.queues)
        try:
            async with asyncio.TaskGroup() as group:
                for name, limit in self.queues.items():
                    group.create_task(self._consume(name, limit))
        finally:
            await self._drain()
            self._executor.shutdown(wait=False, cancel_futures=True)
            log.info("task-worker-stopped %s processed=%d", self.name, self.processed)

    async def _consume(self, queue: str, limit: int) -> None:
        slots = asyncio.Semaphore(limit)
        while not self._stopping.is_set():
            await slots.acquire()
            try:
                claim = await self.queue.backend.claim(queue, worker=self.name, lease=self.lease)
            except TaskBackendError:
                slots.release()
                log.exception("task-claim-failed queue=%s", queue)
                await self._idle()
                continue
            if claim is None:
                slots.release()
                await self._idle()
                continue
            running = asyncio.get_running_loop().create_task(self._execute(claim))
            self._running[running] = claim
            running.add_done_callback(lambda done: self._finished(done, slots))

    def _finished(self, done: asyncio.Task[None], slots: asyncio.Semaphore) -> None:
        self._running.pop(done, None)
        slots.release()

    async def _idle(self) -> None:
        try:
            async with asyncio.timeout(self.poll):
                await self._stopping.wait()
        except TimeoutError:
            pass

    async def _drain(self) -> None:
        pending = set(self._running)
        if pending:
            log.info("task-worker-draining %d task(s) for %.1fs", len(pending), self.drain)
            _, pending = await asyncio.wait(pending, timeout=self.drain)
        for running in pending:
            self._interrupts[self._running[running].token] = "drain"
            running.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- one attempt -------------------------------------------------------------------------

    async def _execute(self, claim: Claim) -> None:
        task = self.queue.registry.get(claim.name)
        options = task.options if task is not None else _DEFAULT_OPTIONS
        backend = self.queue.backend
        try:
            if claim.attempt > options.retries + 1:
                # NOTE: taken again after its lease ran out more times than it may be retried:
                # it keeps killing or hanging its worker, so it stops here.
                await self._bury(claim, "the task lost its worker on every attempt")
                return
            if task is None:
                raise TaskError(f"no task named {claim.name!r} is registered in this worker")
            await self._attempt(claim, task, options)
        except _Interrupted as stop:
            if stop.reason == "cancelled":
                await backend.bury(claim, "cancelled", "cancelled")
            elif stop.reason == "drain":
                await backend.release(claim)
                log.info("task-handed-back %s %s", claim.name, claim.id)
        except TaskBackendError:
            # The store failed; the lease will run out and the task be taken again.
            log.exception("task-store-failed %s %s", claim.name, claim.id)
        except Exception as exc:  # the task's own failure: retry or dead-letter
            await self._failed(claim, options, _describe(exc))
        finally:
            self._interrupts.pop(claim.token, None)
            self.processed += 1

    async def _attempt(self, claim: Claim, task: Task[Any, Any], options: TaskOptions) -> None:
        args, kwargs = decode_payload(claim.payload)
        runner = asyncio.current_task()
        assert runner is not None  # _execute always runs as a task
        heart = asyncio.get_running_loop().create_task(self._heartbeat(claim, runner))
        try:
            value = await self._call(claim, task, args, kwargs, options.timeout)
        finally:
            heart.cancel()
        try:
            result = encode_result(value)
        except TypeError as exc:
            # NOTE: a result that cannot be stored fails the same way every time: no retry.
            await self._bury(claim, _describe(exc))
            return
        if await self.queue.backend.complete(claim, result):
            log.debug("task-done %s %s", claim.name, claim.id)
        else:
            log.warning("task-lease-lost %s %s (another worker has it)", claim.name, claim.id)

    async def _call(
        self,
        claim: Claim,
        task: Task[Any, Any],
        args: list[Any],
        kwargs: dict[str, Any],
        limit: float | None,
    ) -> Any:
        try:
            async with asyncio.timeout(limit):
                if is_async_callable(task.func):
                    return await task.func(*args, **kwargs)
                loop = asyncio.get_running_loop()
                context = contextvars.copy_context()
                # NOTE: a sync task past its timeout is abandoned, not killed (threads cannot
                # be); its thread finishes on its own and its result is dropped.
                return await loop.run_in_executor(
                    self._executor, lambda: context.run(task.func, *args, **kwargs)
                )
        except asyncio.CancelledError:
            reason = self._interrupts.get(claim.token)
            current = asyncio.current_task()
            if reason is None or current is None:
                raise
            current.uncancel()
            raise _Interrupted(reason) from None
        except TimeoutError as exc:
            raise TimeoutError(f"the task ran longer than its timeout of {limit}s") from exc

    async def _heartbeat(self, claim: Claim, runner: asyncio.Task[Any]) -> None:
        interval = self.lease / 3
        while True:
            await asyncio.sleep(interval)
            try:
                state = await self.queue.backend.extend(claim, self.lease)
            except TaskBackendError:
                log.exception("task-heartbeat-failed %s %s", claim.name, claim.id)
                continue
            if state != "held":
                self._interrupts[claim.token] = state
                runner.cancel()
                return

    async def _failed(self, claim: Claim, options: TaskOptions, error: str) -> None:
        if claim.attempt > options.retries:
            await self._bury(claim, error)
            return
        delay = options.retry_delay(claim.attempt, random.random())  # noqa: S311  # jitter only
        log.warning(
            "task-retry %s %s attempt=%d in %.2fs: %s",
            claim.name,
            claim.id,
            claim.attempt,
            delay,
            error,
        )
        await self.queue.backend.retry(claim, error, time.time() + delay)

    async def _bury(self, claim: Claim, error: str) -> None:
        log.error("task-dead %s %s attempt=%d: %s", claim.name, claim.id, claim.attempt, error)
        await self.queue.backend.bury(claim, error, "dead")


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 2000 else text[:1997] + "..."
