"""Server-side sessions: the cookie holds an opaque random id, the data lives in a `Store`.

The store value is a JSON envelope ``{"d": data, "e": expires_at, "v": version}``; the random
version makes every write distinct, so `Store.compare_and_set` against the bytes that were
loaded detects a concurrent write (409 `SessionConflict`). A record is created only on the
first write (CVE-2015-5143 class), ids the client invents are never adopted (fixation), an
emptied session is deleted with its cookie, and `Session.regenerate` moves the data to a new
id and deletes the old record. A store outage raises `StoreUnavailable` (503).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

from flasgo.sessions.session import (
    Session,
    SessionConflict,
    SessionCookie,
    SessionTooLarge,
    decode_session_data,
    encode_session_data,
    mark_private,
    new_session_id,
)

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.response import Response
    from flasgo.settings import Settings
    from flasgo.stores import Store

__all__ = ["KEY_PREFIX", "ServerSideSessions"]

KEY_PREFIX: Final = "session:"
"""Prefix of the store key; the rest is the session id."""

_is_session_id = re.compile(r"[A-Za-z0-9_-]{43}").fullmatch


class ServerSideSessions:
    """The server-side session backend.

    Args:
        store: Where session data lives (`MemoryStore`, `RedisStore` or your own `Store`).
        settings: The app settings; ``SESSION_COOKIE_*``, ``SESSION_REFRESH_EACH_REQUEST`` and
            ``ENFORCE_NO_STORE_CACHE`` are read once, here.
        max_bytes: The largest stored envelope; a bigger session raises `SessionTooLarge`.

    Raises:
        ValueError: `max_bytes` is not a positive int.
    """

    __slots__ = ("_cookie", "_refresh", "max_bytes", "store")

    def __init__(self, store: Store, settings: Settings, *, max_bytes: int = 65_536) -> None:
        if type(max_bytes) is not int or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
        self.store = store
        self.max_bytes = max_bytes
        self._cookie = SessionCookie.from_settings(settings)
        self._refresh = settings.SESSION_REFRESH_EACH_REQUEST

    def has_cookie(self, request: Request) -> bool:
        """Whether the request sends exactly one well-formed session id (no store lookup)."""
        value = self._cookie.read(request)
        return value is not None and _is_session_id(value) is not None

    async def load(self, request: Request) -> Session:
        """Fetch the session named by the cookie; an empty new session when there is none.

        Raises:
            StoreUnavailable: The store failed.
        """
        values = self._cookie.values(request)
        if not values or values == [""]:
            return _fresh(None)
        if len(values) > 1:
            return _fresh("duplicate")
        session_id = values[0]
        # SECURITY: a malformed id never reaches the store.
        if not _is_session_id(session_id):
            return _fresh("malformed")
        raw = await self.store.get(KEY_PREFIX + session_id)
        if raw is None:
            return _fresh("unknown")
        data = _open_envelope(raw)
        if data is None:
            return _fresh("expired")
        session = Session(data, new=False, session_id=session_id)
        session.mark_loaded(session_id, raw)
        return session

    async def save(self, request: Request, session: Session, response: Response) -> None:
        """Store, refresh or delete the session and set its cookie; mark caching private.

        Raises:
            SessionConflict: Another request wrote the session since it was loaded.
            SessionTooLarge: The envelope is over `max_bytes`.
            StoreUnavailable: The store failed.
            TypeError: A session value is not a JSON type.
        """
        written = False
        if not session.data:
            written = await self._delete(request, session, response)
        elif session.modified or self._refresh:
            written = await self._write(session, response)
        if written or session.accessed:
            mark_private(response, default_no_store=self._cookie.default_no_store)

    async def _delete(self, request: Request, session: Session, response: Response) -> bool:
        if not (session.modified or session.regenerated):
            return False
        if session.loaded_id is not None:
            await self.store.delete(KEY_PREFIX + session.loaded_id)
            session.mark_loaded(None, None)
        if self._cookie.values(request):
            self._cookie.delete(response)
            return True
        return False

    async def _write(self, session: Session, response: Response) -> bool:
        max_age = self._cookie.max_age
        envelope = encode_session_data(
            {"d": session.data, "e": int(time.time()) + max_age, "v": secrets.token_urlsafe(12)}
        )
        if len(envelope) > self.max_bytes:
            raise SessionTooLarge(
                f"The session is {len(envelope)} bytes stored, over max_bytes={self.max_bytes}; "
                "store less in the session or raise max_bytes."
            )
        old_id = session.loaded_id
        session_id = session.session_id
        if session_id is None:  # a Session built by hand, not by load()
            session_id = new_session_id()
            session.assign_id(session_id)
        expected = session.loaded_raw if session_id == old_id else None
        stored = await self.store.compare_and_set(
            KEY_PREFIX + session_id, expected, envelope, ttl=max_age
        )
        if not stored:
            if not (session.modified or session.regenerated):
                return False  # a sliding refresh lost to a real write: nothing is lost
            raise SessionConflict
        if old_id is not None and old_id != session_id:
            await self.store.delete(KEY_PREFIX + old_id)
        session.mark_loaded(session_id, envelope)
        self._cookie.set(response, session_id)
        return True


def _fresh(reason: str | None) -> Session:
    # NOTE: the id is ours and random; nothing is stored until the first write.
    session = Session(session_id=new_session_id())
    session.rejected = reason
    return session


def _open_envelope(raw: bytes) -> dict[str, Any] | None:
    envelope = decode_session_data(raw)
    if envelope is None:
        return None
    data, expires = envelope.get("d"), envelope.get("e")
    if not isinstance(data, dict) or type(expires) is not int or expires <= time.time():
        return None
    return data
