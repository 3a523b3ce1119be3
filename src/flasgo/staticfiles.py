"""Files on disk as responses: `send_file`, `send_from_directory` and the static folder handler.

Security: a requested name is refused (404) when any segment is empty-looking, ``.``/``..``,
a dotfile, or holds a backslash, a colon (Windows drives, streams), NUL or another control
character; the file must then resolve, symlinks followed, inside the folder and be a regular
file. The router percent-decodes the path once, so ``%2e%2e`` arrives as ``..`` (refused);
a doubly encoded ``%252e`` arrives as the literal name ``%2e``, which can only name a file
of that name inside the folder.

HTTP: ``ETag`` (``"<mtime_ns hex>-<size hex>"``) and ``Last-Modified``; ``If-None-Match`` (weak
comparison, lists, ``*``) or else ``If-Modified-Since`` give 304; ``Range`` gives 206 for one
range or ``multipart/byteranges`` for up to `MAX_RANGES` non-overlapping ones (more, or
overlapping, are ignored: the whole file, 200); ``If-Range`` must match for the range to apply;
an unsatisfiable range is 416 with ``Content-Range: bytes */size``; malformed ``Range`` and
``If-*`` values are ignored, as RFC 9110 allows. Static files choose a ``.br``/``.gz``
sibling by ``Accept-Encoding`` q-values (with ``Vary: Accept-Encoding``) and get a year of
``immutable`` caching when their name carries a content hash (``app.3f9a1c2e.css``).

I/O: the stat and file reads run in the app's thread pool; when the server offers
``http.response.pathsend`` a whole file is handed to it instead.
"""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
import stat as statmod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from itertools import pairwise
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import quote

from flasgo.context import find_request
from flasgo.exceptions import NotFound
from flasgo.mediatypes import accepted_codings
from flasgo.request import Request
from flasgo.response import OCTETS, Response, Send

__all__ = [
    "CHUNK_SIZE",
    "IMMUTABLE_MAX_AGE",
    "MAX_RANGES",
    "FileResponse",
    "StaticFiles",
    "safe_file_path",
    "send_file",
    "send_from_directory",
]

CHUNK_SIZE: Final = 256 * 1024
"""Bytes read per trip to the thread pool (and sent per body message)."""
MAX_RANGES: Final = 8
IMMUTABLE_MAX_AGE: Final = 365 * 24 * 3600
_PATHSEND = "http.response.pathsend"
_FINGERPRINT = re.compile(r"[.-][0-9a-fA-F]{8,64}\.[A-Za-z0-9]+$")
_ENCODINGS: Final = (("br", ".br"), ("gzip", ".gz"))
_COMPRESSED_TYPES = ("application/gzip", "application/x-gzip", "application/zip")


# -- names and paths -------------------------------------------------------------------------


def _is_bad_segment(part: str) -> bool:
    return (
        not part
        or part.startswith(".")
        or any(ord(char) < 0x20 or char in '\\:*?"<>|\x7f' for char in part)
    )


def safe_file_path(directory: str | os.PathLike[str], name: str) -> Path | None:
    """The regular file `name` inside `directory`, or None when it is refused or missing.

    Refused: empty, ``.``/``..`` or dot-file segments, backslashes, colons (drives, UNC,
    alternate streams), control characters, absolute names, and anything that resolves
    (symlinks followed) outside `directory`. Blocks on the file system: run it off the loop.
    """
    if not name or len(name) > 4096 or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(_is_bad_segment(part) for part in parts):
        return None
    root = Path(directory).resolve()
    try:
        # SECURITY: containment is checked on the resolved path, after every symlink.
        real = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or real == root:
        return None
    try:
        mode = real.stat().st_mode
    except OSError:
        return None
    return real if statmod.S_ISREG(mode) else None


