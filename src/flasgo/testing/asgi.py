"""ASGI type aliases and constants shared by the test client's modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

__all__ = ["ASGI_VERSION", "USER_AGENT", "ASGIApp", "Message", "Receive", "Scope", "Send"]

# NOTE: the client must accept every ASGI 3 app however it spells its own scope and message
# types (TypedDicts, plain dicts, MutableMappings); `Any` parameters keep any of them assignable.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ASGI_VERSION: Final = {"version": "3.0", "spec_version": "2.4"}
USER_AGENT: Final = "flasgo-testclient"
