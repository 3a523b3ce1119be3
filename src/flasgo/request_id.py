"""Request ids: cheap, unique per process, never from the OS random source per request.

An id is a random per-process prefix plus a counter (``3f9a1c2e-00000001``): unique across
workers with overwhelming probability, and costing one counter step. Ids are only for
correlating logs with responses; they are not secrets. An incoming ``X-Request-ID`` is used
only when ``TRUST_INCOMING_REQUEST_ID`` is on and it looks like an id.
"""

from __future__ import annotations

import itertools
import re
import secrets

__all__ = ["RequestIds", "is_valid_request_id"]

_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def is_valid_request_id(value: str) -> bool:
    """Whether an incoming id may be trusted as is."""
    return _VALID.fullmatch(value) is not None


class RequestIds:
    """A source of request ids for one app in one process."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)

    def next(self) -> str:
        """A new id."""
        return f"{self._prefix}-{next(self._counter):08x}"
