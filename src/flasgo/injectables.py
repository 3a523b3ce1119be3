"""Injectables: the per-app registry of types injected into parameters by annotation alone.

A handler or provider parameter annotated with a registered type (or a subclass of one) and no
marker receives ``provide(request)``. Each app owns one `Injectables`; the built-ins (`Request`,
`Session`, `User`) are present from the start, so registering a type of one's own can never
hide them, and one app's registrations never reach another app. The registry is read when a
route is compiled (`flasgo.handlers.compile_handler`), never per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flasgo.exceptions import ConfigurationError
from flasgo.request import Request
from flasgo.security.auth import User
from flasgo.sessions import Session

__all__ = ["Injectables", "Provider"]

Provider = Callable[[Request], Any]
"""Produces the injected value from the request."""


def _the_request(request: Request) -> Request:
    return request


def _the_session(request: Request) -> Any:
    return request.session


def _the_user(request: Request) -> Any:
    return request.user


class Injectables:
    """Types injected by annotation, with no marker: the built-ins plus the app's own.

    Example::

        injectables = Injectables()
        injectables.register(Tenant, lambda request: request.g.tenant)
    """

    __slots__ = ("_providers",)

    def __init__(self) -> None:
        self._providers: dict[type, Provider] = {
            Request: _the_request,
            Session: _the_session,
            User: _the_user,
        }

    def register(self, kind: type, provide: Provider) -> None:
        """Inject ``provide(request)`` into parameters annotated `kind` (or a subclass).

        Registering a type again replaces its provider. Routes compiled before the call keep
        what they had: register before the routes that use it.

        Raises:
            ConfigurationError: `kind` is not a class or `provide` is not callable.
        """
        if not isinstance(kind, type):
            raise ConfigurationError(f"An injectable is a class, got {kind!r}.")
        if not callable(provide):
            raise ConfigurationError(
                f"The provider of {kind.__qualname__} must be callable, got {provide!r}."
            )
        self._providers[kind] = provide

    def find(self, annotation: Any) -> Provider | None:
        """The provider for a parameter annotated `annotation`, or None.

        The most specific registered class wins: the annotation itself, else its nearest
        registered base in method resolution order.
        """
        if not isinstance(annotation, type):
            return None
        providers = self._providers
        for base in annotation.__mro__:
            provide = providers.get(base)
            if provide is not None:
                return provide
        return None
