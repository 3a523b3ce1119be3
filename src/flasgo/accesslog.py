"""The access log: one line per HTTP request on the ``flasgo.access`` logger.

Each line has the method, the route template (never the raw path for a matched route, so
lines group by route), the status, the duration in milliseconds, the request id and the
client address. The fields are also attributes of the log record, so the JSON format of
`flasgo.logs.configure_logging` writes them as keys (``duration_ms`` a number). ``ACCESS_LOG``
decides whether the app logs at all (``auto``: when ``DEBUG`` is true); when it does not,
no code runs per request (see `flasgo.observer`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flasgo.security.events import sanitize

if TYPE_CHECKING:
    from flasgo.settings import Settings

__all__ = ["AccessLog", "access_log", "is_access_log_on"]

access_log = logging.getLogger("flasgo.access")


def is_access_log_on(settings: Settings) -> bool:
    """Whether `settings` ask for the access log (``on``, or ``auto`` with ``DEBUG``)."""
    return settings.ACCESS_LOG == "on" or (settings.ACCESS_LOG == "auto" and settings.DEBUG)


class AccessLog:
    """Writes the access lines (``flasgo.access``, level INFO)."""

    __slots__ = ()

    def write(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        request_id: str,
        client: str,
    ) -> None:
        """Log one finished request (skipped cheaply when INFO is off for the logger)."""
        if not access_log.isEnabledFor(logging.INFO):
            return
        milliseconds = round(seconds * 1000, 3)
        # SECURITY: the method and an unmatched path come from the client; escape them.
        method, route = sanitize(method, 16), sanitize(route)
        access_log.info(
            "%s %s %s %.3fms request_id=%s client=%s",
            method,
            route,
            status,
            milliseconds,
            request_id,
            client,
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": milliseconds,
                "request_id": request_id,
                "client": client,
            },
        )
