"""The request pipeline: the frozen runtime compiled once from the app's registrations.

A request visits each stage once, in order:

    screen (proxy, throttle, head and URL limits, Host) -> route -> session (preload)
    -> CSRF -> the route's steps (auth guard, before hooks, rate limits) -> bind and call
    -> coerce -> after hooks -> session save -> headers -> send -> deferred work, teardown

Each route's stages are compiled once into a `Target`: a route with nothing to check has an
empty ``steps`` tuple and no after hooks, not a separate code path. One ``try`` turns errors
into responses (`flasgo.errors`); every refusal (Host, limits, CSRF, 401/403) leaves through
`Pipeline.refuse`, which logs its reason code and counts it against the client.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from flasgo.compression import Compressor
from flasgo.concurrency import ThreadPool, is_async_callable
from flasgo.context import RequestBinding, request_binding
from flasgo.cors import CORSPolicy
from flasgo.dependencies import finish_request
from flasgo.errors import ErrorHandlers, ErrorRenderer, error_log, find_error_handler
from flasgo.exceptions import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestHeaderFieldsTooLarge,
    URITooLong,
)
from flasgo.jsonenc import encode_json
from flasgo.ratelimit import stamp
from flasgo.request import Request
from flasgo.response import (
    JSON,
    TEXT,
    RedirectResponse,
    Response,
    StreamingResponse,
    to_response,
)
from flasgo.security.csp import NONCE_KEY, apply_nonce
from flasgo.security.csrf import SAFE_METHODS, CSRFFailed, CSRFProtection
from flasgo.security.events import log_security_event
from flasgo.security.headers import Block, HeaderPolicy
from flasgo.security.refusal import Refusal
from flasgo.sessions import CookieSessions, SessionBackend
from flasgo.sessions.session import SessionTooLarge, mark_private

if TYPE_CHECKING:
    from flasgo.endpoint import Endpoint
    from flasgo.hooks import Hook
    from flasgo.routing import Router, RuleEntry
    from flasgo.security.hosts import HostValidator
    from flasgo.security.proxy import ProxyResolver
    from flasgo.security.throttle import SecurityFailureThrottle
    from flasgo.settings import Settings

__all__ = ["Pipeline", "Step", "Target"]

# A route step: None goes on; a value ends the steps and becomes the response (a before
# hook's short-circuit); a refusal raises its error.
Step = Callable[[Request], Awaitable[Any]]

_COMPRESS_ON_LOOP = 64 * 1024
_BAD_HOST = (
    "Invalid Host header. Send a Host value in ALLOWED_HOSTS or update settings.ALLOWED_HOSTS."
)
_HEAD_TOO_LARGE = "Request headers exceed MAX_REQUEST_HEAD_BYTES."
_CONTROL_IN_PATH = "The request path contains a control character."
# C0 controls and DEL (a decoded %00..%1F or %7F); other non-printable text is left alone.
_has_control = re.compile(r"[\x00-\x1f\x7f]").search
# RFC 3986 pchar and "/": what a path keeps unencoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_NOT_FOUND = "No route matches {path!r}. Check the URL or register a handler for this path."


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint compiled for serving.

    Attributes:
        endpoint: The registered endpoint.
        steps: What runs before the handler, in order (auth guard, before hooks, limits).
        after: The after_request hooks (innermost scope first).
        teardown: The teardown hooks.
        errors: The error-handler tables, innermost scope first.
        csrf: Unsafe methods must pass the CSRF check.
        plain: No after hooks and no rate-limit headers: a str/dict/list result may be
            encoded straight into the response messages.
        cors: The route's CORS policy (its preflight step is the first step), or None.
    """

    endpoint: Endpoint
    steps: tuple[Step, ...]
    after: tuple[Hook, ...]
    teardown: tuple[Hook, ...]
    errors: ErrorHandlers
    csrf: bool
    plain: bool
    cors: CORSPolicy | None = None


