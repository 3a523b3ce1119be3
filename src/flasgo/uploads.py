"""Uploaded files, `FormData` and the streaming multipart/form-data reader behind `Request.form()`.

The body is fed chunk by chunk from `Request.stream()` into python-multipart's push parser.
Every limit counts what actually arrived: parts, text fields, files, and each text field's
bytes across chunks. Each file goes to a `SpooledTemporaryFile`; any write that could touch
the disk (a rollover, or a file already on disk) runs in the app's thread pool.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from flasgo.datastructures import MultiDict
from flasgo.exceptions import BadRequest, PayloadTooLarge
from flasgo.mediatypes import parse_options_header

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool
    from flasgo.settings import Settings

__all__ = ["SPOOL_MAX_BYTES", "FormData", "UploadedFile", "UploadedFiles", "display_filename"]

SPOOL_MAX_BYTES = 1024 * 1024
"""A file stays in memory up to this size, then moves to a temporary file on disk."""

MAX_PART_HEADERS = 16
MAX_PART_HEADER_LINE = 8192
_MAX_FILENAME = 255
# RFC 2046 section 5.1.1: bchars, 1 to 70 of them, not ending in a space.
# RFC 8187 value-chars: attr-char or a percent-encoded octet.
_is_value_chars = re.compile(r"(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})*").fullmatch
_BCHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ")


def display_filename(raw: str) -> str:
    """A client's filename made safe to show: the basename without control characters.

    Never use it as a storage path; it is for display only. ``../../etc/passwd`` becomes
    ``passwd``, ``C:\\x\\.env`` becomes ``env``, and an empty result becomes ``upload``.
    """
    name = "".join(ch for ch in raw if ch.isprintable())
    name = name.replace("\\", "/").rpartition("/")[2]
    name = name.strip().lstrip(".").strip()
    return name[:_MAX_FILENAME] or "upload"


class UploadedFile:
    """One file from a multipart form.

    Attributes:
        name: The form field name.
        filename: The client's filename, sanitised for display (see `display_filename`).
        raw_filename: The filename exactly as sent (never use it as a path).
        content_type: The part's Content-Type (``application/octet-stream`` when absent).
        headers: The part's headers, names lower-cased.
        size: Bytes received.
    """

    __slots__ = (
        "_file",
        "_pool",
        "content_type",
        "filename",
        "headers",
        "name",
        "raw_filename",
        "size",
    )

    def __init__(
        self,
        name: str,
        filename: str,
        content_type: str,
        headers: dict[str, str],
        pool: ThreadPool,
    ) -> None:
        self.name = name
        self.raw_filename = filename
        self.filename = display_filename(filename)
        self.content_type = content_type
        self.headers = headers
        self.size = 0
        self._pool = pool
        # NOTE: closed by `close()`, which the app calls after the response.
        self._file: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115

    @property
    def file(self) -> BinaryIO:
        """The underlying file object (sync I/O: use it from a thread, not the event loop)."""
        return self._file  # type: ignore[no-any-return]

    @property
    def in_memory(self) -> bool:
        """Whether the content is still held in memory."""
        return not self._file._rolled

    async def _write(self, data: bytes) -> None:
        # PERF: an in-memory write that cannot trigger the rollover needs no thread hop.
        if self.in_memory and self.size + len(data) <= SPOOL_MAX_BYTES:
            self._file.write(data)
        else:
            # SECURITY: a rollover or a disk write never runs on the event loop.
            await self._pool.run(self._file.write, data)
        self.size += len(data)

    def _read_all(self) -> bytes:
        self._file.seek(0)
        return bytes(self._file.read())

    async def read(self) -> bytes:
        """The whole content (read in a thread when it is on disk)."""
        if self.in_memory:
            return self._read_all()
        return await self._pool.run(self._read_all)

    def _save(self, path: Path) -> None:
        self._file.seek(0)
        with path.open("wb") as target:
            shutil.copyfileobj(self._file, target)

    async def save(self, path: str | Path) -> None:
        """Copy the content to `path` (in a thread). Choose the path yourself, never from
        the client's filename."""
        await self._pool.run(self._save, Path(path))

    def close(self) -> None:
        """Release the memory or temporary file (the app does this after the response)."""
        self._file.close()

    def __repr__(self) -> str:
        return f"<UploadedFile {self.name!r} {self.filename!r} ({self.size} bytes)>"


