"""Signed-cookie sessions: the whole session travels in one HMAC-signed cookie.

The cookie value is ``<b64url(json)>.<unix ts>.<sig>`` (see `flasgo.security.signing`), keyed
with ``"flasgo.session:" + SECRET_KEY``: signed, **not encrypted**, so the client can read it.
It is written only when the session changed (or, with ``SESSION_REFRESH_EACH_REQUEST``, on
every request for sliding expiry), removed when the session is emptied, and refused when it
would not fit in a browser cookie. A signed cookie cannot be revoked before it expires; use
`ServerSideSessions` when logging out must end a session everywhere.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from flasgo.security.signing import BadSignature, SignatureExpired, Signer
from flasgo.sessions.session import (
    Session,
    SessionCookie,
    SessionTooLarge,
    decode_session_data,
    encode_session_data,
    mark_private,
)

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.response import Response
    from flasgo.settings import Settings

__all__ = ["MAX_COOKIE_BYTES", "SESSION_SALT", "CookieSessions"]

SESSION_SALT: Final = "flasgo.session"
"""The signing salt: the HMAC key is ``"flasgo.session:" + SECRET_KEY`` (the upstream key)."""

MAX_COOKIE_BYTES: Final = 4093
"""The largest ``name=value`` sent; browsers keep about 4096 bytes per cookie."""

_log = logging.getLogger("flasgo.session")


class CookieSessions:
    """The signed-cookie session backend (the default).

    Args:
        settings: The app settings; ``SECRET_KEY``, ``SECRET_KEY_FALLBACKS``,
            ``SESSION_COOKIE_*``, ``SESSION_REFRESH_EACH_REQUEST`` and
            ``ENFORCE_NO_STORE_CACHE`` are read once, here.
    """

    __slots__ = ("_cookie", "_max_age", "_refresh", "_signer")

    def __init__(self, settings: Settings) -> None:
        self._signer = Signer(
            settings.SECRET_KEY, fallbacks=settings.SECRET_KEY_FALLBACKS, salt=SESSION_SALT
        )
        self._cookie = SessionCookie.from_settings(settings)
        self._max_age = settings.SESSION_COOKIE_MAX_AGE
        self._refresh = settings.SESSION_REFRESH_EACH_REQUEST

    def has_cookie(self, request: Request) -> bool:
        """Whether the request sends the session cookie exactly once (no verification)."""
        return self._cookie.read(request) is not None

    async def load(self, request: Request) -> Session:
        """Verify the session cookie and return its session.

        A missing, duplicated, forged, expired or malformed cookie gives an empty new session
        (with `Session.rejected` saying why); this never raises.
        """
        values = self._cookie.values(request)
        if not values or values == [""]:
            return Session()
        if len(values) > 1:
            return _rejected("duplicate")
        try:
            payload = self._signer.unsign(values[0], max_age=self._max_age)
        except SignatureExpired:
            return _rejected("expired")
        except BadSignature:
            return _rejected("bad-signature")
        data = decode_session_data(payload)
        if data is None:
            return _rejected("malformed")
        return Session(data, new=False)

    async def save(self, request: Request, session: Session, response: Response) -> None:
        """Write, refresh or delete the cookie as the session requires; mark caching private.

        Raises:
            SessionTooLarge: The signed cookie would be over `MAX_COOKIE_BYTES`.
            TypeError: A session value is not a JSON type.
        """
        written = False
        data = session.data
        if not data:
            if session.modified and self._cookie.values(request):
                self._cookie.delete(response)
                written = True
        elif session.modified or self._refresh:
            token = self._signer.sign(encode_session_data(data))
            size = len(self._cookie.name) + 1 + len(token)
            if size > MAX_COOKIE_BYTES:
                raise SessionTooLarge(
                    f"The session cookie would be {size} bytes, over the {MAX_COOKIE_BYTES}-byte "
                    "limit browsers keep; store less in the session (ids, not objects) or use "
                    "server-side sessions (ServerSideSessions with a MemoryStore or RedisStore)."
                )
            self._cookie.set(response, token)
            written = True
        if written or session.accessed:
            mark_private(response, default_no_store=self._cookie.default_no_store)


def _rejected(reason: str) -> Session:
    # SECURITY: the reason only; the cookie value never reaches the log.
    _log.debug("session cookie ignored: %s", reason)
    session = Session()
    session.rejected = reason
    return session
