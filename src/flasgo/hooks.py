"""Hook adapters: every user hook becomes one awaitable with a fixed calling convention.

``before_request`` hooks become ``await hook(request)``, ``after_request`` hooks and error
handlers ``await hook(request, value)``, ``teardown_request`` hooks ``await hook(error)``,
whatever the user wrote (sync or async, with or without the request). Sync hooks run in the
thread pool. Adapting happens once, when the pipeline is compiled.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from flasgo.concurrency import ThreadPool, is_async_callable

__all__ = ["Hook", "after_hook", "before_hook", "hook_arity", "teardown_hook"]

Hook = Callable[..., Awaitable[Any]]


def before_hook(pool: ThreadPool, func: Callable[..., Any]) -> Hook:
    """``await hook(request)`` for ``f()`` or ``f(request)``, sync or async."""
    wants_request = hook_arity(func) >= 1
    return _adapt(pool, func, lambda request: (request,) if wants_request else ())


def after_hook(pool: ThreadPool, func: Callable[..., Any]) -> Hook:
    """``await hook(request, value)`` for ``f(value)`` or ``f(request, value)``.

    Used for after_request hooks (value = response) and error handlers (value = exc).
    """
    wants_request = hook_arity(func) >= 2
    return _adapt(
        pool, func, lambda request, value: (request, value) if wants_request else (value,)
    )


def teardown_hook(pool: ThreadPool, func: Callable[..., Any]) -> Hook:
    """``await hook(exc)`` for ``f()`` or ``f(exc)``."""
    wants_error = hook_arity(func) >= 1
    return _adapt(pool, func, lambda error: (error,) if wants_error else ())


def _adapt(
    pool: ThreadPool, func: Callable[..., Any], arguments: Callable[..., tuple[Any, ...]]
) -> Hook:
    if is_async_callable(func):

        async def call_async(*given: Any) -> Any:
            return await func(*arguments(*given))

        hook = call_async
    else:

        async def call_sync(*given: Any) -> Any:
            return await pool.run(func, *arguments(*given))

        hook = call_sync
    hook.__qualname__ = getattr(func, "__qualname__", repr(func))
    return hook


def hook_arity(func: Callable[..., Any]) -> int:
    """How many positional arguments without defaults a hook takes (Flask's and upstream's
    spellings differ in whether the request is passed)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)
