"""`Session`: the data of one client's session, a dict that tracks reads and writes.

A plain value the request carries (`Request.session`); the backends that load and save it
live in `flasgo.sessions`. The backend's bookkeeping (the id and stored bytes the session was
loaded from, for compare-and-set) is kept here behind public methods.
"""

from __future__ import annotations

import secrets
from collections.abc import ItemsView, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from typing import Any

__all__ = ["Session", "new_session_id"]

# Values whose equality means "nothing changed": re-assigning an equal list may hide an
# in-place change, so containers always count as a write.
_SCALARS = (str, int, float, bool, type(None))


def new_session_id() -> str:
    """Return a fresh opaque session id: 32 random bytes, 43 base64url characters."""
    return secrets.token_urlsafe(32)


class Session(MutableMapping[str, Any]):
    """The data of one client's session: a dict with change tracking.

    Values must be JSON types (str, int, float, bool, None, lists and dicts of them). Mutating
    a nested value in place is not seen; assign it again or set ``session.modified = True``.

    Args:
        data: The loaded data (copied).
        new: True when no valid session came with the request.
        session_id: The server-side id (None for signed-cookie sessions).
        modified: Start as modified (for sessions built by hand).

    Attributes:
        rejected: Why the request's session cookie was ignored (``"duplicate"``,
            ``"malformed"``, ``"bad-signature"``, ``"expired"``, ``"unknown"``), or None.
    """

    __slots__ = (
        "_accessed",
        "_data",
        "_loaded_id",
        "_loaded_raw",
        "_modified",
        "_new",
        "_regenerated",
        "_session_id",
        "rejected",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        new: bool = True,
        session_id: str | None = None,
        modified: bool = False,
    ) -> None:
        self._data: dict[str, Any] = dict(data) if data else {}
        self._new = new
        self._session_id = session_id
        self._modified = modified
        self._accessed = False
        self._regenerated = False
        # Backend bookkeeping: the id and stored bytes this session was loaded from (CAS).
        self._loaded_id: str | None = None
        self._loaded_raw: bytes | None = None
        self.rejected: str | None = None

    # -- tracking ----------------------------------------------------------------------------

    @property
    def modified(self) -> bool:
        """Whether the data changed (or `regenerate` was called) since it was loaded."""
        return self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        self._modified = bool(value)

    @property
    def accessed(self) -> bool:
        """Whether the handler read or wrote the session in any way."""
        return self._accessed

    @property
    def new(self) -> bool:
        """Whether the session did not come from a valid cookie."""
        return self._new

    @property
    def session_id(self) -> str | None:
        """The server-side session id; None for signed-cookie sessions."""
        return self._session_id

    @property
    def regenerated(self) -> bool:
        """Whether `regenerate` was called during this request."""
        return self._regenerated

    def regenerate(self) -> None:
        """Rotate the session's identity and keep its data (session fixation defence).

        A server-side session gets a new id and its old record is deleted when the session is
        saved; a cookie session is signed again with a fresh timestamp.
        """
        self._accessed = True
        self._modified = True
        self._regenerated = True
        if self._session_id is not None:
            self._session_id = new_session_id()

    # -- backend bookkeeping -------------------------------------------------------------------

    @property
    def data(self) -> dict[str, Any]:
        """The stored data itself, read and written without change tracking (for backends
        and the CSRF binding; handlers use the mapping methods)."""
        return self._data

    @property
    def loaded_id(self) -> str | None:
        """The server-side id this session was loaded from (or last saved under), or None."""
        return self._loaded_id

    @property
    def loaded_raw(self) -> bytes | None:
        """The stored bytes this session was loaded from (for compare-and-set), or None."""
        return self._loaded_raw

    def mark_loaded(self, session_id: str | None, raw: bytes | None) -> None:
        """Record where the session now is in its store (after a load or a save)."""
        self._loaded_id = session_id
        self._loaded_raw = raw

    def assign_id(self, session_id: str) -> None:
        """Give the session a server-side id (a new session's first save)."""
        self._session_id = session_id

    # -- the mapping -------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self._accessed = True
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._accessed = True
        if not isinstance(key, str):
            raise TypeError(f"Session keys must be str, got {type(key).__name__}")
        data = self._data
        if key in data:
            old = data[key]
            if type(old) is type(value) and isinstance(value, _SCALARS) and old == value:
                return
        data[key] = value
        self._modified = True

    def __delitem__(self, key: str) -> None:
        self._accessed = True
        del self._data[key]
        self._modified = True

    def __iter__(self) -> Iterator[str]:
        self._accessed = True
        return iter(self._data)

    def __len__(self) -> int:
        self._accessed = True
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        self._accessed = True
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value of `key`, or `default`."""
        self._accessed = True
        return self._data.get(key, default)

    # NOTE: the views are built lazily by Mapping; mark the access when they are asked for.
    def keys(self) -> KeysView[str]:
        """A view of the keys."""
        self._accessed = True
        return super().keys()

    def items(self) -> ItemsView[str, Any]:
        """A view of the (key, value) pairs."""
        self._accessed = True
        return super().items()

    def values(self) -> ValuesView[Any]:
        """A view of the values."""
        self._accessed = True
        return super().values()

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set every key of `other` and `kwargs` (only real changes mark `modified`)."""
        self._accessed = True
        super().update(other, **kwargs)

    def clear(self) -> None:
        """Remove every key (the session is deleted when saved)."""
        self._accessed = True
        if self._data:
            self._data.clear()
            self._modified = True

    def __repr__(self) -> str:
        # SECURITY: no values (they end up in logs), and no access mark: debuggers and
        # asyncio's task reprs call this without the handler reading anything.
        return f"<Session keys={len(self._data)} modified={self._modified} new={self._new}>"
