"""What the test client hands back: headers, full responses and streamed responses."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import msgspec

__all__ = ["AsyncStreamingTestResponse", "ResponseHeaders", "StreamingTestResponse", "TestResponse"]


class ResponseHeaders(Mapping[str, str]):
    """Read-only, case-insensitive response headers.

    ``headers[name]`` joins the values of a repeated header with ``", "``, except Set-Cookie,
    whose values are joined with ``"\\n"`` (a cookie's Expires date holds a comma);
    `get_list` returns each value.
    """

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = tuple(pairs)
        self._index: dict[str, list[str]] = {}
        for name, value in self._pairs:
            self._index.setdefault(name.lower(), []).append(value)

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        return ("\n" if key == "set-cookie" else ", ").join(self._index[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def get_list(self, name: str) -> list[str]:
        """Return every value of header `name`, in order (empty when absent)."""
        return list(self._index.get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"ResponseHeaders({list(self._pairs)!r})"


def _charset(content_type: str | None) -> str:
    for parameter in (content_type or "").split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"')
            try:
                return codecs.lookup(charset).name
            except LookupError:
                break
    return "utf-8"


class _ResponseHead:
    """Status line and headers, shared by full and streamed responses."""

    __test__ = False

    def __init__(
        self, status_code: int, raw_headers: list[tuple[str, str]], request_method: str, url: str
    ) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.headers = ResponseHeaders(raw_headers)
        self.request_method = request_method
        self.url = url

    @property
    def location(self) -> str | None:
        """The Location header, if any."""
        return self.headers.get("location")

    @property
    def is_redirect(self) -> bool:
        """Tell whether this is a 3xx response with a Location header."""
        return 300 <= self.status_code < 400 and "location" in self.headers

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} {self.request_method} {self.url}>"


class TestResponse(_ResponseHead):
    """A complete response.

    Attributes:
        status_code: The HTTP status.
        headers: Case-insensitive headers (see `ResponseHeaders`).
        raw_headers: ``(name, value)`` pairs as the app sent them, decoded as Latin-1.
        content: The body bytes (`body` is the same).
        cookies: The cookies this response set (name to value, deletions included).
        history: The redirect responses followed to reach this one, oldest first.
        request_method: The method of the request that produced this response.
        url: The URL of that request.
    """

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[str, str]],
        content: bytes,
        *,
        request_method: str,
        url: str,
        cookies: dict[str, str] | None = None,
        history: list[TestResponse] | None = None,
    ) -> None:
        super().__init__(status_code, raw_headers, request_method, url)
        self.content = content
        self.cookies = cookies or {}
        self.history = history or []

    @property
    def body(self) -> bytes:
        """The body bytes."""
        return self.content

    @property
    def text(self) -> str:
        """The body decoded with the Content-Type's charset (UTF-8 by default)."""
        return self.content.decode(_charset(self.headers.get("content-type")), errors="replace")

    def json(self) -> Any:
        """Decode the body as JSON.

        Raises:
            msgspec.DecodeError: the body is not valid JSON.
        """
        return msgspec.json.decode(self.content)


class StreamingTestResponse(_ResponseHead):
    """A response whose body is read as the app sends it (inside `TestClient.stream`)."""

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[str, str]],
        next_chunk: Callable[[], bytes | None],
        *,
        request_method: str,
        url: str,
    ) -> None:
        super().__init__(status_code, raw_headers, request_method, url)
        self._next_chunk = next_chunk

    def iter_bytes(self) -> Iterator[bytes]:
        """Yield the body chunks as the app sends them."""
        while (chunk := self._next_chunk()) is not None:
            yield chunk

    def read(self) -> bytes:
        """Return the rest of the body."""
        return b"".join(self.iter_bytes())


class AsyncStreamingTestResponse(_ResponseHead):
    """A response whose body is read as the app sends it (inside `TestClient.astream`)."""

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[str, str]],
        next_chunk: Callable[[], Awaitable[bytes | None]],
        *,
        request_method: str,
        url: str,
    ) -> None:
        super().__init__(status_code, raw_headers, request_method, url)
        self._next_chunk = next_chunk

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield the body chunks as the app sends them (``async for``)."""
        while (chunk := await self._next_chunk()) is not None:
            yield chunk

    async def read(self) -> bytes:
        """Return the rest of the body."""
        return b"".join([chunk async for chunk in self.iter_bytes()])
