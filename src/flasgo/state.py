"""`RequestState`: what the pipeline and its features know about one request beyond its bytes.

One typed object per request, made on first use (a request that needs none of it pays
nothing): the request id, the session, the user, the CSRF token made for the response, the
rate-limit usage for its headers, and when handling started. Features read and write it
through `Request.state`; none of them reaches into another's private attributes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RequestState"]


class RequestState:
    """The per-request state.

    Attributes:
        request_id: The request id, once someone asked for it (logs, errors, handlers).
        session: The loaded session (a `flasgo.sessions.Session`), once loaded.
        user: The user (a `flasgo.security.auth.User`), once known.
        csrf_token: A CSRF token made during this request, to be set on its response.
        usage: The most restrictive rate-limit usage, for the ``RateLimit-*`` headers.
        started: The loop time handling started, when something measures it.
    """

    __slots__ = ("csrf_token", "request_id", "session", "started", "usage", "user")

    # NOTE: session, user and usage are typed Any: their types belong to the feature layer
    # above this one; `Request.session` and `Request.user` give them their real types.
    def __init__(self) -> None:
        self.request_id: str | None = None
        self.session: Any = None
        self.user: Any = None
        self.csrf_token: str | None = None
        self.usage: Any = None
        self.started: float | None = None
