"""The security event log: one sanitised line per refused request on ``flasgo.security``.

Field values are escaped so a client cannot forge log lines (CR, LF and other control
characters become ``\\xNN`` escapes) and capped in length. Every line carries the request id.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = ["log_security_event", "sanitize", "security_log"]

security_log = logging.getLogger("flasgo.security")
_MAX_FIELD = 256
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 127)}
_ESCAPES[ord(" ")] = "\\x20"
_ESCAPES[ord("\\")] = "\\\\"


def sanitize(value: object, limit: int = _MAX_FIELD) -> str:
    """Render `value` as one safe token: control characters escaped, at most `limit` chars."""
    text = str(value)[: limit * 2].translate(_ESCAPES)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def log_security_event(
    event: str, request: Request, *, level: int = logging.WARNING, **fields: object
) -> None:
    """Log `event` for `request` (no-op when ``LOG_SECURITY_EVENTS`` is off)."""
    if not request.app.settings.LOG_SECURITY_EVENTS or not security_log.isEnabledFor(level):
        return
    client = request.scope.get("client")
    values: dict[str, object] = {
        "event": event,
        "request_id": request.request_id,
        "method": request.scope.get("method", "-"),
        "route": request.rule.rule if request.rule is not None else request.path,
        "client": client[0] if client else "-",
        **fields,
    }
    line = " ".join(f"{key}={sanitize(value)}" for key, value in values.items())
    security_log.log(level, "%s %s", sanitize(event, 64), line, extra={"security": values})
