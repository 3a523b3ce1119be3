"""Response compression: gzip built in, brotli and zstd when their packages are installed.

`Compressor` is compiled from settings (``COMPRESSION_ENABLED``, ``COMPRESSION_MIN_BYTES``,
``COMPRESSION_GZIP_LEVEL``) and applied by the pipeline just before sending. A response is
compressed when its type is compressible (text, JSON, JavaScript, XML, SVG; not images, video,
archives or fonts that are compressed already), its body is at least the threshold (a stream
always qualifies), it sets no ``Content-Encoding`` and no ``Cache-Control: no-transform``, it
is not a range response, a file sent from disk or an event stream, and the client accepts a
coding (``Accept-Encoding`` q-values; zstd, then br, then gzip on a tie). Such responses get
``Vary: Accept-Encoding`` whether or not this client's copy was compressed. Streamed bodies are
compressed chunk by chunk, each flushed so the client sees it at once.

# PERF: a response below the threshold costs one length comparison.
# SECURITY: compressing secrets beside attacker-chosen text leaks them (BREACH); the CSRF
# token a page renders is masked per response (`flasgo.security.csrf`), so it never repeats.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol

from flasgo.exceptions import ConfigurationError
from flasgo.mediatypes import accepted_codings
from flasgo.response import Response, StreamingResponse

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.settings import Settings

__all__ = ["Compressor", "available_codings"]

_COMPRESSIBLE_PREFIXES: Final = ("text/",)
_COMPRESSIBLE_TYPES: Final = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/xml",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/x-ndjson",
        "application/manifest+json",
        "application/wasm",
        "image/svg+xml",
        "image/x-icon",
        "font/ttf",
        "font/otf",
    }
)
_NEVER: Final = frozenset({"text/event-stream"})
# Preference on equal q-values: the better ratio first.
_ORDER: Final = ("zstd", "br", "gzip")


class _Stream(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...
    def finish(self) -> bytes: ...


class _Gzip:
    def __init__(self, level: int) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data)

    def flush(self) -> bytes:
        return self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._c = module.Compressor(quality=5)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data))

    def flush(self) -> bytes:
        return bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


class _Zstd:
    def __init__(self, module: Any) -> None:
        self._module = module
        self._c = module.ZstdCompressor(level=3).compressobj()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.compress(data))

    def flush(self) -> bytes:
        return bytes(self._c.flush(self._module.COMPRESSOBJ_FLUSH_BLOCK))

    def finish(self) -> bytes:
        return bytes(self._c.flush())


def _load(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def available_codings() -> dict[str, Callable[[int], _Stream]]:
    """The content codings this process can produce: gzip, and br / zstd when installed."""
    codings: dict[str, Callable[[int], _Stream]] = {"gzip": _Gzip}
    brotli = _load("brotli")
    if brotli is not None:
        codings["br"] = lambda _level: _Brotli(brotli)
    zstandard = _load("zstandard")
    if zstandard is not None:
        codings["zstd"] = lambda _level: _Zstd(zstandard)
    return codings


def _is_compressible(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _NEVER:
        return False
    return (
        media.startswith(_COMPRESSIBLE_PREFIXES)
        or media in _COMPRESSIBLE_TYPES
        or media.endswith(("+json", "+xml"))
    )


class Compressor:
    """Compress responses for clients that accept it.

    Args:
        min_bytes: Smaller bodies are sent as they are.
        level: The gzip level (1-9).
        codings: Coding name -> stream factory; `available_codings()` by default.
    """

    __slots__ = ("_codings", "level", "min_bytes")

    def __init__(
        self,
        *,
        min_bytes: int = 1024,
        level: int = 6,
        codings: dict[str, Callable[[int], _Stream]] | None = None,
    ) -> None:
        self.min_bytes = min_bytes
        self.level = level
        self._codings = codings if codings is not None else available_codings()

    @classmethod
    def from_settings(cls, settings: Settings) -> Compressor | None:
        """The compressor `settings` ask for, or None when compression is off."""
        if not settings.COMPRESSION_ENABLED:
            return None
        if not 1 <= settings.COMPRESSION_GZIP_LEVEL <= 9:
            raise ConfigurationError(
                f"COMPRESSION_GZIP_LEVEL must be 1-9, got {settings.COMPRESSION_GZIP_LEVEL}."
            )
        return cls(min_bytes=settings.COMPRESSION_MIN_BYTES, level=settings.COMPRESSION_GZIP_LEVEL)

    def choose(self, request: Request) -> str | None:
        """The coding to use for `request` (by its ``Accept-Encoding``), or None."""
        values = [v for n, v in request.scope["headers"] if n == b"accept-encoding"]
        if not values:
            return None
        accepted = accepted_codings(b",".join(values).decode("latin-1"))
        wildcard = accepted.get("*", 0.0)
        best, best_q = None, 0.0
        for coding in _ORDER:
            if coding not in self._codings:
                continue
            quality = accepted.get(coding, wildcard)
            if quality > best_q:
                best, best_q = coding, quality
        return best

    def apply(self, request: Request, response: Response) -> Response:
        """Compress `response` in place when it qualifies; return it."""
        headers = response.headers
        streaming = isinstance(response, StreamingResponse)
        if not streaming and (type(response).send_body is not Response.send_body):
            return response  # a file from disk, or another body the pipeline cannot see
        if (
            response.status_code < 200
            or response.status_code in (204, 206, 304)
            or "content-encoding" in headers
            or "content-range" in headers
            or not _is_compressible(response.content_type)
        ):
            return response
        if any("no-transform" in value.lower() for value in headers.getlist("cache-control")):
            return response
        _add_vary(response)
        coding = self.choose(request)
        if coding is None:
            return response
        factory = self._codings[coding]
        if streaming:
            assert isinstance(response, StreamingResponse)
            response.content = _compress_stream(response.content, factory(self.level))
        else:
            stream = factory(self.level)
            body = stream.compress(response.body) + stream.finish()
            if len(body) >= len(response.body):
                return response
            response.body = body
        headers["content-encoding"] = coding
        return response


def _add_vary(response: Response) -> None:
    headers = response.headers
    vary = headers.get("vary")
    if vary is None:
        headers["vary"] = "Accept-Encoding"
    elif "accept-encoding" not in {item.strip().lower() for item in vary.split(",")}:
        headers["vary"] = f"{vary}, Accept-Encoding"


async def _compress_stream(
    content: AsyncIterable[bytes | str] | Iterable[bytes | str], stream: _Stream
) -> AsyncIterator[bytes]:
    source: AsyncIterable[bytes | str]
    if isinstance(content, AsyncIterable):
        source = content
    else:
        from flasgo.concurrency import iterate_in_threadpool
        from flasgo.context import find_app

        source = iterate_in_threadpool(find_app().thread_pool, content)
    async for chunk in source:
        data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        if data:
            # NOTE: flushed per chunk, so a streamed page or log tail arrives as it is made.
            out = stream.compress(data) + stream.flush()
            if out:
                yield out
    yield stream.finish()
