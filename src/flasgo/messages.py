"""Flashed messages: `flash` stores a message in the session, `get_flashed_messages` takes them.

Messages live in the session under ``_flashes`` as ``[category, message]`` pairs (JSON, so
every session backend stores them) until a later request reads them; the first read in a
request removes them from the session and keeps them for the rest of that request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flasgo.context import current_request

__all__ = ["FLASHES_KEY", "flash", "get_flashed_messages"]

FLASHES_KEY = "_flashes"
_TAKEN = "flasgo.flashes"


def flash(message: str, category: str = "message") -> None:
    """Keep `message` for the next page that calls `get_flashed_messages` (Flask's ``flash``).

    Raises:
        RuntimeError: Called outside a request.
    """
    session = _request().session
    pending = list(session.get(FLASHES_KEY) or ())
    pending.append([str(category), str(message)])
    session[FLASHES_KEY] = pending


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[Any]:
    """Take the flashed messages (the first call in a request removes them from the session).

    Args:
        with_categories: Return ``(category, message)`` pairs instead of messages.
        category_filter: Only these categories (all when empty).

    Raises:
        RuntimeError: Called outside a request.
    """
    request = _request()
    scope = request.scope
    taken: list[tuple[str, str]] | None = scope.get(_TAKEN)
    if taken is None:
        session = request.session
        stored = session.pop(FLASHES_KEY, None) if FLASHES_KEY in session else None
        taken = [
            (str(item[0]), str(item[1]))
            for item in (stored if isinstance(stored, list) else ())
            if isinstance(item, list | tuple) and len(item) == 2
        ]
        scope[_TAKEN] = taken
    wanted = frozenset(category_filter)
    chosen = [item for item in taken if not wanted or item[0] in wanted]
    if with_categories:
        return chosen
    return [message for _, message in chosen]


def _request() -> Any:
    try:
        return current_request()
    except LookupError:
        raise RuntimeError("Flashed messages need a request: call this inside a handler.") from None
