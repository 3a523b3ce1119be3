"""Responses: the `Response` family, header validation, and return-value coercion.

A handler may return a `Response`, `str`, `bytes`, `dict`/`list`, a dataclass, msgspec Struct or
pydantic model, `None`, or a tuple `(body, status)`, `(body, headers)` or
`(body, status, headers)`; `to_response` turns any of them into a `Response`. A `str` is
``text/plain``, except a `str` subclass that declares itself HTML with ``__html__`` (a rendered
template page, ``markupsafe.Markup``), which is ``text/html``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
)
from datetime import datetime
from typing import Any, Literal

import msgspec

from flasgo.cookies import build_delete_cookie, build_set_cookie
from flasgo.jsonenc import encode_json

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "ResponseHeaders",
    "StreamingResponse",
    "jsonify",
    "make_response",
    "redirect",
    "to_response",
]

TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
JSON = "application/json"
OCTETS = "application/octet-stream"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHARS = ("\r", "\n", "\0")
_NO_BODY_STATUSES = frozenset({204, 304})
# WHATWG URL: what a browser strips around a URL, and how a scheme starts.
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:")

Send = Callable[[dict[str, Any]], Awaitable[None]]
SameSite = Literal["Lax", "Strict", "None"]


def _check_header(name: str, value: str) -> None:
    # SECURITY: header injection (CR/LF/NUL) is refused when the header is set, not at send time.
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"Invalid header name {name!r}: use an RFC 9110 token such as 'X-Name'.")
    for char in _BAD_VALUE_CHARS:
        if char in value:
            raise ValueError(
                f"Invalid value for header {name!r}: CR, LF and NUL are not allowed "
                "(they would let a client inject headers)."
            )
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"Invalid value for header {name!r}: only ISO-8859-1 text is allowed; "
                "percent-encode other characters."
            ) from None


class ResponseHeaders(MutableMapping[str, str]):
    """Case-insensitive response headers; values are validated when set.

    One value per name through the mapping interface; `add` appends a repeated header.
    """

    __slots__ = ("_extra", "_store")

    def __init__(self, initial: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        self._store: dict[str, str] = {}
        self._extra: list[tuple[str, str]] = []
        if initial:
            items = initial.items() if isinstance(initial, Mapping) else initial
            for name, value in items:
                self[name] = value

    def __getitem__(self, name: str) -> str:
        return self._store[name.lower()]

    def __setitem__(self, name: str, value: str) -> None:
        value = str(value)
        _check_header(name, value)
        self._store[name.lower()] = value

    def __delitem__(self, name: str) -> None:
        lower = name.lower()
        del self._store[lower]
        self._extra = [(n, v) for n, v in self._extra if n != lower]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._store

    def names(self) -> KeysView[str]:
        """The lower-case header names (a live view, one entry per name)."""
        return self._store.keys()

    def add(self, name: str, value: str) -> None:
        """Append a header, keeping earlier values of the same name (e.g. ``Link``)."""
        _check_header(name, value)
        lower = name.lower()
        if lower in self._store:
            self._extra.append((lower, value))
        else:
            self._store[lower] = value

    def getlist(self, name: str) -> list[str]:
        """Every value of `name`, in the order they were set."""
        lower = name.lower()
        values = [self._store[lower]] if lower in self._store else []
        values.extend(v for n, v in self._extra if n == lower)
        return values

    def raw(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI byte pairs."""
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._store.items()]
        raw.extend((n.encode("latin-1"), v.encode("latin-1")) for n, v in self._extra)
        return raw

    def __repr__(self) -> str:
        return f"ResponseHeaders({list(self._store.items()) + self._extra!r})"


