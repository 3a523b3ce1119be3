"""The `Request`: a lazy view of one HTTP request; each part is parsed once, on first use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from flasgo.cookies import parse_cookie_header
from flasgo.datastructures import Headers, MultiDict
from flasgo.exceptions import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from flasgo.jsonenc import decode_json
from flasgo.mediatypes import is_json_media_type, parse_options_header
from flasgo.querystring import parse_query_string, parse_urlencoded_form
from flasgo.request_id import is_valid_request_id
from flasgo.state import AppGlobals, RequestState

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool
    from flasgo.deadlines import ReadDeadlines
    from flasgo.request_id import RequestIds
    from flasgo.routing import RuleEntry
    from flasgo.sessiondata import Session
    from flasgo.settings import Settings
    from flasgo.uploads import FormData, UploadedFiles
    from flasgo.user import User

__all__ = ["ClientDisconnected", "Request", "RequestApp", "refuse_encoded_body"]


class RequestApp(Protocol):
    """What a request (and the features reading it) needs from the app serving it.

    `flasgo.Flasgo` is one; the protocol keeps this layer free of the app's module.
    """

    settings: Settings
    state: SimpleNamespace
    thread_pool: ThreadPool
    read_deadlines: ReadDeadlines
    request_ids: RequestIds
    dependency_overrides: dict[Any, Any]

    def open_session(self, request: Request) -> Session:
        """Load `request`'s session now (on first use of `Request.session`)."""
        ...

    def has_session_cookie(self, request: Request) -> bool:
        """Whether `request` carries a session cookie (cheap; loads nothing)."""
        ...

    def load_user(self, request: Request) -> User:
        """Find `request`'s user (on first use of `Request.user` off ``@authorize`` routes)."""
        ...


_EMPTY = MultiDict([])
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class ClientDisconnected(BadRequest):
    """The client went away while its body was being read."""


_ENCODED = (
    "The request body has a Content-Encoding, which this app does not decode; send it unencoded."
)


def refuse_encoded_body(request: Request) -> None:
    """Refuse a body the framework would parse while it is still content-coded.

    Flasgo decodes no request content coding (gzip, br ...): parsing such a body as JSON or
    a form would read compressed bytes, and decoding it would need a size and ratio cap
    against decompression bombs. So the parsers answer 415 with ``Accept-Encoding:
    identity`` (RFC 9110 §15.5.16); ``body()`` and ``stream()`` still give the raw bytes to
    an app that decodes them itself.

    Raises:
        UnsupportedMediaType: A Content-Encoding other than ``identity`` was sent.
    """
    # PERF: a direct scan; the Headers index is only built if the handler asks for it.
    for name, value in request.scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            raise UnsupportedMediaType(_ENCODED, {"accept-encoding": "identity"})


