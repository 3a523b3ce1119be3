"""`RequestState` and `AppGlobals` (``g``): what is known about one request beyond its bytes.

One typed object per request, made on first use (a request that needs none of it pays
nothing): the request id, the session, the user, the CSRF token made for the response and
the rate-limit usage for its headers. Features read and write it through `Request.state`;
none of them reaches into another's private attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["AppGlobals", "RequestState"]


class RequestState:
    """The per-request state.

    Attributes:
        request_id: The request id, once someone asked for it (logs, errors, handlers).
        session: The loaded session (a `flasgo.sessions.Session`), once loaded.
        user: The user (a `flasgo.security.auth.User`), once known.
        csrf_token: A CSRF token made during this request, to be set on its response.
        usage: The most restrictive rate-limit usage, for the ``RateLimit-*`` headers.
    """

    __slots__ = ("csrf_token", "request_id", "session", "usage", "user")

    # NOTE: session, user and usage are typed Any: their types belong to the feature layer
    # above this one; `Request.session` and `Request.user` give them their real types.
    def __init__(self) -> None:
        self.request_id: str | None = None
        self.session: Any = None
        self.user: Any = None
        self.csrf_token: str | None = None
        self.usage: Any = None


class AppGlobals:
    """A plain namespace for per-request data (Flask's ``g``)."""

    def __getattr__(self, name: str) -> Any:
        # NOTE: only called for missing attributes; typed Any so `g.user` type-checks.
        raise AttributeError(f"g has no attribute {name!r}; set it first (g.{name} = ...)")

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value

    def get(self, name: str, default: Any = None) -> Any:
        """Return attribute `name`, or `default` when it is not set."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = None) -> Any:
        """Remove attribute `name` and return it, or `default`."""
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        """Return attribute `name`, setting it to `default` first when missing."""
        return self.__dict__.setdefault(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        return f"<flasgo.g {self.__dict__!r}>"