class UploadedFiles(Mapping[str, UploadedFile]):
    """The files of a form by field name: first file per name, `getlist` for all."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, pairs: list[tuple[str, UploadedFile]] | None = None) -> None:
        self._pairs = pairs if pairs is not None else []
        self._first: dict[str, UploadedFile] = {}
        for key, value in self._pairs:
            self._first.setdefault(key, value)

    def __getitem__(self, key: str) -> UploadedFile:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getlist(self, key: str) -> list[UploadedFile]:
        """Every file sent under `key`, in order."""
        return [value for name, value in self._pairs if name == key]

    def items_multi(self) -> list[tuple[str, UploadedFile]]:
        """All ``(name, file)`` pairs in arrival order."""
        return list(self._pairs)

    def close(self) -> None:
        """Close every file."""
        for _, upload in self._pairs:
            upload.close()


class FormData(MultiDict):
    """A form as `Request.form()` returns it: its text fields, plus its uploaded files.

    It is a `MultiDict` of the text fields (mapping access sees each name's first value,
    `get` and `getlist` as usual); `file`, `filelist` and `files` reach the uploads of a
    multipart form. An urlencoded form has no files.

    Args:
        pairs: The text fields, ``(name, value)`` in arrival order.
        files: The uploaded files (none when omitted).
    """

    __slots__ = ("_files",)

    _files: UploadedFiles

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        files: UploadedFiles | None = None,
    ) -> None:
        super().__init__(pairs)
        self._files = files if files is not None else UploadedFiles()

    @classmethod
    def _parsed(cls, fields: list[tuple[str, str]], files: UploadedFiles | None) -> FormData:
        # PERF: a parser hands over a fresh list; take it without the checks and the copy.
        self = object.__new__(cls)
        self._setup(fields)
        self._files = files if files is not None else UploadedFiles()
        return self

    @property
    def files(self) -> UploadedFiles:
        """The uploaded files by field name, as `Request.files()` gives them."""
        return self._files

    def file(self, name: str) -> UploadedFile | None:
        """Return the first file sent under `name`, or None."""
        return self._files.get(name)

    def filelist(self, name: str) -> list[UploadedFile]:
        """Return every file sent under `name`, in arrival order (empty when none)."""
        return self._files.getlist(name)


def _header_text(raw: bytearray) -> str:
    # NOTE: browsers send a part's headers, filename included, as UTF-8 (RFC 7578 §5.1,
    # HTML's multipart/form-data encoding); older clients send ISO-8859-1, which is
    # never mistaken for valid UTF-8 in practice.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _extended_value(value: str) -> str:
    """Decode an RFC 8187 ext-value (``UTF-8''r%C3%A9sum%C3%A9.pdf``).

    Raises:
        BadRequest: Not an ext-value, a charset other than UTF-8/ISO-8859-1, or bytes that
            are not valid in it.
    """
    charset, _, rest = value.partition("'")
    _language, mark, encoded = rest.partition("'")
    charset = charset.lower()
    if not mark or charset not in ("utf-8", "iso-8859-1") or not _is_value_chars(encoded):
        raise BadRequest("A multipart filename* parameter is not a valid RFC 8187 value.")
    try:
        return unquote(encoded, encoding=charset, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"A multipart filename* parameter is not valid {charset}.") from None


def _valid_boundary(boundary: str) -> bool:
    return 0 < len(boundary) <= 70 and not boundary.endswith(" ") and set(boundary) <= _BCHARS


class _Reader:
    """The parser's callbacks: builds fields and files, enforcing the limits as bytes arrive."""

    def __init__(self, settings: Settings, pool: ThreadPool) -> None:
        self.pool = pool
        self.max_parts: int = settings.MAX_MULTIPART_PARTS
        self.max_fields: int = settings.MAX_FORM_FIELDS
        self.max_files: int = settings.MAX_FILE_UPLOADS
        self.max_memory: int = settings.MAX_FORM_MEMORY_BYTES
        self.parts = self.field_count = self.file_count = 0
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, UploadedFile]] = []
        self.headers: dict[str, str] = {}
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.name = ""
        self.text: bytearray | None = None
        self.upload: UploadedFile | None = None
        self.pending: list[tuple[UploadedFile, bytes]] = []
        self.done = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.max_parts:
            raise PayloadTooLarge(f"More than MAX_MULTIPART_PARTS ({self.max_parts}) parts.")
        self.headers = {}
        self.text = None
        self.upload = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.decode("latin-1").strip().lower()
        # NOTE: the first of a repeated header wins.
        self.headers.setdefault(name, _header_text(self.header_value).strip())
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        disposition = self.headers.get("content-disposition")
        if disposition is None:
            raise BadRequest("A multipart part has no Content-Disposition header.")
        kind, options = parse_options_header(disposition, max_length=MAX_PART_HEADER_LINE)
        name = options.get("name")
        if kind != "form-data" or name is None:
            raise BadRequest("A multipart part is not a named form-data part.")
        self.name = name
        filename = options.get("filename")
        extended = options.get("filename*")
        if extended is not None:
            # NOTE: RFC 6266 §4.3: the extended form wins over the plain one.
            filename = _extended_value(extended)
        if filename is None:
            self.field_count += 1
            if self.field_count > self.max_fields:
                raise PayloadTooLarge(f"More than MAX_FORM_FIELDS ({self.max_fields}) fields.")
            self.text = bytearray()
            return
        self.file_count += 1
        if self.file_count > self.max_files:
            raise PayloadTooLarge(f"More than MAX_FILE_UPLOADS ({self.max_files}) files.")
        content_type = self.headers.get("content-type") or "application/octet-stream"
        self.upload = UploadedFile(name, filename, content_type, self.headers, self.pool)
        self.files.append((name, self.upload))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        text = self.text
        if text is not None:
            # SECURITY: counted across chunks, so many small chunks cannot pass the cap.
            if len(text) + (end - start) > self.max_memory:
                raise PayloadTooLarge(
                    f"A form field exceeds MAX_FORM_MEMORY_BYTES ({self.max_memory} bytes)."
                )
            text += data[start:end]
        elif self.upload is not None:
            self.pending.append((self.upload, data[start:end]))

    def on_part_end(self) -> None:
        text = self.text
        if text is not None:
            try:
                value = text.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("A form field is not valid UTF-8.") from None
            self.fields.append((self.name, value))
        self.text = None
        self.upload = None

    def on_end(self) -> None:
        self.done = True

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        for upload, data in pending:
            await upload._write(data)