def _media_type(name: str, given: str | None) -> str:
    if given:
        return given
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed is None:
        return OCTETS
    if guessed.startswith("text/") or guessed in ("application/javascript", "image/svg+xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


def _disposition(name: str, *, attachment: bool) -> str:
    kind = "attachment" if attachment else "inline"
    ascii_name = name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    ascii_name = "".join(char for char in ascii_name if 0x20 <= ord(char) < 0x7F) or "download"
    if ascii_name == name:
        return f'{kind}; filename="{ascii_name}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


# -- conditional requests and ranges ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FileInfo:
    path: Path
    size: int
    mtime: float
    etag: str | None


def _etag_of(result: os.stat_result, suffix: str = "") -> str:
    return f'"{result.st_mtime_ns:x}-{result.st_size:x}{suffix}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _none_match(value: str, etag: str) -> bool:
    if value.strip() == "*":
        return True
    ours = _opaque(etag)
    return any(_opaque(tag) == ours for tag in value.split(",") if tag.strip())


def _parse_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def _not_modified(request: Request, info: _FileInfo) -> bool:
    headers = request.headers
    none_match = headers.get("if-none-match")
    if none_match is not None:
        return info.etag is not None and _none_match(none_match, info.etag)
    since = headers.get("if-modified-since")
    if since is None:
        return False
    parsed = _parse_date(since)
    return parsed is not None and int(info.mtime) <= parsed.timestamp()


def parse_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable byte ranges (inclusive ends) of a ``Range`` value for a `size`-byte file.

    Returns:
        None to ignore the header (malformed, not ``bytes``, too many or overlapping ranges);
        an empty list when no range is satisfiable (416); else the ranges in request order.
    """
    unit, _, specs = value.partition("=")
    if unit.strip().lower() != "bytes" or not specs.strip():
        return None
    items = specs.split(",")
    if len(items) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for item in items:
        first, dash, last = item.strip().partition("-")
        first, last = first.strip(), last.strip()
        if not dash or not (first.isdigit() or last.isdigit()):
            return None
        if (first and not first.isdigit()) or (last and not last.isdigit()):
            return None
        if len(first) > 20 or len(last) > 20:
            return None
        if not first:  # a suffix: the last N bytes
            count = int(last)
            if count and size:
                ranges.append((max(size - count, 0), size - 1))
            continue
        start = int(first)
        end = int(last) if last else start
        if end < start:
            return None
        if start < size:
            ranges.append((start, min(end, size - 1) if last else size - 1))
    ordered = sorted(ranges)
    if any(b[0] <= a[1] for a, b in pairwise(ordered)):
        return None  # NOTE: overlapping ranges could multiply the bytes sent; send it once
    return ranges


def _if_range_holds(request: Request, info: _FileInfo) -> bool:
    value = request.headers.get("if-range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        # Strong comparison: a weak tag never matches.
        return info.etag is not None and not value.startswith("W/") and value == info.etag
    parsed = _parse_date(value)
    return parsed is not None and int(info.mtime) == int(parsed.timestamp())


# -- the response ----------------------------------------------------------------------------


class FileResponse(Response):
    """A file sent from disk: whole, one range, or several as ``multipart/byteranges``.

    Built by `send_file` and the static handler; the body is read in the thread pool (or
    handed to the server with ``http.response.pathsend``).
    """

    __slots__ = ("_boundary", "_media", "_path", "_pathsend", "_ranges", "_size")

    def __init__(
        self,
        path: Path,
        size: int,
        status_code: int,
        headers: Mapping[str, str],
        *,
        ranges: list[tuple[int, int]] | None = None,
        media_type: str = OCTETS,
        pathsend: bool = False,
        allow_public_cache: bool = True,
    ) -> None:
        super().__init__(b"", status_code, headers, allow_public_cache=allow_public_cache)
        self._path = path
        self._size = size
        self._ranges = ranges
        self._media = media_type
        self._pathsend = pathsend and ranges is None
        self._boundary = secrets.token_hex(12) if ranges and len(ranges) > 1 else ""
        if self._boundary:
            self.headers["content-type"] = f"multipart/byteranges; boundary={self._boundary}"
        elif ranges:
            start, end = ranges[0]
            self.headers["content-range"] = f"bytes {start}-{end}/{size}"

    def _part_head(self, start: int, end: int) -> bytes:
        return (
            f"--{self._boundary}\r\ncontent-type: {self._media}\r\n"
            f"content-range: bytes {start}-{end}/{self._size}\r\n\r\n"
        ).encode("latin-1")

    def _length(self) -> int:
        ranges = self._ranges
        if not ranges:
            return self._size
        if not self._boundary:
            return ranges[0][1] - ranges[0][0] + 1
        total = len(f"--{self._boundary}--\r\n")
        for start, end in ranges:
            total += len(self._part_head(start, end)) + end - start + 1 + 2
        return total

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        raw = self.headers.raw()
        raw.append((b"content-length", str(self._length()).encode()))
        raw.extend((b"set-cookie", cookie.encode("latin-1")) for cookie in self.cookies)
        return raw

    async def send_body(self, send: Send, *, is_head: bool) -> None:
        if is_head:
            await send({"type": "http.response.body", "body": b""})
            return
        if self._pathsend:
            await send({"type": _PATHSEND, "path": str(self._path)})
            return
        from flasgo.context import find_app

        run = find_app().thread_pool.run
        if not self._boundary:
            start, end = self._ranges[0] if self._ranges else (0, self._size - 1)
            if end - start < CHUNK_SIZE:
                # PERF: a small file or range is read in one trip to the thread pool.
                data: bytes = await run(_read_span, self._path, start, end - start + 1)
                await send({"type": "http.response.body", "body": data})
                return
        handle: IO[bytes] = await run(self._path.open, "rb")
        try:
            if not self._ranges:
                await self._send_span(send, run, handle, 0, self._size)
            elif not self._boundary:
                start, end = self._ranges[0]
                await self._send_span(send, run, handle, start, end - start + 1)
            else:
                for start, end in self._ranges:
                    head = self._part_head(start, end)
                    await send({"type": "http.response.body", "body": head, "more_body": True})
                    await self._send_span(send, run, handle, start, end - start + 1)
                    await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
                closing = f"--{self._boundary}--\r\n".encode("latin-1")
                await send({"type": "http.response.body", "body": closing, "more_body": True})
        finally:
            await run(handle.close)
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _send_span(
        send: Send, run: Callable[..., Any], handle: IO[bytes], start: int, count: int
    ) -> None:
        await run(handle.seek, start)
        while count > 0:
            chunk: bytes = await run(handle.read, min(CHUNK_SIZE, count))
            if not chunk:  # the file shrank while it was being sent
                break
            count -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})


def _read_span(path: Path, start: int, count: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(count)


def file_response(
    request: Request | None,
    info: _FileInfo,
    headers: dict[str, str],
    *,
    media_type: str,
    conditional: bool,
    public: bool,
) -> Response:
    """The response for `info`: 304, 416, 206 or 200, as the request's headers ask."""
    if info.etag is not None:
        headers["etag"] = info.etag
    headers.setdefault(
        "last-modified", format_datetime(datetime.fromtimestamp(info.mtime, UTC), usegmt=True)
    )
    if request is None or not conditional:
        return FileResponse(info.path, info.size, 200, headers, media_type=media_type)
    if request.method in ("GET", "HEAD") and _not_modified(request, info):
        headers.pop("content-type", None)
        return Response(b"", 304, headers, allow_public_cache=public)
    headers["accept-ranges"] = "bytes"
    pathsend = _PATHSEND in (request.scope.get("extensions") or {})
    range_value = request.headers.get("range")
    if range_value is not None and request.method == "GET" and _if_range_holds(request, info):
        ranges = parse_ranges(range_value, info.size)
        if ranges == []:
            headers.pop("content-type", None)
            headers["content-range"] = f"bytes */{info.size}"
            return Response(b"", 416, headers, content_type="text/plain; charset=utf-8")
        if ranges is not None:
            return FileResponse(
                info.path,
                info.size,
                206,
                headers,
                ranges=ranges,
                media_type=media_type,
                allow_public_cache=public,
            )
    return FileResponse(
        info.path,
        info.size,
        200,
        headers,
        media_type=media_type,
        pathsend=pathsend,
        allow_public_cache=public,
    )


# -- Flask's helpers -------------------------------------------------------------------------


def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | None = None,
) -> Response:
    """Send a file (Flask's ``send_file``): a path, or a binary file object.

    A path gets ``ETag``/``Last-Modified`` and answers conditional and ``Range`` requests.
    Caching: ``max_age`` makes it ``public, max-age=N``; without it the response is
    ``private, no-cache`` (revalidated each time, never kept by shared caches). Call it from
    a sync view, or from an async one for small files (it stats the file on the calling
    thread); the body is always read off the loop.

    Args:
        path_or_file: The file's path, or an open binary file (sent whole, from memory).
        mimetype: The Content-Type; guessed from the name when omitted.
        as_attachment: Ask the browser to download it (``Content-Disposition``).
        download_name: The name the browser sees; the file's own name by default.
        conditional: Answer ``If-*`` and ``Range`` headers.
        etag: Send an ETag (True), none (False) or this one (a str).
        last_modified: Overrides the file's modification time.
        max_age: Seconds shared caches and browsers may keep it.

    Raises:
        NotFound: The path is not a regular file.
        TypeError: A file object without `mimetype` or `download_name`.
    """
    request = find_request()
    headers: dict[str, str] = {}
    if max_age is not None:
        headers["cache-control"] = f"public, max-age={int(max_age)}"
    else:
        headers["cache-control"] = "private, no-cache"
    if not isinstance(path_or_file, str | os.PathLike):
        return _send_object(path_or_file, headers, mimetype, as_attachment, download_name)
    path = Path(path_or_file)
    try:
        result = path.stat()
    except OSError:
        raise NotFound("The requested file was not found.") from None
    if not statmod.S_ISREG(result.st_mode):
        raise NotFound("The requested file was not found.")
    name = download_name or path.name
    media_type = _media_type(name, mimetype)
    headers["content-type"] = media_type
    if as_attachment or download_name is not None:
        headers["content-disposition"] = _disposition(name, attachment=as_attachment)
    tag = etag if isinstance(etag, str) else (_etag_of(result) if etag else None)
    if isinstance(tag, str) and not tag.startswith(('"', "W/")):
        tag = f'"{tag}"'
    mtime = result.st_mtime
    if last_modified is not None:
        mtime = last_modified.timestamp() if isinstance(last_modified, datetime) else last_modified
    info = _FileInfo(path, result.st_size, mtime, tag)
    return file_response(
        request,
        info,
        headers,
        media_type=media_type,
        conditional=conditional,
        public=max_age is not None,
    )


