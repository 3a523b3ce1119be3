"""A small HTTP/1.1 client for outbound requests that the SSRF guard steers.

Every hop is resolved by the guard and the connection goes to the address it checked (TLS still
verifies the certificate against the original host name, sent as SNI and in ``Host``), so a DNS
answer that changes between check and connect cannot redirect the request. Redirects are
followed only after the new URL passes the guard again, re-resolved and re-pinned.

The response is read with hard limits (line length, head size, header count, body size) and
strict framing (one Content-Length, or chunked; never both). One connection per request,
``Connection: close``; no decompression (``Accept-Encoding: identity`` is sent).

`Outbound` is what an app exposes: the guard built from its ``SSRF_*`` settings (rebuilt when
they change) and the client factory, so the app's outbound methods are one-line delegations.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import SplitResult, urljoin, urlsplit

from flasgo.datastructures import Headers
from flasgo.exceptions import FlasgoError
from flasgo.security.ssrf import (
    DEFAULT_PORTS,
    SETTING_KEYS,
    Resolver,
    SSRFConfig,
    SSRFGuard,
    SSRFResolvedURL,
    SSRFViolation,
)

if TYPE_CHECKING:
    from flasgo.settings import Settings

__all__ = ["Outbound", "OutboundError", "OutboundResponse", "SafeHTTPClient"]

MAX_LINE: Final = 16 * 1024
MAX_HEAD: Final = 64 * 1024
MAX_HEADERS: Final = 100
MAX_INTERIM: Final = 8
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_BODY = frozenset({204, 304})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BTOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_BVALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_TARGET = re.compile(r"/[\x21-\x7e]*")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
# Framing and hop-by-hop headers belong to the client; Host comes from the guard.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "trailer", "upgrade",
     "keep-alive", "proxy-connection"}
)  # fmt: skip
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class OutboundError(FlasgoError):
    """An outbound request failed: connection, TLS, timeout, or a bad or oversized response."""


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    """The final response of an outbound request.

    Attributes:
        status: The status code.
        headers: Case-insensitive response headers (duplicates kept).
        body: The whole body (at most ``max_response_bytes``).
        url: The URL that produced this response (after redirects; never the pinned form).
    """

    status: int
    headers: Headers
    body: bytes
    url: str


class SafeHTTPClient:
    """Send HTTP/1.1 requests only to URLs, and addresses, the SSRF guard accepts.

    Args:
        guard: The `SSRFGuard` that resolves and checks every hop.
        timeout: Seconds for the whole call, redirects included.
        max_redirects: Redirects followed (each re-validated); 0 returns the 3xx response.
        max_response_bytes: Largest body accepted.
        ssl_context: For HTTPS; a default verifying context when omitted.
    """

    def __init__(
        self,
        guard: SSRFGuard,
        *,
        timeout: float = 10.0,
        max_redirects: int = 5,
        max_response_bytes: int = 10 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not timeout > 0 or max_redirects < 0 or max_response_bytes < 0:
            raise ValueError(
                "timeout must be above 0, max_redirects and max_response_bytes 0 or more"
            )
        self.guard = guard
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.max_response_bytes = max_response_bytes
        self._ssl_context = ssl_context

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> OutboundResponse:
        """Send a GET request; see `request`."""
        return await self.request("GET", url, headers=headers)

    async def post(
        self, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> OutboundResponse:
        """Send a POST request; see `request`."""
        return await self.request("POST", url, headers=headers, body=body)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> OutboundResponse:
        """Send `method` to `url` and return the final response.

        Raises:
            SSRFViolation: The URL, a redirect target, or an address either resolves to is not
                allowed.
            OutboundError: Connection or TLS failure, timeout, too many redirects, or a
                malformed or oversized response.
            ValueError: A bad method, a reserved header (Host, Content-Length, ...) or a header
                with control characters.
        """
        if not _TOKEN.fullmatch(method) or method.upper() == "CONNECT":
            raise ValueError(f"Method {method!r} is not a valid HTTP method for this client")
        fields = _check_headers(headers or {})
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(method, url, fields, body)
        except TimeoutError:
            raise OutboundError(f"The request did not finish within {self.timeout} s") from None

    async def _follow(
        self, method: str, url: str, fields: dict[str, str], body: bytes | None
    ) -> OutboundResponse:
        resolved = await self.guard.aresolve_url(url)
        redirects = 0
        while True:
            response = await self._exchange(resolved, method, fields, body)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or location is None or not self.max_redirects:
                return response
            if redirects == self.max_redirects:
                raise OutboundError(f"More than {self.max_redirects} redirects")
            redirects += 1
            # SECURITY: the same character rules as the guard, before urljoin can drop any.
            if not location.isprintable() or " " in location or "\\" in location:
                raise SSRFViolation("Redirect location is malformed", reason="syntax")
            following = await self.guard.aresolve_url(urljoin(response.url, location))
            if _origin(following) != _origin(resolved):
                fields = {k: v for k, v in fields.items() if k.lower() not in _CREDENTIAL_HEADERS}
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else method
                body = None
                fields = {k: v for k, v in fields.items() if k.lower() != "content-type"}
            resolved = following

    async def _exchange(
        self, resolved: SSRFResolvedURL, method: str, fields: dict[str, str], body: bytes | None
    ) -> OutboundResponse:
        parts = urlsplit(resolved.url)
        if parts.scheme not in ("http", "https"):
            raise OutboundError(f"Scheme {parts.scheme!r} is not supported by the client")
        host = resolved.address
        if host is None:
            if self.guard.config.enabled:
                # SECURITY: connecting by name would resolve again, unchecked.
                raise SSRFViolation(
                    f"Host {resolved.hostname!r} did not resolve; nothing to connect to",
                    reason="unresolvable",
                )
            host = resolved.hostname
        head = _request_head(method, parts, resolved.host_header, fields, body)
        port = resolved.port or DEFAULT_PORTS[parts.scheme]
        tls = None
        if parts.scheme == "https":
            tls = self._ssl_context or ssl.create_default_context()
        try:
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=tls,
                server_hostname=resolved.hostname if tls else None,
                limit=MAX_LINE,
            )
        except ssl.SSLError as exc:
            raise OutboundError(
                f"TLS with {resolved.hostname!r} failed: {exc.reason or 'handshake error'}"
            ) from None
        except OSError:
            raise OutboundError(f"Could not connect to {resolved.hostname!r}") from None
        try:
            writer.write(head + (body or b""))
            await writer.drain()
            status, raw = await _read_head(reader)
            payload = await self._read_body(reader, method, status, Headers(raw))
        except (ConnectionError, ssl.SSLError):
            raise OutboundError(f"Connection to {resolved.hostname!r} failed") from None
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()
        return OutboundResponse(status, Headers(raw), payload, resolved.original_url)

    async def _read_body(
        self, reader: asyncio.StreamReader, method: str, status: int, headers: Headers
    ) -> bytes:
        if method == "HEAD" or status in _NO_BODY:
            return b""
        codings = [
            c.strip().lower() for v in headers.getlist("transfer-encoding") for c in v.split(",")
        ]
        lengths = {
            v.strip() for value in headers.getlist("content-length") for v in value.split(",")
        }
        if codings and lengths:
            raise OutboundError("Response has both Transfer-Encoding and Content-Length")
        if codings:
            if codings != ["chunked"]:
                raise OutboundError("Response uses a transfer coding other than chunked")
            return await _read_chunked(reader, self.max_response_bytes)
        if lengths:
            if len(lengths) > 1 or not all(v.isascii() and v.isdigit() for v in lengths):
                raise OutboundError("Response has an invalid Content-Length")
            length = int(lengths.pop()[:20])
            self._check_size(length)
            try:
                return await reader.readexactly(length)
            except asyncio.IncompleteReadError:
                raise OutboundError("The response body ended early") from None
        data = bytearray()
        while chunk := await reader.read(65536):
            data += chunk
            self._check_size(len(data))
        return bytes(data)

    def _check_size(self, size: int) -> None:
        if size > self.max_response_bytes:
            raise OutboundError(f"Response body exceeds {self.max_response_bytes} bytes")


class Outbound:
    """An app's outbound side: the SSRF guard kept in step with its settings, and the client.

    The guard is built from the ``SSRF_*`` keys of `settings` on first use and rebuilt when one
    of them changes (settings may be assigned after the app is made); otherwise the same guard
    is returned, so building it is paid once.

    Which method resolves: `validate_url` never does (IP literals and loopback names are
    judged, other names are not looked up); `resolve_url`, `aresolve_url` and every request of
    `client` resolve the name, refuse it if it does not resolve, check every address and pin
    the checked one.

    Args:
        settings: The settings to read ``SSRF_*`` from (read again on each call).
        resolver: Replaces DNS in the guards built here (tests inject a table).
    """

    __slots__ = ("_guard", "_key", "_resolver", "_settings")

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        self._settings = settings
        self._resolver = resolver
        self._guard: SSRFGuard | None = None
        self._key: tuple[object, ...] = ()

    @property
    def guard(self) -> SSRFGuard:
        """The `SSRFGuard` for the current ``SSRF_*`` settings (cached until one changes)."""
        settings = self._settings
        # PERF: comparing the raw values is cheaper than building and comparing a config.
        key = tuple(getattr(settings, name) for name in SETTING_KEYS)
        guard = self._guard
        if guard is None or key != self._key:
            guard = SSRFGuard(SSRFConfig.from_settings(settings), resolver=self._resolver)
            self._guard, self._key = guard, key
        return guard

    def validate_url(self, url: str) -> str:
        """Check `url` without DNS and return it normalised; see `SSRFGuard.validate_url`.

        Raises:
            SSRFViolation: The URL breaks a rule (a `ValueError`).
        """
        return self.guard.validate_url(url)

    def resolve_url(self, url: str) -> SSRFResolvedURL:
        """Resolve `url`, check every address and pin one; blocks, so not on the event loop.

        Raises:
            SSRFViolation: The URL breaks a rule, its host does not resolve, or an address it
                resolves to is not allowed.
            RuntimeError: Called on a running event loop (use `aresolve_url`).
        """
        return self.guard.resolve_url(url)

    async def aresolve_url(self, url: str) -> SSRFResolvedURL:
        """Like `resolve_url`, resolving off the event loop within the resolution timeout.

        Raises:
            SSRFViolation: As `resolve_url`; also when the lookup times out.
        """
        return await self.guard.aresolve_url(url)

    def client(
        self,
        *,
        timeout: float = 10.0,
        max_redirects: int = 5,
        max_response_bytes: int = 10 * 1024 * 1024,
    ) -> SafeHTTPClient:
        """A `SafeHTTPClient` whose every hop, redirects included, passes the current guard."""
        return SafeHTTPClient(
            self.guard,
            timeout=timeout,
            max_redirects=max_redirects,
            max_response_bytes=max_response_bytes,
        )


def _origin(resolved: SSRFResolvedURL) -> tuple[str, str, int | None]:
    return urlsplit(resolved.original_url).scheme, resolved.hostname, resolved.port


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value) or not value.isascii():
            raise ValueError(f"Header {name!r} has an invalid name or value")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"Header {name!r} is set by the client; do not pass it")
        fields[name] = value.strip(" \t")
    return fields


def _request_head(
    method: str, parts: SplitResult, host_header: str, fields: dict[str, str], body: bytes | None
) -> bytes:
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # SECURITY: the guard already refuses blanks and controls; this also covers a disabled one.
    if not _TARGET.fullmatch(target) or _BAD_VALUE.search(host_header) or " " in host_header:
        raise OutboundError("The URL cannot be sent as an HTTP/1.1 request target")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
    lowered = {name.lower() for name in fields}
    if "user-agent" not in lowered:
        lines.append("User-Agent: flasgo")
    if "accept-encoding" not in lowered:
        lines.append("Accept-Encoding: identity")
    lines.append("Connection: close")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.extend(f"{name}: {value}" for name, value in fields.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise OutboundError("The server closed the connection before the response ended") from None
    except asyncio.LimitOverrunError:
        raise OutboundError(f"A response line is longer than {MAX_LINE} bytes") from None
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    """Read the status line and headers, skipping interim 1xx responses."""
    budget = MAX_HEAD
    for _ in range(MAX_INTERIM):
        line = await _read_line(reader)
        budget -= len(line)
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise OutboundError("The response does not start with an HTTP/1.x status line")
        status = int(match.group(1))
        raw, budget = await _read_fields(reader, budget)
        if status == 101:
            raise OutboundError("The server switched protocols, which was not requested")
        if status >= 200:
            return status, raw
    raise OutboundError("Too many interim (1xx) responses")


async def _read_fields(
    reader: asyncio.StreamReader, budget: int
) -> tuple[list[tuple[bytes, bytes]], int]:
    raw: list[tuple[bytes, bytes]] = []
    while line := await _read_line(reader):
        budget -= len(line) + 2
        if budget < 0 or len(raw) >= MAX_HEADERS:
            raise OutboundError(
                f"Response head exceeds {MAX_HEAD} bytes or {MAX_HEADERS} header fields"
            )
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        # SECURITY: no obsolete line folding, no blank before the colon, no controls.
        if not colon or not _BTOKEN.fullmatch(name) or _BAD_BVALUE.search(value):
            raise OutboundError("The response has a malformed header field")
        raw.append((name.lower(), value))
    return raw, budget


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    data = bytearray()
    while True:
        size_text = (await _read_line(reader)).partition(b";")[0].strip(b" \t")
        if not _HEX.fullmatch(size_text):
            raise OutboundError("The response has a malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            await _read_fields(reader, MAX_HEAD)  # trailers, read and dropped
            return bytes(data)
        if len(data) + size > limit:
            raise OutboundError(f"Response body exceeds {limit} bytes")
        try:
            data += await reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise OutboundError("The response body ended early") from None
        if await _read_line(reader):
            raise OutboundError("A response chunk is longer than its size")
