"""Running sync code off the event loop: a bounded thread pool with contextvars carried over."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["ThreadPool", "is_async_callable", "iterate_in_threadpool"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def is_async_callable(func: object) -> bool:
    """Tell whether calling `func` returns an awaitable (async def, or async __call__)."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound __call__ itself
    return call is not None and inspect.iscoroutinefunction(call)


class ThreadPool:
    """A lazily started, bounded thread pool that sync handlers and hooks run in.

    Args:
        max_workers: Upper bound on threads (``THREAD_POOL_SIZE``).
    """

    __slots__ = ("_executor", "max_workers")

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    def _get_executor(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="flasgo-sync")
            self._executor = executor
        return executor

    def run(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        """Run `func(*args, **kwargs)` in the pool with the caller's contextvars.

        Returns:
            An awaitable resolving to the function's result.
        """
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, func, *args, **kwargs)
        return asyncio.get_running_loop().run_in_executor(self._get_executor(), call)

    def shutdown(self) -> None:
        """Stop the threads (waits for running calls)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


_STOP = object()


def _next_or_stop(iterator: Iterator[T]) -> T | object:
    try:
        return next(iterator)
    except StopIteration:
        return _STOP


async def iterate_in_threadpool(pool: ThreadPool, iterable: Iterable[T]) -> AsyncIterator[T]:
    """Iterate a sync iterable from async code, one `next()` per pool call."""
    iterator = iter(iterable)
    while True:
        item = await pool.run(_next_or_stop, iterator)
        if item is _STOP:
            return
        yield item  # type: ignore[misc]  # NOTE: _STOP was filtered out above
