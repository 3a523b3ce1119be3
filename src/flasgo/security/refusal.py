"""`Refusal`: a request turned away by a security check or a limit, with its reason code.

Every check (the Host allowlist, head and URL limits, the security-failure throttle, CSRF,
authentication and permissions) describes what it refused with one `Refusal`. The pipeline
logs its ``reason`` as the security event (``flasgo.security``), counts it against the client
when it is a failed security check (``counted``), and sends its ``error``. Tests assert the
status and the reason code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from flasgo.exceptions import HTTPException

__all__ = ["Refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused request: the error to send and why.

    Attributes:
        error: The HTTP error sent to the client (its status and detail).
        reason: The reason code, also the security event name (``"host-check-failed"``).
        counted: Whether it counts as a failed security check for the throttle (a bad Host,
            CSRF, 401/403 do; size limits do not).
        level: The log level of the security event.
        fields: Extra, sanitised fields for the log line.
    """

    error: HTTPException
    reason: str
    counted: bool = True
    level: int = logging.WARNING
    fields: Mapping[str, object] = field(default_factory=dict)

    @property
    def event(self) -> str:
        """The security event name (the reason code)."""
        return self.reason