def _send_object(
    handle: IO[bytes],
    headers: dict[str, str],
    mimetype: str | None,
    as_attachment: bool,
    download_name: str | None,
) -> Response:
    if mimetype is None and download_name is None:
        raise TypeError("send_file() of a file object needs mimetype= or download_name=.")
    media_type = _media_type(download_name or "", mimetype)
    if download_name is not None:
        headers["content-disposition"] = _disposition(download_name, attachment=as_attachment)
    data = handle.read()
    return Response(bytes(data), 200, headers, media_type, allow_public_cache=True)


def send_from_directory(directory: str | os.PathLike[str], path: str, **kwargs: Any) -> Response:
    """Send file `path` from `directory`, refusing any name that leaves it (Flask's helper).

    Args:
        directory: The folder (trusted: your code names it).
        path: The file's name inside it (untrusted: from the URL).
        **kwargs: Passed to `send_file`.

    Raises:
        NotFound: The name is refused or is not a regular file inside `directory`.
    """
    found = safe_file_path(directory, path)
    if found is None:
        raise NotFound("The requested file was not found.")
    return send_file(found, **kwargs)


# -- the static folder -----------------------------------------------------------------------


def _precompressed(request: Request, path: Path) -> tuple[str, Path, os.stat_result] | None:
    value = request.headers.get("accept-encoding")
    if not value or "range" in request.headers:
        return None
    accepted = accepted_codings(value)
    wildcard = accepted.get("*", 0.0)
    best: tuple[float, str, Path, os.stat_result] | None = None
    for coding, suffix in _ENCODINGS:
        quality = accepted.get(coding, wildcard)
        if quality <= 0 or (best is not None and quality <= best[0]):
            continue
        sibling = path.with_name(path.name + suffix)
        try:
            result = sibling.stat()
        except OSError:
            continue
        if statmod.S_ISREG(result.st_mode) and not sibling.is_symlink():
            best = (quality, coding, sibling, result)
    return None if best is None else best[1:]