class Response:
    """An HTTP response with a fully known body.

    Args:
        body: `bytes` or `str` (encoded as UTF-8).
        status_code: HTTP status, 100-599.
        headers: Extra headers.
        content_type: The Content-Type; defaults to ``text/plain; charset=utf-8``.
        allow_public_cache: Opt this response out of the default ``no-store`` caching.
        background: A callable (or `BackgroundTasks`) to run after the response is sent.
    """

    default_content_type: str = TEXT

    __slots__ = ("allow_public_cache", "background", "body", "cookies", "headers", "status_code")

    def __init__(
        self,
        body: bytes | str = b"",
        status_code: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = None,
        *,
        allow_public_cache: bool = False,
        background: Callable[[], Any] | None = None,
    ) -> None:
        if type(status_code) is not int or not 100 <= status_code <= 599:
            raise ValueError(f"status_code must be an int in 100-599, got {status_code!r}")
        self.status_code = status_code
        self.body: bytes = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body)
        self.headers = ResponseHeaders(headers)
        if "content-type" not in self.headers and not self._is_bodyless():
            self.headers["content-type"] = content_type or self.default_content_type
        elif content_type is not None:
            self.headers["content-type"] = content_type
        if self.body and self._is_bodyless():
            raise ValueError(f"A {status_code} response must not have a body.")
        self.cookies: list[str] = []
        self.allow_public_cache = allow_public_cache
        self.background = background

    def _is_bodyless(self) -> bool:
        return self.status_code < 200 or self.status_code in _NO_BODY_STATUSES

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, or None."""
        return self.headers.get("content-type")

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.headers["content-type"] = value

    @property
    def status(self) -> int:
        """Alias of `status_code` (Flask spelling)."""
        return self.status_code

    @property
    def data(self) -> bytes:
        """The body bytes (Flask spelling)."""
        return self.body

    def set_cookie(
        self,
        name: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: datetime | int | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = True,
        http_only: bool = True,
        same_site: SameSite | None = "Lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header; secure, HttpOnly and SameSite=Lax by default.

        Raises:
            ValueError: The name, value or an attribute is not valid in a cookie.
        """
        self.cookies.append(
            build_set_cookie(
                name,
                value,
                max_age=max_age,
                expires=expires,
                path=path,
                domain=domain,
                secure=secure,
                http_only=http_only,
                same_site=same_site,
                partitioned=partitioned,
            )
        )

    def delete_cookie(
        self,
        name: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        http_only: bool = True,
        same_site: SameSite | None = "Lax",
    ) -> None:
        """Tell the client to drop cookie `name`."""
        self.cookies.append(
            build_delete_cookie(
                name,
                path=path,
                domain=domain,
                secure=secure,
                http_only=http_only,
                same_site=same_site,
            )
        )

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers for the ASGI start message, with Content-Length and cookies."""
        raw = self.headers.raw()
        if not self._is_bodyless():
            if "content-length" in self.headers:
                # NOTE: the length is always that of the body sent; one the handler set (maybe
                # stale) would make a second, conflicting header, which proxies treat as
                # request smuggling.
                raw = [pair for pair in raw if pair[0] != b"content-length"]
            raw.append((b"content-length", str(len(self.body)).encode()))
        raw.extend((b"set-cookie", cookie.encode("latin-1")) for cookie in self.cookies)
        return raw

    async def send_body(self, send: Send, *, is_head: bool) -> None:
        """Send the body message(s) after the start message."""
        await send({"type": "http.response.body", "body": b"" if is_head else self.body})

    @classmethod
    def text(
        cls, body: str, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Build a ``text/plain`` response."""
        return cls(body, status_code, headers, TEXT)

    @classmethod
    def html(
        cls, body: str, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Build a ``text/html`` response."""
        return cls(body, status_code, headers, HTML)

    @classmethod
    def json(
        cls, value: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Build an ``application/json`` response from any JSON-encodable value."""
        return cls(encode_json(value), status_code, headers, JSON)

    @classmethod
    def redirect(
        cls, location: str, status_code: int = 302, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Build a redirect to `location`."""
        return redirect(location, status_code, headers)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} {self.content_type!r}>"


class PlainTextResponse(Response):
    """A ``text/plain; charset=utf-8`` response."""

    __slots__ = ()


class HTMLResponse(Response):
    """A ``text/html; charset=utf-8`` response."""

    __slots__ = ()
    default_content_type = HTML


class JSONResponse(Response):
    """A JSON response; `content` is encoded with the framework's msgspec encoder."""

    __slots__ = ()
    default_content_type = JSON

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(encode_json(content), status_code, headers, JSON, **options)


class RedirectResponse(Response):
    """A redirect (302 by default) with a validated ``Location``."""

    __slots__ = ()

    def __init__(
        self,
        location: str,
        status_code: int = 302,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if not 300 <= status_code <= 399:
            raise ValueError(f"A redirect needs a 3xx status, got {status_code}")
        super().__init__(b"", status_code, headers)
        self.headers["location"] = _same_site_location(location)


class StreamingResponse(Response):
    """A response whose body comes from an (async) iterable of `bytes`/`str` chunks.

    Sync iterables are advanced in the thread pool, so a blocking generator never stalls the loop.
    """

    __slots__ = ("content",)
    default_content_type = OCTETS

    def __init__(
        self,
        content: AsyncIterable[bytes | str] | Iterable[bytes | str],
        status_code: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(b"", status_code, headers, content_type, **options)
        self.content = content

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        raw = self.headers.raw()
        raw.extend((b"set-cookie", cookie.encode("latin-1")) for cookie in self.cookies)
        return raw

    async def send_body(self, send: Send, *, is_head: bool) -> None:
        if is_head:
            await send({"type": "http.response.body", "body": b""})
            return
        content = self.content
        if not isinstance(content, AsyncIterable):
            from flasgo.concurrency import iterate_in_threadpool
            from flasgo.context import find_app

            content = iterate_in_threadpool(find_app().thread_pool, content)
        async for chunk in content:
            data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            if data:
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _same_site_location(location: str) -> str:
    """`location` as a browser reads it, with a target that has no scheme kept on this site.

    Browsers parse ``Location`` with the WHATWG URL parser: leading and trailing C0 controls
    and spaces are dropped, tabs and newlines are removed anywhere, and ``\\`` counts as
    ``/``. So ``\\\\evil``, ``\\/evil``, ``/<TAB>/evil`` and `` //evil`` all mean
    ``//evil``, another origin. A target without a scheme is meant to stay on this site, so
    the second slash of such a start is percent-encoded (``/%2Fevil``, a path here). A target
    with a scheme (``https://example.com/``) is the app's explicit choice and kept.

    Args:
        location: The redirect target.

    Returns:
        The target to send; CR, LF and NUL are left for the header check to refuse.
    """
    if "\r" in location or "\n" in location or "\0" in location:
        return location
    url = location.strip(_C0_AND_SPACE).replace("\t", "")
    if _SCHEME.match(url) is not None:
        return url
    # SECURITY: two leading slashes or backslashes make a scheme-relative URL: another host.
    if len(url) > 1 and url[0] in "/\\" and url[1] in "/\\":
        return "/" + ("%2F" if url[1] == "/" else "%5C") + url[2:]
    return url


def redirect(location: str, code: int = 302, headers: Mapping[str, str] | None = None) -> Response:
    """Return a redirect response to `location` (Flask's ``redirect``).

    Raises:
        ValueError: `location` contains CR/LF/NUL, or `code` is not a 3xx status.
    """
    return RedirectResponse(location, code, headers)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """Return a JSON response: one positional value, several (a list), or keywords (an object)."""
    if args and kwargs:
        raise TypeError("jsonify() takes positional values or keyword values, not both")
    value: Any = (args[0] if len(args) == 1 else list(args)) if args else kwargs
    return Response(encode_json(value), 200, None, JSON)


def _is_model(value: object) -> bool:
    return (
        isinstance(value, msgspec.Struct)
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
        or hasattr(value, "model_dump")
    )


def _coerce_body(value: Any) -> Response:
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        # A str that declares itself HTML (a rendered template, markupsafe.Markup) is a page.
        kind = HTML if type(value) is not str and hasattr(value, "__html__") else TEXT
        return Response(value.encode("utf-8", "replace"), 200, None, kind)
    if isinstance(value, dict | list):
        return Response(encode_json(value), 200, None, JSON)
    if value is None:
        return Response(b"", 204)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(bytes(value), 200, None, OCTETS)
    if _is_model(value):
        return Response(encode_json(value), 200, None, JSON)
    raise TypeError(
        f"A handler returned {type(value).__name__!r}, which Flasgo cannot turn into a response. "
        "Return a str, bytes, dict, list, dataclass, msgspec Struct, None, a Response, or a "
        "tuple (body, status[, headers])."
    )


def to_response(value: Any) -> Response:
    """Turn a handler's return value into a `Response`.

    Raises:
        TypeError: The value (or the tuple's shape) is not something Flasgo can send.
        ValueError: The status or a header is invalid.
    """
    if type(value) is not tuple:
        return _coerce_body(value)
    if len(value) == 2:
        body, second = value
        if isinstance(second, Mapping | list):
            return _with(_coerce_body(body), None, second)
        return _with(_coerce_body(body), second, None)
    if len(value) == 3:
        body, status, headers = value
        return _with(_coerce_body(body), status, headers)
    raise TypeError(
        "A returned tuple must be (body, status), (body, headers) or (body, status, headers); "
        f"got a tuple of {len(value)} items."
    )


def _with(
    response: Response,
    status: Any,
    headers: Mapping[str, str] | list[tuple[str, str]] | None,
) -> Response:
    if status is not None:
        if isinstance(status, str) and status.isascii() and status.isdigit():
            status = int(status)
        if type(status) is not int or not 100 <= status <= 599:
            raise ValueError(f"A returned status must be an int in 100-599, got {status!r}")
        response.status_code = status
        if response.body and response._is_bodyless():
            raise ValueError(f"A {status} response must not have a body.")
        if response._is_bodyless():
            response.headers.pop("content-type", None)
        elif "content-type" not in response.headers:
            response.headers["content-type"] = TEXT
    if headers:
        items = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in items:
            if name.lower() == "set-cookie":
                _check_header(name, str(value))
                response.cookies.append(str(value))
            else:
                response.headers[name] = value
    return response


def make_response(*args: Any) -> Response:
    """Turn a return value (or the pieces of a tuple) into a `Response` you can modify."""
    if not args:
        return Response(b"")
    return to_response(args[0] if len(args) == 1 else tuple(args))