@dataclass(frozen=True, slots=True)
class Screen:
    """The checks made before routing, compiled from settings."""

    max_headers: int
    max_head_bytes: int
    max_url: int
    hosts: HostValidator | None
    proxy: ProxyResolver | None


class Pipeline:
    """The compiled HTTP runtime of one app.

    Args:
        app: The app, handed to each `Request` as ``request.app``.
        settings: The app's settings.
        router: Path -> targets.
        fallback: The target of requests no route takes (the app's hooks and handlers).
        pool: Where sync code runs.
        sessions: The session backend.
        csrf: The CSRF protection, or None when it is off.
        throttle: The security-failure throttle, or None.
        headers: The security header policy.
        screen: The pre-routing checks.
        on_refusal: Called with each refusal's reason code (the metrics count them), or None.
    """

    __slots__ = (
        "_app",
        "_compress_min",
        "_compressor",
        "_csrf",
        "_errors",
        "_fallback",
        "_headers",
        "_json",
        "_offer_cookies",
        "_on_refusal",
        "_pool",
        "_preload",
        "_refresh",
        "_router",
        "_screen",
        "_sessions",
        "_settings",
        "_text",
        "_throttle",
    )

    def __init__(
        self,
        *,
        app: Any,  # NOTE: the app (a layer above) is only passed through to each Request.
        settings: Settings,
        router: Router[Target],
        fallback: Target,
        pool: ThreadPool,
        sessions: SessionBackend,
        csrf: CSRFProtection | None,
        throttle: SecurityFailureThrottle | None,
        headers: HeaderPolicy,
        screen: Screen,
        on_refusal: Callable[[str], None] | None = None,
    ) -> None:
        self._app = app
        self._settings = settings
        self._router = router
        self._fallback = fallback
        self._pool = pool
        self._sessions = sessions
        self._csrf = csrf
        self._throttle = throttle
        self._headers = headers
        self._screen = screen
        self._on_refusal = on_refusal
        self._errors = ErrorRenderer(debug=settings.DEBUG)
        self._compressor = Compressor.from_settings(settings)
        self._offer_cookies = csrf is not None
        # PERF: a body below this size is never compressed: one comparison per response.
        self._compress_min = (
            self._compressor.min_bytes if self._compressor is not None else sys.maxsize
        )
        # Server-side sessions need I/O to load, so they are loaded before the handler when
        # the cookie is there; signed cookies are verified lazily, on first use.
        self._preload = not isinstance(sessions, CookieSessions)
        self._refresh = settings.SESSION_REFRESH_EACH_REQUEST
        text, json = (b"content-type", TEXT.encode()), (b"content-type", JSON.encode())
        plain = headers.blocks[0]
        self._text = ([*plain[0], text], [*plain[1], text])
        self._json = ([*plain[0], json], [*plain[1], json])

    @property
    def host_validator(self) -> HostValidator | None:
        """The ``ALLOWED_HOSTS`` check (None when ``ENFORCE_ALLOWED_HOSTS`` is off)."""
        return self._screen.hosts

    @property
    def errors(self) -> ErrorRenderer:
        """How errors become responses."""
        return self._errors

    # -- entry ---------------------------------------------------------------------------------

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve one ASGI ``http`` scope."""
        proxy = self._screen.proxy
        if proxy is not None:
            scope = proxy.apply(scope)
        checked = self._check(scope)
        if checked is not False and checked is not True:
            await self._refuse_early(scope, receive, send, checked)
            return
        path: str = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        method: str = scope["method"]
        match = self._router.match(path)
        preset: Response | HTTPException | None = None
        entry: RuleEntry[Target] | None
        if match is None:
            params: dict[str, Any] = {}
            target, entry = self._fallback, None
            preset = self._not_found(path, scope)
        else:
            entry, params = match
            # SECURITY: a decoded %00 or %0A must not reach a handler as a path parameter.
            # PERF: static routes skip it; isprintable() is one C pass over the path.
            if params and not path.isprintable() and _has_control(path):
                bad = Refusal(BadRequest(_CONTROL_IN_PATH), "path-control-character", counted=False)
                await self._refuse_early(scope, receive, send, bad)
                return
            found = entry.targets.get(method)
            if found is None:
                found, preset = self._other_method(entry, method, scope)
            target = found
        request = Request(scope, receive, self._app, params, target.endpoint.name or None, entry)
        binding: RequestBinding = [request]
        token = request_binding.set(binding)
        try:
            if checked and method in SAFE_METHODS and entry is not None:
                self._offer_csrf_cookie(request)
            if self._preload and not await self._preload_session(request, send):
                return
            if (
                target.csrf
                and method not in SAFE_METHODS
                and not await self._csrf_passes(request, target, send)
            ):
                return
            await self._dispatch(request, target, params, send, preset)
        finally:
            # PERF: see flasgo.context: nothing the server keeps may reach the request.
            binding[0] = None
            request_binding.reset(token)
            request.close_files()  # NOTE: uploads live until the response was sent

    # -- before routing ------------------------------------------------------------------------

    def admit(self, scope: dict[str, Any]) -> tuple[dict[str, Any], Refusal | None]:
        """Screen a scope as `handle` does before routing (WebSocket handshakes use it).

        Returns:
            The scope with trusted proxy headers applied, and the refusal or None.
        """
        proxy = self._screen.proxy
        if proxy is not None:
            scope = proxy.apply(scope)
        checked = self._check(scope)
        return scope, checked if isinstance(checked, Refusal) else None

    async def load_session(self, request: Request) -> None:
        """Load a server-side session before a handler when its cookie came.

        Raises:
            HTTPException: The session store failed (503).
        """
        if self._preload and self._sessions.has_cookie(request):
            request.state.session = await self._sessions.load(request)

    def _check(self, scope: dict[str, Any]) -> Refusal | bool:
        """The pre-routing screen: a `Refusal`, or whether a browser sent the request.

        "A browser" is a request with ``Sec-Fetch-*`` headers while CSRF is on: its safe
        requests are offered the CSRF cookie (`_offer_csrf_cookie`).
        """
        screen = self._screen
        throttle = self._throttle
        # PERF: `blocked` is empty unless some client went over the security-failure limit.
        if throttle is not None and throttle.blocked and (refused := throttle.screen(scope)):
            return refused
        headers = scope["headers"]
        # PERF: sizes are measured with C-level joins, not a Python loop over the headers.
        head = b"".join(chain.from_iterable(headers))
        if (
            len(headers) > screen.max_headers
            or len(head) + 4 * len(headers) > screen.max_head_bytes
        ):
            too_large = RequestHeaderFieldsTooLarge(_HEAD_TOO_LARGE, {"connection": "close"})
            return Refusal(too_large, "request-head-too-large", counted=False)
        target = scope.get("raw_path") or scope["path"]
        if len(target) + len(scope.get("query_string", b"")) > screen.max_url:
            too_long = URITooLong("Request URL exceeds MAX_URL_LENGTH.")
            return Refusal(too_long, "url-too-long", counted=False)
        # PERF: two Authorization headers put the name twice in the joined head: a C-level
        # count rules the common case out before any loop over the headers.
        if head.count(b"authorization") > 1 and (
            sum(name == b"authorization" for name, _ in headers) > 1
        ):
            # SECURITY: two credentials are ambiguous: "first wins" here may be "last wins"
            # in a proxy or another service that saw the same request.
            repeated = BadRequest("Send one Authorization header, not several.")
            return Refusal(repeated, "authorization-header-repeated", counted=False)
        validator = screen.hosts
        if validator is not None:
            hosts = [value for name, value in headers if name == b"host"]
            # PERF: hosts seen before answer from the validator's cache without a call.
            if len(hosts) != 1 or (
                hosts[0] not in validator.seen and not validator.is_allowed(hosts[0])
            ):
                return Refusal(BadRequest(_BAD_HOST), "host-check-failed")
        # PERF: a C-level search of the joined head; clients without Sec-Fetch-* (scripts,
        # services, benchmarks) pay only this.
        return self._offer_cookies and head.find(b"sec-fetch-") != -1

    def _offer_csrf_cookie(self, request: Request) -> None:
        """Give a browser's safe request the CSRF cookie when it has none yet.

        A single-page app's first POST then works as the double-submit model promises,
        even when its first response from us was JSON (which issues no cookie otherwise).
        """
        csrf = self._csrf
        if csrf is not None and not csrf.has_cookie(request):
            csrf.token_for(request)

    async def _refuse_early(
        self, scope: dict[str, Any], receive: Any, send: Any, refusal: Refusal
    ) -> None:
        request = Request(scope, receive, self._app, {}, None, None)
        error = await self.refuse(request, refusal)
        body, content_type = error.render()
        response = Response(body, error.status_code, error.headers, content_type)
        await self._send(send, response, request)

    async def refuse(self, request: Request, refusal: Refusal) -> HTTPException:
        """Log `refusal` (its reason code is the security event) and count it against the
        client when it is a failed security check.

        Every refusal passes through here, so a hook that must see them all belongs here.

        Returns:
            The error to send: the refusal's own, or the throttle's 429 once the client is
            over ``SECURITY_FAILURE_RATE_LIMIT``.
        """
        log_security_event(
            refusal.reason,
            request,
            level=refusal.level,
            status=refusal.error.status_code,
            **refusal.fields,
        )
        if self._on_refusal is not None:
            self._on_refusal(refusal.reason)
        throttle = self._throttle
        if refusal.counted and throttle is not None:
            return await throttle.register(request) or refusal.error
        return refusal.error

    # -- routing -------------------------------------------------------------------------------

    def _other_method(
        self, entry: RuleEntry[Target], method: str, scope: dict[str, Any]
    ) -> tuple[Target, Response | HTTPException | None]:
        """The path matched but `method` has no handler: automatic HEAD/OPTIONS, or 405."""
        if method == "HEAD" and "GET" in entry.targets:
            return entry.targets["GET"], None
        if method == "OPTIONS":
            allow = Response(b"", 204, {"allow": entry.allow})
            # A CORS preflight goes to a route target with CORS: its first step answers it.
            if any(name == b"access-control-request-method" for name, _ in scope["headers"]):
                for target in entry.targets.values():
                    if target.cors is not None:
                        return target, allow
            return self._fallback, allow
        return self._fallback, MethodNotAllowed(
            f"Method Not Allowed. Use one of: {entry.allow}.", {"allow": entry.allow}
        )

    def _not_found(self, path: str, scope: dict[str, Any]) -> Response | HTTPException:
        if self._settings.REDIRECT_TRAILING_SLASH and path != "/":
            other = path[:-1] if path.endswith("/") else f"{path}/"
            if self._router.match(other) is not None:
                query = scope.get("query_string", b"")
                root = scope.get("root_path", "")
                # NOTE: the path is decoded text; a header needs it percent-encoded again.
                location = quote(f"{root}{other}", safe=_PATH_SAFE) + (
                    f"?{query.decode('latin-1')}" if query else ""
                )
                return RedirectResponse(location, 308)
        shown = path if len(path) <= 200 else f"{path[:200]}..."
        return NotFound(_NOT_FOUND.format(path=shown))

    # -- session and CSRF ----------------------------------------------------------------------

    async def _preload_session(self, request: Request, send: Any) -> bool:
        """Load a server-side session before the handler; False when the store failed."""
        if not self._sessions.has_cookie(request):
            return True
        try:
            request.state.session = await self._sessions.load(request)
        except HTTPException as exc:  # a store outage: 503, before any handler ran
            response = await self._errors.handle(request, self._fallback.errors, exc)
            await self._send(send, response, request)
            return False
        return True

    async def _csrf_passes(self, request: Request, target: Target, send: Any) -> bool:
        """Run the CSRF check before hooks and handler; send the refusal and return False."""
        csrf = self._csrf
        assert csrf is not None  # target.csrf is only set when it exists
        try:
            await csrf.check(request)
        except HTTPException as exc:  # CSRFFailed (403), or a form body that failed to read
            error = (
                await self.refuse(request, csrf.refusal(request, exc))
                if isinstance(exc, CSRFFailed)
                else exc
            )
            await self._send(
                send, await self._errors.handle(request, target.errors, error), request
            )
            return False
        return True

    async def _save_session(self, request: Request, response: Response) -> Response:
        state = request.state
        session = state.session
        if session is None:  # only SESSION_REFRESH_EACH_REQUEST gets here without a session
            if not self._sessions.has_cookie(request):
                return response
            session = request.session
        if self._csrf is not None:
            self._csrf.prepare_session(session)
        try:
            await self._sessions.save(request, session, response)
        except HTTPException as exc:  # store outage (503) or a lost write race (409)
            return await self._errors.handle(request, self._fallback.errors, exc)
        except (SessionTooLarge, TypeError) as exc:
            error_log.error("session-save-failed %s", exc)
            return self._errors.internal_error(exc)
        return response

    # -- the route -----------------------------------------------------------------------------

    async def _dispatch(  # noqa: C901, PLR0912, PLR0915 - PERF: the hot path in one frame
        self,
        request: Request,
        target: Target,
        params: dict[str, Any],
        send: Any,
        preset: Response | HTTPException | None,
    ) -> None:
        error: BaseException | None = None
        plan = target.endpoint.plan
        try:
            try:
                result: Any = None
                for step in target.steps:
                    result = await step(request)
                    if result is not None:
                        break
                else:
                    if preset is None:
                        if plan.passthrough:
                            kwargs = params
                        elif plan.bind_async:
                            kwargs = await plan.bind(request, params)
                        else:
                            kwargs = plan.bind(request, params)
                        if plan.is_async:
                            result = await plan.func(**kwargs)
                        else:
                            result = await self._pool.run(plan.func, **kwargs)
                    elif isinstance(preset, HTTPException):
                        raise preset
                    else:
                        result = preset
                # PERF: a plain route's str/dict/list/Struct result goes straight into two
                # messages with a prebuilt header block, unless a session must be saved.
                if target.plain and not self._refresh:
                    kind = type(result)
                    if kind is str:
                        blocks = self._text
                        body = result.encode("utf-8", "replace")
                    elif kind is dict or kind is list or isinstance(result, msgspec.Struct):
                        blocks = self._json
                        body = encode_json(result)
                    else:
                        blocks = None
                    state = request.current_state
                    if (
                        blocks is not None
                        and len(body) < self._compress_min  # else the general path compresses
                        and (state is None or state.session is None)
                    ):
                        scope = request.scope
                        headers = [
                            *blocks[scope.get("scheme") == "https"],
                            (b"content-length", b"%d" % len(body)),
                        ]
                        # PERF: only a request that made a request id, a CSRF token or a CSP
                        # nonce pays more.
                        if state is not None or NONCE_KEY in scope:
                            self._add_extras(request, headers, None)
                        await send(
                            {"type": "http.response.start", "status": 200, "headers": headers}
                        )
                        if scope["method"] == "HEAD":
                            body = b""
                        await send({"type": "http.response.body", "body": body})
                        return
                response = await self._finish(request, target, to_response(result))
            except Exception as exc:
                error = exc
                response = await self._errors.handle(request, target.errors, exc)
                response = await self._after(request, target, response, from_error=True)
                state = request.current_state
                session = state.session if state is not None else None
                if session is not None and find_error_handler(target.errors, exc) is not None:
                    # The app's error handler answered (Flask: "401 -> flash + redirect to
                    # login"): its session writes are kept, as with any response it makes.
                    response = await self._save_session(request, response)
                elif session is not None and session.accessed:
                    # An unhandled failure never writes the session, but what it read is
                    # private.
                    mark_private(response, default_no_store=self._settings.ENFORCE_NO_STORE_CACHE)
            await self._send(send, response, request)
        except asyncio.CancelledError as exc:
            # NOTE: the client went away or the server is stopping: yield-dependencies get the
            # cancellation thrown in at their yield now, so they stop (roll back) at once.
            error = exc
            raise
        finally:
            if plan.defers:
                await finish_request(request, error)
            for hook in target.teardown:
                try:
                    await hook(error)
                except Exception:
                    error_log.exception("teardown-hook-failed endpoint=%s", target.endpoint.name)

    async def _finish(self, request: Request, target: Target, response: Response) -> Response:
        """A successful response through rate-limit headers, after hooks and session save."""
        state = request.current_state
        if state is not None and state.usage is not None:
            stamp(response, state.usage)
        response = await self._after(request, target, response, from_error=False)
        state = request.current_state
        if (state is not None and state.session is not None) or self._refresh:
            response = await self._save_session(request, response)
        return response

    async def _after(
        self, request: Request, target: Target, response: Response, *, from_error: bool
    ) -> Response:
        for hook in target.after:
            try:
                result = await hook(request, response)
            except Exception:
                if not from_error:
                    raise
                error_log.exception("after-request-hook-failed path=%s", request.path)
                continue
            if not isinstance(result, Response):
                message = (
                    f"after_request hook {getattr(hook, '__qualname__', hook)!r} returned "
                    f"{type(result).__name__}; it must return the response it was given "
                    "(or a new Response)."
                )
                if from_error:
                    error_log.error(message)
                    continue
                raise TypeError(message)
            response = result
        return response

    # -- sending -------------------------------------------------------------------------------

    def _add_extras(self, request: Request, headers: Block, response: Response | None) -> None:
        """The per-request headers: CSP nonce, CSRF cookie, request id."""
        if (nonce := request.scope.get(NONCE_KEY)) is not None:
            apply_nonce(headers, nonce)
        if (
            self._csrf is not None
            and (cookie := self._csrf.outgoing(request, response)) is not None
        ):
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        # Error responses always carry the request id (it is in the log line too).
        state = request.current_state
        if (state is not None and state.request_id is not None) or (
            response is not None and response.status_code >= 400
        ):
            headers.append((b"x-request-id", request.request_id.encode()))

    async def _send(self, send: Any, response: Response, request: Request) -> None:
        compressor = self._compressor
        if compressor is not None and (
            len(response.body) >= self._compress_min or isinstance(response, StreamingResponse)
        ):
            # PERF: a large body is compressed in the thread pool, not on the event loop.
            if len(response.body) > _COMPRESS_ON_LOOP:
                response = await self._pool.run(compressor.apply, request, response)
            else:
                response = compressor.apply(request, response)
        try:
            raw = response.raw_headers()
        except (ValueError, UnicodeEncodeError):
            error_log.exception("response-prepare-failed")
            response = self._errors.internal_error(RuntimeError("invalid response headers"))
            raw = response.raw_headers()
        headers = self._headers.merge(
            raw,
            response.headers.names(),
            page=HeaderPolicy.is_page(response.content_type),
            https=request.scope.get("scheme") == "https",
            public=response.allow_public_cache,
        )
        self._add_extras(request, headers, response)
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await response.send_body(send, is_head=request.scope["method"] == "HEAD")
        if response.background is not None:
            await self._run_background(response.background)

    async def _run_background(self, func: Callable[[], Any]) -> None:
        try:
            if is_async_callable(func):
                await func()
            else:
                await self._pool.run(func)
        except Exception:
            error_log.exception("background-task-failed")