async def parse_multipart(
    body: AsyncIterator[bytes], params: Mapping[str, str], settings: Settings, pool: ThreadPool
) -> FormData:
    """Read a multipart/form-data body into its text fields and its files (`FormData.files`).

    Args:
        body: The body's chunks as they arrive (limits on received bytes apply upstream).
        params: The Content-Type parameters (the boundary).
        settings: The limits (``MAX_MULTIPART_PARTS``, ``MAX_FORM_FIELDS`` ...).
        pool: Where file writes run, off the loop.

    Raises:
        BadRequest: A missing or invalid boundary, or a malformed body.
        PayloadTooLarge: A limit was passed (body, parts, fields, files or field size).
    """
    boundary = params.get("boundary", "")
    if not _valid_boundary(boundary):
        raise BadRequest("multipart/form-data needs a valid boundary parameter (1-70 chars).")
    reader = _Reader(settings, pool)
    parser = MultipartParser(
        boundary,
        reader.callbacks(),  # type: ignore[arg-type]  # NOTE: a plain dict of callables
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_LINE,
    )
    try:
        async for chunk in body:
            if reader.done:
                continue  # the epilogue: discarded, still counted by stream()
            try:
                parser.write(chunk)
            except MultipartParseError:
                raise BadRequest("Malformed multipart/form-data body.") from None
            await reader.flush()
        if not reader.done:
            raise BadRequest("The multipart/form-data body ended early.")
    except BaseException:
        for _, upload in reader.files:
            upload.close()
        raise
    return FormData._parsed(reader.fields, UploadedFiles(reader.files))
