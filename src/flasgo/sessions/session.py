"""The `Session` mapping, login/logout helpers, and what every session backend shares.

`Session` tracks three things the pipeline needs: `accessed` (any read at all, including
``in``, ``len`` and iteration; it drives ``Vary: Cookie``, CVE-2026-27205), `modified` (only
real changes; it decides whether anything is written) and `new` (no valid cookie came in).

The shared parts at the bottom read the session cookie (exactly one, or none at all), build
the ``Set-Cookie`` from settings, encode session data as compact JSON, and mark a response
that depends on the session as private to caches (CVE-2023-30861, CVE-2026-35192).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from flasgo.cookies import SameSite, build_delete_cookie, build_set_cookie, cookie_values
from flasgo.exceptions import FlasgoError, HTTPException
from flasgo.sessiondata import Session, new_session_id

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.response import Response
    from flasgo.settings import Settings

__all__ = [
    "USER_ID_KEY",
    "Session",
    "SessionConflict",
    "SessionCookie",
    "SessionTooLarge",
    "decode_session_data",
    "encode_session_data",
    "login",
    "logout",
    "mark_private",
    "new_session_id",
]

USER_ID_KEY: Final = "_user_id"
"""The session key `login` stores the user id under."""

# Values whose equality means "nothing changed": re-assigning an equal list may hide an
# in-place change, so containers always count as a write.
_SCALARS = (str, int, float, bool, type(None))


class SessionTooLarge(FlasgoError):
    """The session does not fit where it is stored (a browser cookie or a store value)."""


class SessionConflict(HTTPException):
    """409: another request changed the server-side session first (compare-and-swap lost)."""

    status_code = 409

    def __init__(self, detail: str = "", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(
            None,
            detail
            or "The session was changed by another request at the same time; retry the request.",
            headers,
        )


def login(session: Session, user_id: str | int) -> None:
    """Record `user_id` as logged in and rotate the session (session fixation defence).

    Data from an anonymous session is kept (a shopping cart survives login); data of a
    different user who was logged in is dropped.

    Raises:
        TypeError: `user_id` is not a str or int.
    """
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        raise TypeError(f"user_id must be a str or int, got {type(user_id).__name__}")
    current = session.get(USER_ID_KEY)
    if current is not None and current != user_id:
        session.clear()
    session.regenerate()
    session[USER_ID_KEY] = user_id


def logout(session: Session) -> None:
    """Forget everything in the session and rotate it; the cookie is removed when saved."""
    session.clear()
    session.regenerate()


# -- what the backends share -----------------------------------------------------------------


def encode_session_data(value: Any) -> bytes:
    """Encode session data as compact JSON with sorted keys (UTF-8).

    Raises:
        TypeError: A value is not a JSON type (or is NaN/infinite).
    """
    try:
        text = json.dumps(
            value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Session values must be JSON types (str, int, float, bool, None, list, dict with "
            f"str keys); convert other values first ({exc})"
        ) from None
    return text.encode("utf-8")


def decode_session_data(raw: bytes) -> dict[str, Any] | None:
    """Decode JSON session data; None unless it is a JSON object."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class SessionCookie:
    """The session cookie's name and attributes, read once from settings."""

    name: str
    max_age: int
    secure: bool
    http_only: bool
    same_site: SameSite
    default_no_store: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCookie:
        """Take the ``SESSION_COOKIE_*`` keys (and ``ENFORCE_NO_STORE_CACHE``)."""
        return cls(
            name=settings.SESSION_COOKIE_NAME,
            max_age=settings.SESSION_COOKIE_MAX_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            http_only=settings.SESSION_COOKIE_HTTP_ONLY,
            same_site=settings.SESSION_COOKIE_SAME_SITE,
            default_no_store=settings.ENFORCE_NO_STORE_CACHE,
        )

    def values(self, request: Request) -> list[str]:
        """Every value the request sends for the session cookie."""
        headers = request.headers.getlist("cookie")
        if not headers:
            return []
        return cookie_values(headers[0] if len(headers) == 1 else "; ".join(headers), self.name)

    def read(self, request: Request) -> str | None:
        """The cookie's value when it is sent exactly once and is not empty, else None."""
        values = self.values(request)
        # SECURITY: two values mean a cookie tossed in from a parent domain or path; trusting
        # either one could fix the session, so neither is used.
        return values[0] if len(values) == 1 and values[0] else None

    def set(self, response: Response, value: str) -> None:
        """Add the ``Set-Cookie`` carrying `value` with the configured attributes."""
        response.cookies.append(
            build_set_cookie(
                self.name,
                value,
                max_age=self.max_age,
                path="/",
                secure=self.secure,
                http_only=self.http_only,
                same_site=self.same_site,
            )
        )

    def delete(self, response: Response) -> None:
        """Add the ``Set-Cookie`` that removes the session cookie."""
        response.cookies.append(
            build_delete_cookie(
                self.name,
                path="/",
                secure=self.secure,
                http_only=self.http_only,
                same_site=self.same_site,
            )
        )


def _merge_vary(response: Response) -> None:
    headers = response.headers
    values = headers.getlist("vary")
    if not values:
        headers["vary"] = "Cookie"
        return
    fields = {item.strip().lower() for value in values for item in value.split(",")}
    if "*" not in fields and "cookie" not in fields:
        headers["vary"] = f"{values[0]}, Cookie"


def mark_private(response: Response, *, default_no_store: bool) -> None:
    """Keep shared caches from storing a response that depends on the session.

    Adds ``Cookie`` to ``Vary`` and makes ``Cache-Control`` ``private`` (dropping ``public``)
    unless it already says ``no-store`` or ``private``.

    Args:
        response: The response to mark.
        default_no_store: The app sends its ``no-store`` block on responses without their own
            ``Cache-Control`` (``ENFORCE_NO_STORE_CACHE``); that block is left to apply, as
            setting ``private`` here would replace it.
    """
    _merge_vary(response)
    headers = response.headers
    values = headers.getlist("cache-control")
    if not values:
        if not default_no_store or response.allow_public_cache:
            headers["cache-control"] = "private"
        return
    directives = [item.strip() for value in values for item in value.split(",") if item.strip()]
    # SECURITY: directive names are case-insensitive (CVE-2026-8404 class).
    names = [item.partition("=")[0].strip().lower() for item in directives]
    if "no-store" in names or "private" in names:
        return
    kept = [item for item, name in zip(directives, names, strict=True) if name != "public"]
    del headers["cache-control"]
    headers["cache-control"] = ", ".join(["private", *kept])
