"""Turn a test request's arguments into ASGI pieces: the target URL, headers and body bytes."""

from __future__ import annotations

import enum
import mimetypes
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote, urlencode, urlsplit

import msgspec

__all__ = [
    "UNSET",
    "DataInput",
    "FilesInput",
    "HeadersInput",
    "ParamsInput",
    "Target",
    "encode_body",
    "merge_headers",
    "resolve_target",
]

HeadersInput = Mapping[str, str] | Sequence[tuple[str, str]]
ParamsInput = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]
DataInput = Mapping[str, str | list[str]]
FilesInput = Mapping[str, tuple[str, bytes] | tuple[str, bytes, str]]


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET: Final = _Unset.UNSET
"""Default of `json=`: tells "no JSON body" apart from `json=None` (which sends ``null``)."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Characters an HTTP client leaves as they are in a path or query (RFC 3986 pchar plus '%'
# so that escapes the test wrote stay escapes).
_PATH_SAFE: Final = "/%:@!$&'()*+,;=~"
_QUERY_SAFE: Final = _PATH_SAFE + "?"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: scheme, host, port, the raw path and the query string."""

    scheme: str
    host: str
    port: int
    raw_path: bytes
    query_string: bytes

    @property
    def path(self) -> str:
        """The percent-decoded (UTF-8) path, as ASGI's `scope["path"]` wants it."""
        return unquote(self.raw_path.decode("ascii"))

    @property
    def netloc(self) -> str:
        """The Host header value: the host, plus ``:port`` when not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS.get(self.scheme):
            return host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The full URL."""
        query = f"?{self.query_string.decode('ascii')}" if self.query_string else ""
        return f"{self.scheme}://{self.netloc}{self.raw_path.decode('ascii')}{query}"

    def is_same_origin(self, other: Target) -> bool:
        """Tell whether `other` has this target's scheme, host and port."""
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)


def resolve_target(
    base_url: str, path: str, *, scheme: str | None = None, params: ParamsInput | None = None
) -> Target:
    """Resolve `path` (a path with an optional query, or an absolute URL) against `base_url`.

    Args:
        base_url: The client's base URL; only its scheme, host and port are used.
        path: ``/items?x=1`` or ``http://localhost/items``; non-ASCII characters are
            percent-encoded as UTF-8, existing escapes are kept.
        scheme: Overrides the scheme (the port follows it when the base URL gave none).
        params: Query parameters appended, URL-encoded, after the query in `path`.
    """
    base = urlsplit(base_url)
    parts = urlsplit(path)
    origin = parts if parts.scheme and parts.netloc else base
    final_scheme = (scheme or origin.scheme or "http").lower()
    port = origin.port or _DEFAULT_PORTS.get(final_scheme, 80)
    raw_path = quote(parts.path or "/", safe=_PATH_SAFE).encode("ascii")
    query = quote(parts.query, safe=_QUERY_SAFE)
    if params:
        extra = urlencode(list(params.items()) if isinstance(params, Mapping) else params, True)
        query = f"{query}&{extra}" if query else extra
    return Target(final_scheme, origin.hostname or "localhost", port, raw_path, query.encode())


def merge_headers(defaults: HeadersInput, headers: HeadersInput | None) -> list[tuple[str, str]]:
    """Combine default headers with a request's; a name the request gives replaces the default."""
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    given = {name.lower() for name, _ in pairs}
    base = defaults.items() if isinstance(defaults, Mapping) else defaults
    return [(name, value) for name, value in base if name.lower() not in given] + pairs


def encode_body(
    *,
    body: bytes | str | None,
    json: object,
    data: DataInput | None,
    files: FilesInput | None,
) -> tuple[bytes | None, str | None]:
    """Encode the request body and pick its content type.

    Returns:
        ``(body, content_type)``; ``(None, None)`` when the request has no body.

    Raises:
        TypeError: more than one of `body`, `json` and `data`/`files` was given.
    """
    given = [body is not None, json is not UNSET, data is not None or files is not None]
    if sum(given) > 1:
        raise TypeError("pass only one of body=, json= and data=/files=")
    if isinstance(body, str):
        return body.encode(), None
    if body is not None:
        return body, None
    if json is not UNSET:
        return msgspec.json.encode(json), "application/json"
    if files:
        return _encode_multipart(data or {}, files)
    if data is not None:
        return urlencode(list(data.items()), True).encode(), "application/x-www-form-urlencoded"
    return None, None


def _quote_field(value: str) -> str:
    # NOTE: the HTML standard's escaping for names in multipart/form-data headers.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _encode_multipart(data: DataInput, files: FilesInput) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, values in data.items():
        for value in [values] if isinstance(values, str) else values:
            head = f'Content-Disposition: form-data; name="{_quote_field(name)}"'
            parts.append(_part(boundary, head, value.encode()))
    for name, spec in files.items():
        filename, content = spec[0], spec[1]
        content_type = spec[2] if len(spec) == 3 else None
        content_type = content_type or mimetypes.guess_type(filename)[0]
        head = (
            f'Content-Disposition: form-data; name="{_quote_field(name)}"; '
            f'filename="{_quote_field(filename)}"\r\n'
            f"Content-Type: {content_type or 'application/octet-stream'}"
        )
        parts.append(_part(boundary, head, content))
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _part(boundary: str, head: str, content: bytes) -> bytes:
    return f"--{boundary}\r\n{head}\r\n\r\n".encode() + content + b"\r\n"
