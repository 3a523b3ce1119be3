"""Sessions: the `Session` mapping, the `SessionBackend` protocol and the two backends.

`CookieSessions` (the default) keeps the data in a signed cookie; `ServerSideSessions` keeps
it in a `flasgo.stores.Store` behind an opaque id. The app asks a backend for the session
lazily and saves it after the handler:

1. `SessionBackend.has_cookie` says, without any crypto or I/O, whether loading is worth it;
2. `SessionBackend.load` returns the `Session` (an empty new one for a bad cookie);
3. `SessionBackend.save` writes, refreshes or deletes the cookie (and store record) and marks
   the response ``Vary: Cookie`` / ``Cache-Control: private`` when the session was touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from flasgo.sessions.cookie import CookieSessions
from flasgo.sessions.server import ServerSideSessions
from flasgo.sessions.session import (
    USER_ID_KEY,
    Session,
    SessionConflict,
    SessionTooLarge,
    login,
    logout,
)

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.response import Response

__all__ = [
    "USER_ID_KEY",
    "CookieSessions",
    "ServerSideSessions",
    "Session",
    "SessionBackend",
    "SessionConflict",
    "SessionTooLarge",
    "login",
    "logout",
]


class SessionBackend(Protocol):
    """Where sessions come from and go to; the app calls these three methods per request."""

    def has_cookie(self, request: Request) -> bool:
        """Whether the request sends the session cookie exactly once (cheap: no crypto, no I/O)."""
        ...

    async def load(self, request: Request) -> Session:
        """Return the request's session; a bad, expired or duplicated cookie gives an empty one.

        Raises:
            StoreUnavailable: A server-side store failed.
        """
        ...

    async def save(self, request: Request, session: Session, response: Response) -> None:
        """Persist the session into `response` (cookie) and the store, as it requires.

        Raises:
            SessionTooLarge: The session does not fit.
            SessionConflict: A concurrent request changed a server-side session first.
            StoreUnavailable: A server-side store failed.
        """
        ...