class StaticFiles:
    """Serve the files of one folder (the app's or a blueprint's ``static_folder``).

    Args:
        directory: The folder.
        max_age: ``Cache-Control: public, max-age=N`` for ordinary names; 0 means
            ``public, no-cache`` (revalidate each time: a 304 when unchanged). Names carrying
            a content hash get a year and ``immutable``.
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_age: int = 0) -> None:
        self.directory = Path(directory).resolve()
        self.max_age = max_age

    def handler(self) -> Callable[[str], Any]:
        """The route handler: ``async (filename: str) -> Response``."""

        async def static(filename: str) -> Response:
            return await self(filename)

        return static

    def _lookup(
        self, filename: str, request: Request
    ) -> tuple[_FileInfo, str, str | None, bool] | None:
        path = safe_file_path(self.directory, filename)
        if path is None:
            return None
        result = path.stat()
        encoding = None
        media = _media_type(filename, None)
        vary = not media.startswith(_COMPRESSED_TYPES) and any(
            path.with_name(path.name + suffix).exists() for _, suffix in _ENCODINGS
        )
        chosen = _precompressed(request, path) if vary else None
        etag = _etag_of(result)
        if chosen is not None:
            encoding, path, result = chosen
            etag = _etag_of(result, f"-{encoding}")
        return _FileInfo(path, result.st_size, result.st_mtime, etag), media, encoding, vary

    async def __call__(self, filename: str) -> Response:
        """Serve `filename` from the folder (the static route's handler).

        Raises:
            NotFound: The name is refused or names no regular file in the folder.
        """
        request = find_request()
        if request is None:  # pragma: no cover - only called by the pipeline
            raise RuntimeError("StaticFiles is called by the app while serving a request.")
        from flasgo.context import find_app

        found = await find_app().thread_pool.run(self._lookup, filename, request)
        if found is None:
            raise NotFound("The requested file was not found.")
        info, media_type, encoding, vary = found
        headers = {"content-type": media_type, "cache-control": self._cache_control(filename)}
        if encoding is not None:
            headers["content-encoding"] = encoding
        if vary:
            headers["vary"] = "Accept-Encoding"
        return file_response(
            request, info, headers, media_type=media_type, conditional=True, public=True
        )

    def _cache_control(self, filename: str) -> str:
        if _FINGERPRINT.search(filename):
            return f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
        if self.max_age > 0:
            return f"public, max-age={self.max_age}"
        return "public, no-cache"
