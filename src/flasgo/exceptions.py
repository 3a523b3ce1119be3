"""The exception hierarchy: one root, HTTP errors named after their status, and `abort`."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import NoReturn

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "FlasgoError",
    "Forbidden",
    "HTTPException",
    "InternalServerError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "RoutingError",
    "SetupFrozenError",
    "TooManyRequests",
    "URITooLong",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "abort",
]


class FlasgoError(Exception):
    """Root of every exception Flasgo raises on purpose."""


class ConfigurationError(FlasgoError, ValueError):
    """A setting or registration is invalid; the message says how to fix it."""


class RoutingError(ConfigurationError):
    """A route rule is malformed or conflicts with another one."""


class SetupFrozenError(FlasgoError, RuntimeError):
    """The app was changed after it started serving requests."""


def _reason(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


class HTTPException(FlasgoError):
    """An error that becomes an HTTP response with `status_code`, `detail` and `headers`.

    Args:
        status_code: The HTTP status, 400-599 (or a 3xx for redirects raised as errors).
        detail: Text sent as the body; defaults to the reason phrase.
        headers: Extra response headers, e.g. ``Allow`` or ``Retry-After``.
    """

    status_code: int = 500

    def __init__(
        self,
        status_code: int | None = None,
        detail: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        if not 100 <= self.status_code <= 599:
            raise ValueError(f"status_code must be 100-599, got {self.status_code}")
        self.detail = detail or _reason(self.status_code)
        self.headers: dict[str, str] = dict(headers) if headers else {}
        super().__init__(self.status_code, self.detail)

    def __str__(self) -> str:
        return f"{self.status_code} {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, detail={self.detail!r})"

    def render(self) -> tuple[bytes, str]:
        """The response body and its media type (plain text `detail` by default)."""
        return self.detail.encode("utf-8"), "text/plain; charset=utf-8"

    # Subclasses take (detail, headers) only; pickling must replay the base signature.
    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_http_exception, (type(self), self.status_code, self.detail, self.headers))


def _rebuild_http_exception(
    cls: type[HTTPException], status_code: int, detail: str, headers: dict[str, str]
) -> HTTPException:
    exc = cls.__new__(cls)
    HTTPException.__init__(exc, status_code, detail, headers)
    return exc


class _StatusError(HTTPException):
    def __init__(self, detail: str = "", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(None, detail, headers)


class BadRequest(_StatusError):
    """400: the request is malformed."""

    status_code = 400


class Forbidden(_StatusError):
    """403: the request is understood but refused."""

    status_code = 403


class NotFound(_StatusError):
    """404: no route matches the path."""

    status_code = 404


class MethodNotAllowed(_StatusError):
    """405: the path exists but not for this method; carries the ``Allow`` header."""

    status_code = 405


class RequestTimeout(_StatusError):
    """408: the body did not arrive in time."""

    status_code = 408


class PayloadTooLarge(_StatusError):
    """413: the body, a form or a query string is over its limit."""

    status_code = 413


class URITooLong(_StatusError):
    """414: the request target is over its limit."""

    status_code = 414


class UnsupportedMediaType(_StatusError):
    """415: the body's Content-Type is not what the handler accepts."""

    status_code = 415


class UnprocessableEntity(_StatusError):
    """422: the request is well-formed but its values do not validate."""

    status_code = 422


class TooManyRequests(_StatusError):
    """429: the client is throttled."""

    status_code = 429


class RequestHeaderFieldsTooLarge(_StatusError):
    """431: the request head is over its limit."""

    status_code = 431


class InternalServerError(_StatusError):
    """500: the application failed."""

    status_code = 500


def abort(status_code: int, detail: str = "", headers: Mapping[str, str] | None = None) -> NoReturn:
    """Stop the request now with an HTTP error response.

    Args:
        status_code: HTTP status of the response.
        detail: Body text; defaults to the reason phrase.
        headers: Extra headers for the response.

    Raises:
        HTTPException: Always.
    """
    raise HTTPException(status_code, detail, headers)
