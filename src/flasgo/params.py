"""Parameter markers for `Annotated`: where a handler argument comes from.

``Annotated[int, Query(alias="page-size")]``, ``Annotated[str, Header()]``,
``Annotated[Item, Body()]``, ``Annotated[DB, Depends(get_db)]``. A marker only describes: the
signature inspector (`flasgo.signature`) reads the markers once, when the route is registered,
and `flasgo.binding` reads the values per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Body", "Cookie", "Depends", "File", "Form", "Header", "Marker", "Query"]


@dataclass(frozen=True, slots=True)
class Marker:
    """Base of the source markers.

    Attributes:
        alias: The name on the wire when it differs from the parameter name.
        description: Shown in the OpenAPI document.
    """

    alias: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Query(Marker):
    """A query string parameter (the default for plain parameters); lists collect repeats."""


@dataclass(frozen=True, slots=True)
class Header(Marker):
    """A request header: the alias, or the parameter name with ``_`` as ``-``, any case.

    List types collect repeated headers and comma-separated values.
    """


@dataclass(frozen=True, slots=True)
class Cookie(Marker):
    """A request cookie, by its exact name (the alias or the parameter name)."""


@dataclass(frozen=True, slots=True)
class Body(Marker):
    """The JSON body validated into the annotated type (``application/json`` or ``+json``)."""


@dataclass(frozen=True, slots=True)
class Form(Marker):
    """A urlencoded form: the whole form into a model, or one field into a scalar."""


@dataclass(frozen=True, slots=True)
class File(Marker):
    """An uploaded file from a multipart form: ``UploadedFile`` or ``list[UploadedFile]``."""


@dataclass(frozen=True, slots=True)
class Depends:
    """The value `provider` returns, its own parameters bound like a handler's.

    Args:
        provider: A sync or async function, or a sync or async generator function (code after
            its ``yield`` runs after the response is sent).
        use_cache: Reuse the value within one request when several parts ask for it.
        scope: When a generator provider's code after ``yield`` runs: ``"request"`` (the
            default) after the response is sent, ``"function"`` as soon as the handler
            returns, before the response is sent. A request-scoped provider cannot depend on
            a function-scoped one (it would outlive it).

    Raises:
        ValueError: `scope` is neither ``"request"`` nor ``"function"``.
    """

    provider: Callable[..., Any]
    use_cache: bool = True
    scope: Literal["request", "function"] = "request"

    def __post_init__(self) -> None:
        if self.scope not in ("request", "function"):
            raise ValueError(
                f"Depends(scope={self.scope!r}): use 'request' (teardown after the response) "
                "or 'function' (teardown when the handler returns)."
            )
