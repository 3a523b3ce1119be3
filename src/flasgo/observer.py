"""Watching each HTTP request for the metrics and the access log, compiled in only when on.

`observe` wraps the pipeline's entry when metrics or the access log are on, and returns the
entry itself otherwise: with both off a request runs no observation code at all. The wrapper
reads the status from the ``http.response.start`` message and the route template (and, for
the access log, the request id and client) from the request bound to the context at that
moment, after proxy resolution; it records the duration when the entry returns (the body
sent, after-response work done).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from flasgo.context import find_request
from flasgo.metrics import UNMATCHED

if TYPE_CHECKING:
    from flasgo.accesslog import AccessLog
    from flasgo.metrics import Metrics

__all__ = ["Entry", "observe"]

Entry = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def observe(entry: Entry, *, metrics: Metrics | None, access: AccessLog | None) -> Entry:
    """`entry`, watched for `metrics` and `access`; `entry` itself when both are None."""
    if metrics is None and access is None:
        return entry
    if access is None:
        assert metrics is not None
        return _counted(entry, metrics)
    return _logged(entry, metrics, access)


def _route() -> str:
    request = find_request()
    if request is None or request.rule is None:
        return UNMATCHED
    return request.rule.rule


def _counted(entry: Entry, metrics: Metrics) -> Entry:
    """Metrics only: the lean wrapper (no request id, no client)."""
    begin, end = metrics.begin, metrics.end

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # PERF: closure cells rather than a per-request object; see benchmarks/observability.
        status = 500  # NOTE: an entry that raised before answering sent nothing
        route = UNMATCHED

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                status = message["status"]
                route = _route()
            await send(message)

        begin()
        started = perf_counter()
        try:
            await entry(scope, receive, watch)
        finally:
            end(scope["method"], route, status, perf_counter() - started)

    return counted


def _logged(entry: Entry, metrics: Metrics | None, access: AccessLog) -> Entry:
    """The access log, and the metrics when they are on too."""

    async def logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status = 500
        route = UNMATCHED
        request_id = client = "-"

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status, route, request_id, client
            if message["type"] == "http.response.start":
                status = message["status"]
                request = find_request()
                if request is not None:
                    if request.rule is not None:
                        route = request.rule.rule
                    request_id = request.request_id
                    peer = request.scope.get("client")
                    client = peer[0] if peer else "-"
            await send(message)

        if metrics is not None:
            metrics.begin()
        started = perf_counter()
        try:
            await entry(scope, receive, watch)
        finally:
            seconds = perf_counter() - started
            method = scope["method"]
            if metrics is not None:
                metrics.end(method, route, status, seconds)
            shown = route if route != UNMATCHED else scope["path"]
            access.write(method, shown, status, seconds, request_id, client)

    return logged
