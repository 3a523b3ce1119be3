"""Turning exceptions into responses: error-handler lookup, HTTP errors, the clean 500.

The pipeline has one ``try`` per request; what it catches comes here. A route's error
handlers (its blueprints' first, innermost out, then the app's) are tried by status code,
then by the exception's class hierarchy; an `HTTPException` nobody handles renders itself;
anything else is logged to ``flasgo.error`` and becomes a 500 that says nothing about the
failure (the traceback is shown only with ``DEBUG``).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flasgo.exceptions import HTTPException
from flasgo.response import Response, to_response

if TYPE_CHECKING:
    from flasgo.hooks import Hook
    from flasgo.request import Request

__all__ = ["ErrorHandlers", "ErrorRenderer"]

error_log = logging.getLogger("flasgo.error")
request_log = logging.getLogger("flasgo.request")

# Bad input worth a log line (404/405 are ordinary traffic and are not logged).
_LOGGED_CLIENT_ERRORS = frozenset({400, 408, 411, 413, 414, 415, 422, 429, 431})

ErrorHandlers = tuple[Mapping[Any, "Hook"], ...]


def find_error_handler(handlers: ErrorHandlers, exc: Exception) -> Hook | None:
    """The handler for `exc` among a route's handler tables (innermost scope first)."""
    status = exc.status_code if isinstance(exc, HTTPException) else None
    for table in handlers:
        if not table:
            continue
        if status is not None and status in table:
            return table[status]
        for cls in type(exc).__mro__:
            if cls in table:
                return table[cls]
    if status is None:
        # An unhandled error is a 500: a handler registered for 500 takes it.
        for table in handlers:
            if 500 in table:
                return table[500]
    return None


class ErrorRenderer:
    """Renders errors as responses.

    Args:
        debug: Show the traceback of an unhandled error in its 500 (``DEBUG``).
    """

    __slots__ = ("debug",)

    def __init__(self, *, debug: bool) -> None:
        self.debug = debug

    async def handle(self, request: Request, handlers: ErrorHandlers, exc: Exception) -> Response:
        """The response for `exc` raised while handling `request`."""
        handler = find_error_handler(handlers, exc)
        if handler is not None:
            try:
                return to_response(await handler(request, exc))
            except Exception:
                error_log.exception(
                    "error-handler-failed method=%s path=%s", request.method, request.path
                )
                return self.internal_error(exc, request)
        if isinstance(exc, HTTPException):
            return self.render(request, exc)
        error_log.error(
            "unhandled-exception method=%s path=%s endpoint=%s",
            request.method,
            request.path,
            request.endpoint or "-",
            exc_info=exc,
        )
        return self.internal_error(exc, request)

    @staticmethod
    def render(request: Request, exc: HTTPException) -> Response:
        """`exc` as its own response (and a log line for the client errors worth one)."""
        body, content_type = exc.render()
        status = exc.status_code
        if status in _LOGGED_CLIENT_ERRORS:
            # NOTE: %r keeps CR/LF and other control characters out of the log line.
            request_log.info(
                "client-error status=%d method=%r path=%r detail=%r",
                status,
                request.method,
                request.path[:200],
                exc.detail[:200],
            )
        response = Response(body, status, exc.headers, content_type)
        if "content-type" not in exc.headers and status in (204, 304):
            response.headers.pop("content-type", None)
        return response

    def internal_error(self, exc: BaseException, request: Request | None = None) -> Response:
        """A 500 that says nothing about `exc` (unless ``DEBUG`` is on).

        With ``DEBUG`` and the request, it is the debug page (`flasgo.debugpage`): HTML for
        browsers, a JSON problem body for API clients.
        """
        if self.debug and request is not None:
            from flasgo.debugpage import debug_response

            return debug_response(request, exc)
        if self.debug:
            detail = "".join(traceback.format_exception(exc))
            return Response(f"Internal Server Error (DEBUG is on)\n\n{detail}", 500)
        return Response(
            "Internal Server Error. Check the application logs for the original failure.", 500
        )
