"""`DocumentedApp`: what the OpenAPI document and the docs pages need from an app.

`flasgo.Flasgo` is one; the protocol keeps the openapi package from importing the app's
module (the app imports this package to build its document).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.security.auth import AuthRegistry
    from flasgo.settings import Settings

__all__ = ["DocumentedApp"]


class DocumentedApp(Protocol):
    """An app whose HTTP routes can be documented."""

    name: str
    settings: Settings
    auth: AuthRegistry

    def iter_endpoints(self) -> Iterator[Endpoint]:
        """The registered endpoints, in registration order."""
        ...

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI document."""
        ...

    def add_route(
        self,
        rule: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        """Register `endpoint` for `rule` (the docs pages register theirs)."""
        ...