class Request:
    """One HTTP request.

    Attributes:
        scope: The ASGI scope.
        app: The `Flasgo` app handling it.
        view_args: Path parameters converted by the route's converters.
        endpoint: The endpoint name of the matched route, or None.
    """

    __slots__ = (
        "__weakref__",
        "_args",
        "_body",
        "_cookies",
        "_files",
        "_form",
        "_g",
        "_headers",
        "_json",
        "_receive",
        "_stream_consumed",
        "app",
        "current_state",
        "endpoint",
        "rule",
        "scope",
        "view_args",
    )

    def __init__(
        self,
        scope: dict[str, Any],
        receive: Any,
        app: RequestApp,
        view_args: dict[str, Any] | None = None,
        endpoint: str | None = None,
        rule: RuleEntry[Any] | None = None,
    ) -> None:
        self.scope = scope
        self._receive = receive
        self.app = app
        self.view_args = view_args if view_args is not None else {}
        self.endpoint = endpoint
        self.rule = rule
        self._headers: Headers | None = None
        self._args: MultiDict | None = None
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._json: Any = _UNSET
        self._form: FormData | None = None
        self._files: UploadedFiles | None = None
        self._g: AppGlobals | None = None
        self._stream_consumed = False
        # The pipeline's per-request state, None until something makes it (see `state`).
        self.current_state: RequestState | None = None

    # -- the request line -------------------------------------------------------------------

    @property
    def method(self) -> str:
        """The HTTP method, upper-case."""
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        """The path inside the app (percent-decoded, without ``root_path``)."""
        path: str = self.scope["path"]
        root = self.scope.get("root_path", "")
        if root and path.startswith(root):
            return path[len(root) :] or "/"
        return path

    @property
    def root_path(self) -> str:
        """The prefix the app is mounted under (ASGI ``root_path``)."""
        return str(self.scope.get("root_path", ""))

    @property
    def full_path(self) -> str:
        """Path plus ``?query`` when there is one."""
        qs = self.query_string
        return f"{self.path}?{qs.decode('latin-1')}" if qs else self.path

    @property
    def query_string(self) -> bytes:
        """The raw query string bytes."""
        return bytes(self.scope.get("query_string", b""))

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` as reported by the server."""
        return str(self.scope.get("scheme", "http"))

    @property
    def is_secure(self) -> bool:
        """Whether the request came over TLS."""
        return self.scheme in ("https", "wss")

    @property
    def host(self) -> str:
        """The Host header (or the server address when it is missing)."""
        host = self.headers.get("host")
        if host:
            return host
        server = self.scope.get("server")
        if server:
            name, port = server[0], server[1]
            return name if port in (None, _DEFAULT_PORTS.get(self.scheme)) else f"{name}:{port}"
        return ""

    @property
    def url(self) -> str:
        """The full URL of the request."""
        root = self.root_path
        return f"{self.scheme}://{self.host}{root}{self.full_path}"

    @property
    def base_url(self) -> str:
        """Scheme, host and root path."""
        return f"{self.scheme}://{self.host}{self.root_path}"

    @property
    def client(self) -> tuple[str, int] | None:
        """The client's (host, port), or None when the server does not know it."""
        client = self.scope.get("client")
        return (str(client[0]), int(client[1])) if client else None

    @property
    def remote_addr(self) -> str | None:
        """The client's IP address (Flask spelling)."""
        client = self.scope.get("client")
        return str(client[0]) if client else None

    # -- headers, query, cookies -------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """Case-insensitive multi-valued headers; duplicates are kept."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self.scope["headers"])
        return headers

    @property
    def args(self) -> MultiDict:
        """Query string parameters (a multi-dict)."""
        args = self._args
        if args is None:
            qs = self.scope.get("query_string", b"")
            args = self._args = (
                parse_query_string(qs, max_fields=self.app.settings.MAX_FORM_FIELDS)
                if qs
                else _EMPTY
            )
        return args

    query_params = args

    @property
    def cookies(self) -> dict[str, str]:
        """Request cookies (first value wins for a repeated name)."""
        cookies = self._cookies
        if cookies is None:
            header = self.headers.getlist("cookie")
            cookies = self._cookies = parse_cookie_header("; ".join(header)) if header else {}
        return cookies

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-case, without parameters ("" when absent)."""
        value = self.headers.get("content-type")
        return parse_options_header(value)[0] if value else ""

    @property
    def mimetype_params(self) -> dict[str, str]:
        """Parameters of the Content-Type header (e.g. ``charset``)."""
        value = self.headers.get("content-type")
        return parse_options_header(value)[1] if value else {}

    @property
    def is_json(self) -> bool:
        """Whether the body is declared as JSON."""
        return is_json_media_type(self.content_type)

    @property
    def g(self) -> AppGlobals:
        """Per-request namespace, also reachable as the `flasgo.g` global."""
        g = self._g
        if g is None:
            g = self._g = AppGlobals()
        return g

    @property
    def session(self) -> Session:
        """The session (signed cookie by default), loaded on first use.

        Reading it marks the response ``Vary: Cookie`` and private; changing it writes the
        cookie when the handler succeeds.
        """
        state = self.state
        session: Session | None = state.session
        if session is None:
            session = state.session = self.app.open_session(self)
        return session

    @property
    def user(self) -> User:
        """Who made the request (also the `flasgo.current_user` global).

        On a route with ``@authorize`` it is the user its backend found; elsewhere it is
        resolved on first use from the session (`login`), else `User.anonymous()`.
        """
        state = self.state
        user: User | None = state.user
        if user is None:
            user = state.user = self.app.load_user(self)
        return user

    @property
    def request_id(self) -> str:
        """This request's id (also sent as ``X-Request-ID`` and put on log lines)."""
        state = self.state
        request_id = state.request_id
        if request_id is None:
            incoming = None
            if self.app.settings.TRUST_INCOMING_REQUEST_ID:
                incoming = self.headers.get("x-request-id")
            request_id = state.request_id = (
                incoming
                if incoming is not None and is_valid_request_id(incoming)
                else self.app.request_ids.next()
            )
        return request_id

    @property
    def state(self) -> RequestState:
        """The pipeline's per-request state (made on first use)."""
        state = self.current_state
        if state is None:
            state = self.current_state = RequestState()
        return state

    @property
    def blueprint(self) -> str | None:
        """Name of the blueprint that owns the matched route, if any."""
        endpoint = self.endpoint
        return endpoint.rpartition(".")[0] or None if endpoint else None

    # -- the body ----------------------------------------------------------------------------

    def _declared_length(self) -> int | None:
        # PERF: a direct scan; the Headers index is only built if the handler asks for it.
        value = None
        for name, raw in self.scope["headers"]:
            if name == b"content-length":
                value = raw.decode("latin-1")
                break
        if value is None:
            return None
        # SECURITY: int() accepts " 12", "1_0", "+5" and non-ASCII digits; HTTP does not.
        if not (value.isascii() and value.isdigit()):
            raise BadRequest("Invalid Content-Length header.")
        return int(value)

    def _start_reading(self) -> int:
        if self._stream_consumed:
            # NOTE: a multipart form is streamed to files (the CSRF form-field check may have
            # read it): refuse cleanly rather than fail with a 500 the client can trigger.
            if self._form is not None:
                raise BadRequest(
                    "The request body was already read as a form; use request.form() and "
                    "request.files()."
                )
            raise RuntimeError("The request body was already consumed by stream().")
        self._stream_consumed = True
        limit: int = self.app.settings.MAX_REQUEST_BODY_BYTES
        declared = self._declared_length()
        if declared is not None and declared > limit:
            raise _too_large(limit)
        return limit

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive, enforcing the size limit and timeout.

        Raises:
            PayloadTooLarge: More than ``MAX_REQUEST_BODY_BYTES`` arrived (or were announced).
            RequestTimeout: The body took longer than ``REQUEST_READ_TIMEOUT_SECONDS``.
            ClientDisconnected: The client went away.
        """
        if self._body is not None:
            if self._body:
                yield self._body
            return
        limit = self._start_reading()
        deadline = (
            asyncio.get_running_loop().time() + self.app.settings.REQUEST_READ_TIMEOUT_SECONDS
        )
        received = 0
        more = True
        while more:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk, more = await self._receive_chunk()
            except TimeoutError:
                raise RequestTimeout("Request body was not received in time.") from None
            if chunk:
                # SECURITY: count bytes actually received, never trust Content-Length alone.
                received += len(chunk)
                if received > limit:
                    raise _too_large(limit)
                yield chunk

    async def wait_disconnected(self) -> None:
        """Return once the client has gone (``http.disconnect``), after the rest of its body.

        Streaming responses run it beside the body to stop producing for a client that left.
        """
        while (await self._receive())["type"] != "http.disconnect":
            pass  # NOTE: body chunks nobody read are dropped; the response is under way.

    async def _receive_chunk(self) -> tuple[bytes, bool]:
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "http.request":
                return message.get("body", b""), message.get("more_body", False)
            if kind == "http.disconnect":
                raise ClientDisconnected("Client disconnected before sending the whole body.")

    async def _read_body(self) -> bytes:
        limit = self._start_reading()
        task = asyncio.current_task()
        assert task is not None
        deadlines = self.app.read_deadlines
        sweeper = deadlines.start(task, self.app.settings.REQUEST_READ_TIMEOUT_SECONDS)
        chunks: list[bytes] = []
        received = 0
        more = True
        try:
            while more:
                chunk, more = await self._receive_chunk()
                if chunk:
                    # SECURITY: count bytes actually received, not the declared length.
                    received += len(chunk)
                    if received > limit:
                        raise _too_large(limit)
                    chunks.append(chunk)
        except asyncio.CancelledError:
            if not deadlines.finish(sweeper, task):
                raise
            task.uncancel()
            raise RequestTimeout("Request body was not received in time.") from None
        except BaseException:
            deadlines.finish(sweeper, task)
            raise
        # NOTE: no await since the last receive, so the sweeper cannot have fired meanwhile.
        deadlines.finish(sweeper, task)
        # PERF: the common case is one http.request message holding the whole body.
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def body(self) -> bytes:
        """The whole body (read once, then cached)."""
        body = self._body
        if body is None:
            body = self._body = await self._read_body()
        return body

    async def get_data(self) -> bytes:
        """The whole body (Flask spelling of `body()`)."""
        return await self.body()

    async def text(self, encoding: str | None = None) -> str:
        """The body decoded with the declared charset (UTF-8 by default).

        Raises:
            BadRequest: The body is not valid in that encoding.
        """
        charset = encoding or self.mimetype_params.get("charset") or "utf-8"
        refuse_encoded_body(self)
        try:
            return (await self.body()).decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise BadRequest(f"Request body is not valid {charset} text.") from None

    async def json(self, *, force: bool = False) -> Any:
        """The body decoded as JSON (cached).

        Args:
            force: Decode even when the Content-Type is not JSON.

        Raises:
            UnsupportedMediaType: The body is not declared as JSON (and `force` is False).
            BadRequest: The body is not valid JSON or nests too deeply.
        """
        if self._json is _UNSET:
            if not force and not self.is_json:
                raise UnsupportedMediaType(
                    "Expected a JSON body: send it with Content-Type: application/json."
                )
            refuse_encoded_body(self)
            body = await self.body()
            self._json = decode_json(body, max_depth=self.app.settings.MAX_JSON_DEPTH)
        return self._json

    async def form(self) -> FormData:
        """The form (cached): urlencoded or multipart/form-data.

        A `FormData`: a multi-dict of the text fields whose `files` (also `file`, `filelist`)
        are the uploads of a multipart form, the body streamed; an urlencoded form has none.

        Raises:
            UnsupportedMediaType: The body is not a form.
            BadRequest: A malformed multipart body or boundary.
            PayloadTooLarge: A body, part, field or file limit was passed.
        """
        if self._form is None:
            mime, params = parse_options_header(self.headers.get("content-type", ""))
            refuse_encoded_body(self)
            if mime == "application/x-www-form-urlencoded":
                from flasgo.uploads import FormData

                fields = parse_urlencoded_form(
                    await self.body(),
                    max_fields=self.app.settings.MAX_FORM_FIELDS,
                    charset=params.get("charset", "utf-8"),
                )
                self._form = FormData(fields)
                self._files = self._form.files
            elif mime == "multipart/form-data":
                from flasgo.uploads import parse_multipart

                self._form = await parse_multipart(
                    self.stream(), params, self.app.settings, self.app.thread_pool
                )
                self._files = self._form.files
            else:
                raise UnsupportedMediaType(
                    "Expected a form body: send application/x-www-form-urlencoded "
                    "or multipart/form-data."
                )
        return self._form

    async def files(self) -> UploadedFiles:
        """The uploaded files of a multipart form by field name (empty for other bodies).

        They are closed after the response; `UploadedFile.save` keeps one.
        """
        if self._files is None:
            from flasgo.uploads import UploadedFiles

            if self.content_type == "multipart/form-data":
                await self.form()
            if self._files is None:
                self._files = UploadedFiles()
        return self._files

    def close_files(self) -> None:
        """Close the uploaded files' temporary storage (after the response was sent)."""
        files = self._files
        if files is not None:
            files.close()

    def __repr__(self) -> str:
        return f"<Request {self.scope.get('method')} {self.scope.get('path')!r}>"


class _Unset:
    __slots__ = ()


_UNSET: Any = _Unset()


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body exceeds MAX_REQUEST_BODY_BYTES ({limit} bytes).")
