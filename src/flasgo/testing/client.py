"""TestClient: drive any ASGI 3 app in-process, synchronously or asynchronously.

Outside a ``with`` block every synchronous call runs on a fresh event-loop thread and no
lifespan runs. ``with client:`` starts one loop thread (the portal), runs lifespan startup on it
and keeps it for every call until the block ends; ``async with client:`` does the same on the
test's running loop, where only the ``a``-prefixed methods may be used.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypedDict, TypeVar, Unpack
from urllib.parse import urljoin

from flasgo.exceptions import FlasgoError
from flasgo.testing.asgi import ASGI_VERSION, USER_AGENT, ASGIApp, Scope
from flasgo.testing.cookies import cookie_header, update_jar
from flasgo.testing.exchange import HTTPExchange
from flasgo.testing.lifespan import Lifespan
from flasgo.testing.portal import Portal, run_with_timeout
from flasgo.testing.request import (
    UNSET,
    DataInput,
    FilesInput,
    HeadersInput,
    ParamsInput,
    Target,
    encode_body,
    merge_headers,
    resolve_target,
)
from flasgo.testing.response import AsyncStreamingTestResponse, StreamingTestResponse, TestResponse
from flasgo.testing.websocket import (
    AsyncRunner,
    AsyncWebSocketTestSession,
    SyncRunner,
    WebSocketExchange,
    WebSocketTestSession,
)

__all__ = ["MAX_REDIRECTS", "RequestOptions", "TestClient", "TooManyRedirectsError"]

T = TypeVar("T")

MAX_REDIRECTS: Final = 10
_METHOD_CHANGING_REDIRECTS: Final = frozenset({301, 302, 303})
_BODY_HEADERS: Final = frozenset({"content-length", "content-type"})
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class TooManyRedirectsError(FlasgoError):
    """More than `MAX_REDIRECTS` redirects were followed for one request."""


class RequestOptions(TypedDict, total=False):
    """Keyword options shared by every request method (see `TestClient.request`)."""

    params: ParamsInput | None
    headers: HeadersInput | None
    body: bytes | str | None
    json: object
    data: DataInput | None
    files: FilesInput | None
    cookies: Mapping[str, str] | None
    scheme: str | None
    follow_redirects: bool | None
    csrf: bool | None


def _encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    try:
        raw_value = value.encode("latin-1")
    except UnicodeEncodeError:
        raw_value = value.encode()
    return name.lower().encode("latin-1"), raw_value


async def _on_current_loop(coro: Coroutine[Any, Any, T]) -> T:
    return await coro


class TestClient:
    """An in-process HTTP and WebSocket client for any ASGI 3 app.

    Args:
        app: The ASGI app.
        base_url: Scheme, host and port the requests go to; sets the Host header.
        client: The ``(host, port)`` put in ``scope["client"]``.
        root_path: Put in ``scope["root_path"]``; paths are sent as given.
        headers: Headers sent with every request (a request's own headers win).
        follow_redirects: Default for the per-request option of the same name.
        csrf: Default for the per-request option of the same name (off: requests are raw).
        timeout: Seconds one call may take before it fails with TimeoutError, so a hung app
            fails its test instead of hanging the suite.

    Attributes:
        cookies: The cookie jar (name to value), updated from every Set-Cookie and sent with
            every request; Secure cookies are sent over ``http`` too (see `flasgo.testing.cookies`).
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_url: str = "http://localhost",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        root_path: str = "",
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
        csrf: bool = False,
        timeout: float = 30.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.app = app
        self.base_url = base_url
        self.client = client
        self.root_path = root_path
        self.headers = dict(headers or {})
        self.follow_redirects = follow_redirects
        self.csrf = csrf
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._portal: Portal | None = None
        self._lifespan: Lifespan | None = None
        self._is_async = False

    # -- lifespan -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._check_idle()
        portal, lifespan = Portal(), Lifespan(self.app)
        portal.start()
        try:
            portal.call(run_with_timeout(lifespan.startup(), self.timeout, "lifespan startup"))
        except BaseException:
            portal.stop()
            raise
        self._portal, self._lifespan = portal, lifespan
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        portal, lifespan = self._portal, self._lifespan
        self._portal = self._lifespan = None
        if portal is None or lifespan is None:
            return
        try:
            portal.call(run_with_timeout(lifespan.shutdown(), self.timeout, "lifespan shutdown"))
        finally:
            portal.stop()

    async def __aenter__(self) -> Self:
        self._check_idle()
        lifespan = Lifespan(self.app)
        await run_with_timeout(lifespan.startup(), self.timeout, "lifespan startup")
        self._lifespan, self._is_async = lifespan, True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lifespan = self._lifespan
        self._lifespan, self._is_async = None, False
        if lifespan is not None:
            await run_with_timeout(lifespan.shutdown(), self.timeout, "lifespan shutdown")

    def _check_idle(self) -> None:
        if self._portal is not None or self._is_async:
            raise RuntimeError("this TestClient is already inside a `with` block")

    @contextlib.contextmanager
    def _sync_runner(self) -> Iterator[SyncRunner]:
        if self._is_async:
            raise RuntimeError(
                "this TestClient is inside `async with`: use the async methods "
                "(await client.aget(...), client.astream(...), client.awebsocket_connect(...))"
            )
        if self._portal is not None:
            if self._portal.is_current_thread():
                raise RuntimeError(
                    "a synchronous TestClient call cannot run on the client's own loop "
                    "(the app called the client); await the async methods instead"
                )
            yield self._portal.call
            return
        portal = Portal()
        portal.start()
        try:
            yield portal.call
        finally:
            portal.stop()

    def _async_runner(self) -> AsyncRunner:
        # NOTE: inside a sync `with` block the app lives on the portal's loop; keep it there.
        return self._portal.acall if self._portal is not None else _on_current_loop

    def clear_cookies(self) -> None:
        """Empty the cookie jar."""
        self.cookies.clear()

    # -- HTTP -----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: ParamsInput | None = None,
        headers: HeadersInput | None = None,
        body: bytes | str | None = None,
        json: object = UNSET,
        data: DataInput | None = None,
        files: FilesInput | None = None,
        cookies: Mapping[str, str] | None = None,
        scheme: str | None = None,
        follow_redirects: bool | None = None,
        csrf: bool | None = None,
    ) -> TestResponse:
        """Send a request and return the complete response.

        Args:
            method: The HTTP method (upper-cased).
            path: A path with an optional query (``/items?x=1``) or an absolute URL.
            params: Query parameters added to the path's query.
            headers: Request headers (a mapping or a list of pairs, for repeated names).
            body: Raw body bytes (a str is encoded as UTF-8).
            json: A value sent as JSON with ``Content-Type: application/json``.
            data: Form fields, sent urlencoded (or in the multipart body with `files`).
            files: ``{field: (filename, content[, content_type])}``, sent as multipart.
            cookies: Cookies for this request only, on top of the jar.
            scheme: ``http`` or ``https`` instead of the base URL's scheme.
            follow_redirects: Follow same-origin redirects (up to 10); None uses the client's.
            csrf: Do the CSRF double submit like a same-origin page of a Flasgo app: take
                the token from the jar (minting one for the jar's session when there is
                none) and send it in the CSRF header with a same-origin ``Origin``, on
                methods other than GET/HEAD/OPTIONS/TRACE. None uses the client's default.

        Raises:
            AssertionError: the app broke the ASGI protocol.
            TooManyRedirectsError: more than 10 redirects were followed.
            TimeoutError: the call took longer than the client's timeout.
        """
        with self._sync_runner() as run:
            coro = self._send(
                method, path, params=params, headers=headers, body=body, json=json, data=data,
                files=files, cookies=cookies, scheme=scheme, follow_redirects=follow_redirects,
                csrf=csrf,
            )  # fmt: skip
            return run(run_with_timeout(coro, self.timeout, f"{method} {path}"))

    def get(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a GET request (see `request`)."""
        return self.request("GET", path, **options)

    def head(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a HEAD request (see `request`)."""
        return self.request("HEAD", path, **options)

    def options(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send an OPTIONS request (see `request`)."""
        return self.request("OPTIONS", path, **options)

    def delete(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a DELETE request (see `request`)."""
        return self.request("DELETE", path, **options)

    def post(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a POST request (see `request`)."""
        return self.request("POST", path, **options)

    def put(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a PUT request (see `request`)."""
        return self.request("PUT", path, **options)

    def patch(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a PATCH request (see `request`)."""
        return self.request("PATCH", path, **options)

    async def arequest(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> TestResponse:
        """Send a request from async code; the same options as `request`."""
        coro = run_with_timeout(self._send(method, path, **options), self.timeout, path)
        return await self._async_runner()(coro)

    async def aget(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a GET request from async code."""
        return await self.arequest("GET", path, **options)

    async def ahead(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a HEAD request from async code."""
        return await self.arequest("HEAD", path, **options)

    async def aoptions(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send an OPTIONS request from async code."""
        return await self.arequest("OPTIONS", path, **options)

    async def adelete(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a DELETE request from async code."""
        return await self.arequest("DELETE", path, **options)

    async def apost(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a POST request from async code."""
        return await self.arequest("POST", path, **options)

    async def aput(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a PUT request from async code."""
        return await self.arequest("PUT", path, **options)

    async def apatch(self, path: str, **options: Unpack[RequestOptions]) -> TestResponse:
        """Send a PATCH request from async code."""
        return await self.arequest("PATCH", path, **options)

    @contextlib.contextmanager
    def stream(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> Iterator[StreamingTestResponse]:
        """Send a request and read the response body as the app sends it.

        Redirects are not followed. Leaving the block early disconnects and cancels the app.
        """
        with self._sync_runner() as run:
            exchange, target = run(self._timed(self._open_stream(method, path, options)))

            def next_chunk() -> bytes | None:
                return run(self._timed(exchange.next_chunk()))

            try:
                yield StreamingTestResponse(
                    exchange.status_code, _decode(exchange.raw_headers), next_chunk,
                    request_method=method.upper(), url=target.url,
                )  # fmt: skip
            finally:
                run(self._timed(exchange.aclose()))

    @contextlib.asynccontextmanager
    async def astream(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[AsyncStreamingTestResponse]:
        """Like `stream`, from async code (``async with client.astream(...) as response``)."""
        run = self._async_runner()
        exchange, target = await run(self._timed(self._open_stream(method, path, options)))

        async def next_chunk() -> bytes | None:
            return await run(self._timed(exchange.next_chunk()))

        try:
            yield AsyncStreamingTestResponse(
                exchange.status_code, _decode(exchange.raw_headers), next_chunk,
                request_method=method.upper(), url=target.url,
            )  # fmt: skip
        finally:
            await run(self._timed(exchange.aclose()))

    def _timed(self, coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
        return run_with_timeout(coro, self.timeout, "the app")

    async def _open_stream(
        self, method: str, path: str, options: RequestOptions
    ) -> tuple[HTTPExchange, Target]:
        content, content_type = encode_body(
            body=options.get("body"), json=options.get("json", UNSET),
            data=options.get("data"), files=options.get("files"),
        )  # fmt: skip
        target = resolve_target(
            self.base_url, path, scheme=options.get("scheme"), params=options.get("params")
        )
        header_pairs = merge_headers(self.headers, options.get("headers"))
        raw_headers = self._http_headers(target, header_pairs, content, content_type, options)
        exchange = HTTPExchange(
            self.app, self._http_scope(method, target, raw_headers), content or b""
        )
        try:
            await exchange.start()
        except BaseException:
            await exchange.aclose()
            raise
        update_jar(self.cookies, _set_cookies(exchange.raw_headers))
        return exchange, target

    async def _send(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> TestResponse:
        method = method.upper()
        content, content_type = encode_body(
            body=options.get("body"), json=options.get("json", UNSET),
            data=options.get("data"), files=options.get("files"),
        )  # fmt: skip
        target = resolve_target(
            self.base_url, path, scheme=options.get("scheme"), params=options.get("params")
        )
        header_pairs = merge_headers(self.headers, options.get("headers"))
        wants_csrf = options.get("csrf")
        if (self.csrf if wants_csrf is None else wants_csrf) and method not in _SAFE_METHODS:
            header_pairs = merge_headers(await self._csrf_headers(target), header_pairs)
        follow = options.get("follow_redirects")
        follow = self.follow_redirects if follow is None else follow
        history: list[TestResponse] = []
        while True:
            raw_headers = self._http_headers(target, header_pairs, content, content_type, options)
            response = await self._exchange(method, target, raw_headers, content)
            if not (follow and response.is_redirect and response.location is not None):
                break
            next_target = resolve_target(self.base_url, urljoin(target.url, response.location))
            if not target.is_same_origin(next_target):
                break
            if len(history) == MAX_REDIRECTS:
                raise TooManyRedirectsError(f"more than {MAX_REDIRECTS} redirects from {path}")
            history.append(response)
            if response.status_code in _METHOD_CHANGING_REDIRECTS and method != "HEAD":
                method, content, content_type = "GET", None, None
                header_pairs = [(k, v) for k, v in header_pairs if k.lower() not in _BODY_HEADERS]
            target = next_target
        response.history = history
        return response

    def csrf_token(self, *, scheme: str | None = None) -> str:
        """The CSRF token the jar holds for `scheme` (the base URL's), minting one if needed."""
        target = resolve_target(self.base_url, "/", scheme=scheme)
        with self._sync_runner() as run:
            run(self._csrf_headers(target))
        return self.cookies[_csrf_cookie_name(self.app, target.scheme)]

    @contextlib.contextmanager
    def session_transaction(self, *, scheme: str | None = None) -> Iterator[Any]:
        """Open the session the jar's cookie names, to read or change it (Flask's helper).

        ``with client.session_transaction() as session: session["user_id"] = 7`` saves the
        change back into the jar, as a response of the app would.

        Raises:
            RuntimeError: The app is not a Flasgo app.
        """
        from flasgo.sessions import Session

        target = resolve_target(self.base_url, "/", scheme=scheme)
        scope = self._http_scope("GET", target, self._http_headers(target, [], None, None, {}))
        with self._sync_runner() as run:
            request, session = run(_load_session(self.app, scope))
            yield session
            if not isinstance(session, Session):  # pragma: no cover - loaded above
                raise TypeError("session_transaction() yields a flasgo Session")
            update_jar(self.cookies, run(_save_session(self.app, request, session)))

    async def _csrf_headers(self, target: Target) -> list[tuple[str, str]]:
        """Like a same-origin page: the jar's token (minted if missing) and our Origin."""
        from flasgo.security.csrf import token_for_scope

        name = _csrf_cookie_name(self.app, target.scheme)
        token = self.cookies.get(name)
        scope = self._http_scope("GET", target, self._http_headers(target, [], None, None, {}))
        minted_name, minted, header = await token_for_scope(self.app, scope)
        if token is None:
            token = self.cookies[minted_name] = minted
        return [("origin", f"{target.scheme}://{target.netloc}"), (header, token)]

    async def _exchange(
        self,
        method: str,
        target: Target,
        raw_headers: list[tuple[bytes, bytes]],
        content: bytes | None,
    ) -> TestResponse:
        exchange = HTTPExchange(
            self.app, self._http_scope(method, target, raw_headers), content or b""
        )
        try:
            await exchange.start()
            body = await exchange.read()
        finally:
            await exchange.aclose()
        carried = update_jar(self.cookies, _set_cookies(exchange.raw_headers))
        return TestResponse(
            exchange.status_code, _decode(exchange.raw_headers), body,
            request_method=method, url=target.url, cookies=carried,
        )  # fmt: skip

    def _http_headers(
        self,
        target: Target,
        header_pairs: list[tuple[str, str]],
        content: bytes | None,
        content_type: str | None,
        options: RequestOptions,
    ) -> list[tuple[bytes, bytes]]:
        defaults = [("host", target.netloc), ("user-agent", USER_AGENT)]
        if content is not None:
            defaults.append(("content-length", str(len(content))))
            if content_type is not None:
                defaults.append(("content-type", content_type))
        cookie = cookie_header(self.cookies, options.get("cookies"))
        if cookie is not None:
            defaults.append(("cookie", cookie))
        return [
            _encode_header(name, value) for name, value in merge_headers(defaults, header_pairs)
        ]

    def _http_scope(self, method: str, target: Target, headers: list[tuple[bytes, bytes]]) -> Scope:
        scope = self._scope("http", target, headers)
        scope["method"] = method.upper()
        return scope

    def _scope(self, kind: str, target: Target, headers: list[tuple[bytes, bytes]]) -> Scope:
        scope: Scope = {
            "type": kind,
            "asgi": dict(ASGI_VERSION),
            "http_version": "1.1",
            "scheme": target.scheme,
            "path": target.path,
            "raw_path": target.raw_path,
            "query_string": target.query_string,
            "root_path": self.root_path,
            "headers": headers,
            "client": self.client,
            "server": (target.host, target.port),
            "extensions": {},
        }
        if self._lifespan is not None and self._lifespan.is_supported:
            scope["state"] = dict(self._lifespan.state)
        return scope

    # -- WebSocket ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def websocket_connect(
        self,
        path: str,
        *,
        headers: HeadersInput | None = None,
        subprotocols: Sequence[str] = (),
        origin: str | None = "http://localhost",
        scheme: str | None = None,
    ) -> Iterator[WebSocketTestSession]:
        """Open a websocket; the block's end closes it (code 1000) and waits for the app.

        Args:
            path: The path (with an optional query).
            headers: Extra handshake headers.
            subprotocols: Offered in ``scope["subprotocols"]`` and Sec-WebSocket-Protocol.
            origin: The Origin header; None sends none.
            scheme: ``ws`` or ``wss`` instead of the one matching the base URL.

        Raises:
            WebSocketDenied: the app rejected the handshake.
        """
        with self._sync_runner() as run:
            exchange = run(self._open_websocket(path, headers, subprotocols, origin, scheme))
            try:
                yield WebSocketTestSession(exchange, run, self.timeout)
            finally:
                run(self._timed(exchange.close()))

    @contextlib.asynccontextmanager
    async def awebsocket_connect(
        self,
        path: str,
        *,
        headers: HeadersInput | None = None,
        subprotocols: Sequence[str] = (),
        origin: str | None = "http://localhost",
        scheme: str | None = None,
    ) -> AsyncIterator[AsyncWebSocketTestSession]:
        """Like `websocket_connect`, from async code (``async with``)."""
        run = self._async_runner()
        exchange = await run(self._open_websocket(path, headers, subprotocols, origin, scheme))
        try:
            yield AsyncWebSocketTestSession(exchange, run, self.timeout)
        finally:
            await run(self._timed(exchange.close()))

    async def _open_websocket(
        self,
        path: str,
        headers: HeadersInput | None,
        subprotocols: Sequence[str],
        origin: str | None,
        scheme: str | None,
    ) -> WebSocketExchange:
        http_scheme = {"ws": "http", "wss": "https"}.get(scheme or "", scheme)
        target = resolve_target(self.base_url, path, scheme=http_scheme)
        defaults = [
            ("host", target.netloc),
            ("user-agent", USER_AGENT),
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", base64.b64encode(secrets.token_bytes(16)).decode()),
        ]
        if origin is not None:
            defaults.append(("origin", origin))
        if subprotocols:
            defaults.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        cookie = cookie_header(self.cookies, None)
        if cookie is not None:
            defaults.append(("cookie", cookie))
        pairs = merge_headers(defaults, merge_headers(self.headers, headers))
        scope = self._scope("websocket", target, [_encode_header(k, v) for k, v in pairs])
        scope["scheme"] = "wss" if target.scheme == "https" else "ws"
        scope["subprotocols"] = list(subprotocols)
        scope["extensions"] = {"websocket.http.response": {}}
        exchange = WebSocketExchange(self.app, scope, tuple(subprotocols))
        try:
            await run_with_timeout(exchange.connect(), self.timeout, "the websocket handshake")
        except BaseException:
            await exchange.abort()
            raise
        return exchange


def _csrf_cookie_name(app: ASGIApp, scheme: str) -> str:
    settings = getattr(app, "settings", None)
    if settings is None:
        raise RuntimeError("The CSRF helper needs a Flasgo app.")
    name: str = settings.CSRF_COOKIE_NAME
    return f"__Host-{name}" if scheme == "https" and settings.CSRF_COOKIE_SECURE else name


def _decode(raw_headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers]


def _set_cookies(raw_headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [value.decode("latin-1") for name, value in raw_headers if name.lower() == b"set-cookie"]


async def _load_session(app: Any, scope: Scope) -> tuple[Any, Any]:
    """The request for `scope` and the session its cookie names (empty without one)."""
    from flasgo.request import Request
    from flasgo.sessions import Session

    freeze = getattr(app, "freeze", None)
    if freeze is None:
        raise RuntimeError("session_transaction() needs a Flasgo app.")
    freeze()

    async def no_body() -> dict[str, Any]:  # pragma: no cover - nothing reads a body here
        return {"type": "http.request", "body": b"", "more_body": False}

    request = Request(scope, no_body, app)
    if not app.sessions.has_cookie(request):
        return request, Session()
    return request, await app.sessions.load(request)


async def _save_session(app: Any, request: Any, session: Any) -> list[str]:
    """The Set-Cookie values saving `session` produces."""
    from flasgo.response import Response

    if app.csrf is not None:
        app.csrf.prepare_session(session)
    response = Response(b"")
    await app.sessions.save(request, session, response)
    return list(response.cookies)
