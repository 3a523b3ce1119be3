"""Logging set-up for the ``flasgo`` logger tree: plain text or one JSON object per line.

The library never configures logging on import. `configure_logging` is for applications and
the CLI: it gives the ``flasgo`` loggers (``flasgo.security``, ``flasgo.error``,
``flasgo.request``, ...) their own handler, so their lines keep their format whatever the root
logger does.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

__all__ = ["FlasgoJSONFormatter", "configure_logging"]

_STANDARD = frozenset(vars(logging.makeLogRecord({})))


class FlasgoJSONFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message and the extra fields.

    Security events put their sanitised fields (``event``, ``request_id``, ``client``, ...) at
    the top level, so log pipelines can index them.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        security = getattr(record, "security", None)
        if isinstance(security, dict):
            payload.update({key: str(value) for key, value in security.items()})
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in payload and key != "security":
                payload[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=True)


def configure_logging(
    *,
    format: Literal["text", "json"] = "text",
    level: str | int = "INFO",
    stream: IO[str] | None = None,
) -> logging.Logger:
    """Send the ``flasgo`` loggers to `stream` (stderr by default) in `format`.

    Calling it again replaces the handler it installed before.

    Returns:
        The ``flasgo`` logger.
    """
    if format not in ("text", "json"):
        raise ValueError("format must be 'text' or 'json'")
    logger = logging.getLogger("flasgo")
    for handler in [h for h in logger.handlers if getattr(h, "_flasgo", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._flasgo = True  # type: ignore[attr-defined]  # NOTE: marks our own handler
    handler.setFormatter(
        FlasgoJSONFormatter()
        if format == "json"
        else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    logger.propagate = False
    return logger
