"""Context-local globals: `request`, `g`, `current_app`, `session`, `current_user`, backed by
one contextvar per request.

Only a `RequestBinding` is stored per request (one `ContextVar.set`); `g` and `current_app`
are derived from its request, so a request that never touches them pays nothing for them.

# PERF: the context holds the request through a binding that the pipeline empties when the
# request ends. The server arms its keep-alive timer inside the last ``send()``, and that
# timer copies the current context: were the request held directly, every request's object
# graph would outlive it, age into the old GC generations and make full collections (the
# p99 tail) frequent. Emptied, the copied context reaches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from flasgo.state import AppGlobals

if TYPE_CHECKING:
    from flasgo.request import Request, RequestApp
    from flasgo.sessiondata import Session
    from flasgo.user import User

__all__ = [
    "AppGlobals",
    "LocalProxy",
    "RequestBinding",
    "current_request",
    "current_user",
    "find_app",
    "find_request",
    "g",
    "request",
    "request_binding",
    "session",
]

app_var: ContextVar[RequestApp] = ContextVar("flasgo.app")


RequestBinding = list["Request | None"]
"""The context's hold on the request being handled: a one-item list that the pipeline empties
(``binding[0] = None``) when the request ends. PERF: a list literal, no constructor call."""


request_binding: ContextVar[RequestBinding] = ContextVar("flasgo.request")


def current_request() -> Request:
    """The request being handled in this context.

    Raises:
        LookupError: No request is being handled here (or it has ended).
    """
    request = request_binding.get()[0]
    if request is None:
        raise LookupError("flasgo.request")
    return request


def find_request() -> Request | None:
    """The request being handled in this context, or None."""
    binding = request_binding.get(None)
    return None if binding is None else binding[0]


class LocalProxy:
    """Forward attribute and item access to the object `resolve()` returns right now."""

    __slots__ = ("_name", "_resolve")

    def __init__(self, resolve: Callable[[], object], name: str) -> None:
        object.__setattr__(self, "_resolve", resolve)
        object.__setattr__(self, "_name", name)

    def _get(self) -> Any:
        try:
            return self._resolve()
        except LookupError:
            raise RuntimeError(
                f"Working outside of a request: `{self._name}` is only available while "
                "a request is being handled (inside a handler, hook or dependency)."
            ) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._get(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._get()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._get()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._get()[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._get()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __bool__(self) -> bool:
        try:
            return bool(self._resolve())
        except LookupError:
            return False

    def __eq__(self, other: object) -> bool:
        return bool(self._get() == other)

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        try:
            return repr(self._resolve())
        except LookupError:
            return f"<unbound {self._name}>"

    def _get_current_object(self) -> Any:
        """Return the proxied object itself (e.g. to pass it to another thread)."""
        return self._get()


def find_app() -> RequestApp:
    """The app serving the current request (or lifespan, or WebSocket).

    Raises:
        LookupError: No app is active in this context.
    """
    req = find_request()
    if req is not None:
        return req.app
    return app_var.get()


def _g() -> AppGlobals:
    return current_request().g


def _session() -> Session:
    return current_request().session


def _current_user() -> User:
    return current_request().user


request = cast("Request", LocalProxy(current_request, "request"))
session = cast("Session", LocalProxy(_session, "session"))
# NOTE: lazy: a route without @authorize reads the session only when this is used.
current_user = cast("User", LocalProxy(_current_user, "current_user"))
g = cast(AppGlobals, LocalProxy(_g, "g"))
