"""CSRF protection, on by default: provenance headers, a double-submit token bound to the session.

Every request whose method is not GET, HEAD, OPTIONS or TRACE, to a route that is not exempt,
passes three checks (any failure is a 403 and a ``csrf-check-failed`` security event):

1. **Provenance** (``CSRF_CHECK_ORIGIN``). A single ``Origin`` must be the request's own origin
   (scheme and Host as the app sees them, read by `flasgo.origin`) or match
   ``CSRF_TRUSTED_ORIGINS``; ``null`` and repeated values fail. Without ``Origin``,
   ``Sec-Fetch-Site: same-origin`` or ``none`` pass (the token is still required) and
   ``same-site``/``cross-site`` pass only with a trusted ``Referer``. Without both, a present
   ``Referer`` must be same-origin or trusted. A request with none of the three is not from a
   current browser (they all send ``Origin`` on unsafe requests and ``Sec-Fetch-Site`` on
   every request): with ``CSRF_REQUIRE_ORIGIN`` it must carry its token in the header, which a
   cross-site page cannot set without a CORS preflight, so curl and server-to-server clients
   with a valid token get through while a form field alone does not.
2. **Double submit**. Exactly one CSRF cookie, and the same value in exactly one
   ``X-CSRF-Token`` header or (when there is no header) exactly one ``csrf_token`` field of an
   urlencoded form; compared in constant time. The submitted value may be masked
   (``csrf_token()`` masks it per call against BREACH); it is unmasked first.
3. **Binding**. The token is ``v1.<nonce>.<sig>``, ``sig`` the unpadded base64url
   HMAC-SHA256, keyed with ``"flasgo.csrf:" + SECRET_KEY`` (and each fallback key when
   verifying), of ``"v1\\0" + nonce + "\\0" + binding``. The binding is the session's identity,
   not its cookie, so session writes do not rotate the token: the persisted id of a server-side
   session, a random secret kept in a signed-cookie session under `SESSION_SECRET_KEY` (made on
   first use, replaced when the session is regenerated at login), or ``"anonymous"``.

On HTTPS with ``CSRF_COOKIE_SECURE`` the cookie is named ``__Host-<CSRF_COOKIE_NAME>``: the
prefix makes browsers refuse it from a sibling subdomain or a plain-HTTP page (cookie
tossing), and only that name is read on HTTPS. Plain-HTTP requests use the bare name.

Issuing: a matched route's response sets the cookie when the request had none, when the check
failed on a bad token, or when the session's identity changed; never on a response with
``allow_public_cache``. A client that holds its cookie costs a presence check on safe requests
and one HMAC on unsafe ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from flasgo.context import find_request
from flasgo.cookies import build_set_cookie, cookie_values
from flasgo.exceptions import ConfigurationError, Forbidden, HTTPException
from flasgo.origin import (
    DEFAULT_PORTS,
    HostPattern,
    InvalidHostError,
    Origin,
    OriginPattern,
    parse_host_pattern,
    parse_origin,
    parse_origin_pattern,
    parse_referer,
    request_origin,
)
from flasgo.security.refusal import Refusal

if TYPE_CHECKING:
    from flasgo.request import Request
    from flasgo.response import Response
    from flasgo.sessions import Session
    from flasgo.settings import Settings

__all__ = [
    "ANONYMOUS",
    "CSRF_FAILED",
    "FORM_FIELD",
    "SAFE_METHODS",
    "SESSION_SECRET_KEY",
    "CSRFFailed",
    "CSRFProtection",
    "csrf_exempt",
    "csrf_token",
    "is_exempt",
    "mask_token",
    "session_binding",
    "token_for_scope",
    "unmask_token",
]

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FAILED: Final = (
    "CSRF validation failed. Send matching CSRF cookie and header values plus a trusted "
    "Origin/Referer."
)
FORM_FIELD: Final = "csrf_token"
"""The urlencoded form field that may carry the token instead of the header."""
SESSION_SECRET_KEY: Final = "_csrf_secret"  # noqa: S105 - a session key name, not a secret
"""The reserved key under which a signed-cookie session keeps its CSRF binding secret."""
ANONYMOUS: Final = "anonymous"
"""The binding of a client without a session."""

_SALT = "flasgo.csrf"
_EXEMPT_ATTRIBUTE = "__flasgo_csrf_exempt__"
_MAX_TOKEN = 256
_MAX_MASKED = 3 + 4 * _MAX_TOKEN  # "m1." + base64 of twice the longest token
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# NOTE: one character class per part and no alternation: linear on any input.
_is_token_part = re.compile(r"[A-Za-z0-9_-]{16,128}").fullmatch


class CSRFFailed(Forbidden):
    """403: the request failed the CSRF check; `reason` says which part (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(CSRF_FAILED)
        self.reason = reason


def csrf_exempt(func: F) -> F:
    """Exempt a view from the CSRF check (webhooks, token-authenticated machine clients).

    Works above or below the route decorator: the exemption is read when the app starts.
    The same effect as the route option ``csrf=False``.
    """
    setattr(func, _EXEMPT_ATTRIBUTE, True)
    return func


def is_exempt(func: Callable[..., Any], options: dict[str, Any]) -> bool:
    """Whether a route's view or options opt it out of the CSRF check.

    Raises:
        TypeError: The ``csrf`` route option is not a bool.
    """
    option = options.get("csrf", True)
    if type(option) is not bool:
        raise TypeError(f"The route option csrf= must be True or False, got {option!r}")
    return not option or getattr(func, _EXEMPT_ATTRIBUTE, False) is True


def _origin_or_none(value: str) -> Origin | None:
    try:
        return parse_origin(value)
    except InvalidHostError:
        # SECURITY: "null" (sandboxed frames, data: URLs) is refused here too.
        return None


def _referer_or_none(value: str) -> Origin | None:
    try:
        return parse_referer(value)
    except InvalidHostError:
        return None


_Keyed = tuple["hashlib._Hash", "hashlib._Hash"]


def _keyed(key: bytes) -> _Keyed:
    """The HMAC-SHA256 inner and outer pad states for `key`, hashed once."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(byte ^ 0x36 for byte in key)),
        hashlib.sha256(bytes(byte ^ 0x5C for byte in key)),
    )


class _Trusted:
    """The compiled ``CSRF_TRUSTED_ORIGINS``: origins (exact or ``*.``) and host patterns."""

    __slots__ = ("exact", "hosts", "wildcards")

    def __init__(self, entries: frozenset[str]) -> None:
        self.exact: set[Origin] = set()
        self.wildcards: list[OriginPattern] = []
        self.hosts: list[HostPattern] = []  # bare hosts: same scheme, default port only
        for entry in entries:
            try:
                if "://" in entry:
                    pattern = parse_origin_pattern(entry)
                    if pattern.subdomains:
                        self.wildcards.append(pattern)
                    else:
                        self.exact.add(pattern.origin)
                else:
                    self.hosts.append(parse_host_pattern(entry))
            except InvalidHostError as exc:
                raise ConfigurationError(
                    f"CSRF_TRUSTED_ORIGINS entry {entry!r} {exc.problem}; list origins such "
                    "as 'https://example.com' or 'https://*.example.com'"
                ) from None

    def match(self, origin: Origin, own_scheme: str) -> bool:
        if origin in self.exact:
            return True
        # Strict subdomains only: "*.example.com" does not match "example.com".
        if any(pattern.matches(origin) for pattern in self.wildcards):
            return True
        if origin.scheme != own_scheme or origin.port != DEFAULT_PORTS.get(own_scheme):
            return False
        return any(pattern.matches(origin.host) for pattern in self.hosts)


class CSRFProtection:
    """The CSRF check and token issuing, compiled once from settings.

    Args:
        settings: ``SECRET_KEY``, ``SECRET_KEY_FALLBACKS`` and the ``CSRF_*`` keys are read here.
    """

    __slots__ = (
        "_check_origin",
        "_header",
        "_macs",
        "_needles",
        "_require_origin",
        "_secure_prefix",
        "_suffix",
        "_trusted",
        "name",
        "secure_name",
    )

    def __init__(self, settings: Settings) -> None:
        keys = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
        self._macs = tuple(_keyed(f"{_SALT}:{key}".encode()) for key in keys)
        self.name = settings.CSRF_COOKIE_NAME
        secure = settings.CSRF_COOKIE_SECURE
        self._secure_prefix = secure
        self.secure_name = f"__Host-{self.name}" if secure else self.name
        self._header = settings.CSRF_HEADER_NAME.lower().encode("latin-1")
        self._check_origin = settings.CSRF_CHECK_ORIGIN
        self._require_origin = settings.CSRF_REQUIRE_ORIGIN
        self._trusted = _Trusted(settings.CSRF_TRUSTED_ORIGINS)
        # SECURITY: not HttpOnly (scripts echo it in the header), no Max-Age (gone when the
        # browser session ends). Validated once here; per response only the token is added.
        sample = build_set_cookie(
            self.secure_name, "x", path="/", secure=secure, http_only=False, same_site="Lax"
        )
        self._suffix = sample.partition(";")[2]
        self._needles = (
            f"{self.name}=".encode("latin-1"),
            f"{self.secure_name}=".encode("latin-1"),
        )

    # -- tokens -----------------------------------------------------------------------------

    def _signature(self, mac: _Keyed, nonce: str, binding: str) -> bytes:
        # HMAC-SHA256 (RFC 2104) from the prehashed inner and outer pads.
        # PERF: two sha256 copies cost less than hmac.HMAC.copy() or hmac.digest().
        inner, outer = mac[0].copy(), mac[1].copy()
        inner.update(b"v1\0%s\0%s" % (nonce.encode("ascii"), binding.encode()))
        outer.update(inner.digest())
        return base64.urlsafe_b64encode(outer.digest()).rstrip(b"=")

    def new_token(self, binding: str) -> str:
        """Return a new token for `binding`: a 192-bit random nonce, signed with the newest key."""
        nonce = base64.urlsafe_b64encode(os.urandom(24)).decode("ascii")
        return f"v1.{nonce}.{self._signature(self._macs[0], nonce, binding).decode('ascii')}"

    def is_valid(self, token: str, binding: str) -> bool:
        """Whether `token` is well formed and signed for `binding` with any of our keys."""
        if len(token) > _MAX_TOKEN or not token.isascii():
            return False
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "v1":
            return False
        nonce, signature = parts[1], parts[2]
        if not (_is_token_part(nonce) and _is_token_part(signature)):
            return False
        given = signature.encode("ascii")
        return any(
            hmac.compare_digest(self._signature(mac, nonce, binding), given) for mac in self._macs
        )

    # -- the cookie -------------------------------------------------------------------------

    def cookie_name(self, request: Request) -> str:
        """The cookie's name for this request: ``__Host-`` prefixed on HTTPS when secure."""
        return self.secure_name if request.scope.get("scheme") == "https" else self.name

    def has_cookie(self, request: Request) -> bool:
        """Whether the request sends the CSRF cookie at all (no parsing, no crypto)."""
        needle = self._needles[request.scope.get("scheme") == "https"]
        for name, value in request.scope["headers"]:
            if name == b"cookie":
                index = value.find(needle)
                while index != -1:
                    if index == 0 or value[index - 1] in b"; \t":
                        return True
                    index = value.find(needle, index + 1)
        return False

    def cookie_values(self, request: Request) -> list[str]:
        """Every value the request sends for the CSRF cookie."""
        headers = [v.decode("latin-1") for n, v in request.scope["headers"] if n == b"cookie"]
        return cookie_values("; ".join(headers), self.cookie_name(request)) if headers else []

    def set_cookie(self, request: Request, token: str) -> str:
        """The ``Set-Cookie`` value carrying `token` (the token's alphabet needs no checks)."""
        return f"{self.cookie_name(request)}={token};{self._suffix}"

    # -- the binding ------------------------------------------------------------------------

    def binding(self, request: Request) -> str:
        """The request's session identity, loading the session if a session cookie came."""
        state = request.current_state
        session = None if state is None else state.session
        # PERF: a request without any Cookie header is anonymous; no header index is built.
        if (
            session is None
            and any(n == b"cookie" for n, _ in request.scope["headers"])
            and request.app.has_session_cookie(request)
        ):
            session = request.session
        return session_binding(session)

    def prepare_session(self, session: Session) -> None:
        """Give a signed-cookie session its binding secret (new, or new again after login)."""
        if session.session_id is not None or not session.data:
            return
        secret = session.data.get(SESSION_SECRET_KEY)
        if session.regenerated or type(secret) is not str or not secret:
            session.data[SESSION_SECRET_KEY] = secrets.token_urlsafe(32)
            session.modified = True

    # -- the check --------------------------------------------------------------------------

    async def check(self, request: Request) -> None:
        """Run the provenance, double-submit and binding checks.

        Raises:
            CSRFFailed: A check failed.
            HTTPException: Reading a form body failed (413, 408, 400).
        """
        header_only = False
        if self._check_origin:
            header_only = self._check_provenance(request)
        cookies = self.cookie_values(request)
        if len(cookies) != 1 or not cookies[0]:
            raise CSRFFailed("cookie-missing" if not cookies else "cookie-invalid")
        cookie = cookies[0]
        supplied = [v for n, v in request.scope["headers"] if n == self._header]
        if len(supplied) > 1:
            raise CSRFFailed("token-duplicate")
        if supplied:
            token = supplied[0].decode("latin-1")
        elif header_only:
            raise CSRFFailed("origin-missing")
        else:
            token = await _form_token(request)
        token = unmask_token(token)
        if not hmac.compare_digest(
            cookie.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
        ):
            raise CSRFFailed("token-mismatch")
        if not self.is_valid(cookie, self.binding(request)):
            raise CSRFFailed("token-invalid")

    def _own_origin(self, request: Request) -> Origin | None:
        scheme = str(request.scope.get("scheme", "http"))
        hosts = [v for n, v in request.scope["headers"] if n == b"host"]
        if len(hosts) != 1:
            return None
        try:
            return request_origin(scheme, hosts[0].decode("latin-1"))
        except InvalidHostError:
            return None

    def _is_trusted(self, request: Request, origin: Origin | None) -> bool:
        if origin is None:
            return False
        return origin == self._own_origin(request) or self._trusted.match(
            origin, str(request.scope.get("scheme", "http"))
        )

    def _check_provenance(self, request: Request) -> bool:
        """Check Origin / Sec-Fetch-Site / Referer; True when only a header token may pass."""
        found: dict[bytes, list[bytes]] = {b"origin": [], b"sec-fetch-site": [], b"referer": []}
        for name, value in request.scope["headers"]:
            if name in found:
                found[name].append(value)
        origins, fetch_sites, referers = found.values()
        if len(origins) > 1 or len(fetch_sites) > 1 or len(referers) > 1:
            raise CSRFFailed("header-duplicate")
        referer = _referer_or_none(referers[0].decode("latin-1")) if referers else None
        if referers and referer is None:
            raise CSRFFailed("referer-invalid")
        if origins:
            if not self._is_trusted(request, _origin_or_none(origins[0].decode("latin-1"))):
                raise CSRFFailed("origin-mismatch")
            return False
        if fetch_sites:
            self._check_fetch_site(request, fetch_sites[0].decode("latin-1"), referer)
            return False
        if referer is not None:
            if not self._is_trusted(request, referer):
                raise CSRFFailed("referer-mismatch")
            return False
        return self._require_origin

    def _check_fetch_site(self, request: Request, value: str, referer: Origin | None) -> None:
        site = value.strip().lower()
        if site in ("same-origin", "none"):
            return
        # Another site may post only from a trusted origin, named by its Referer.
        scheme = str(request.scope.get("scheme", "http"))
        if site in ("same-site", "cross-site") and referer and self._trusted.match(referer, scheme):
            return
        raise CSRFFailed("fetch-site-" + ("cross" if site == "cross-site" else "invalid"))

    # -- issuing ----------------------------------------------------------------------------

    def outgoing(self, request: Request, response: Response | None) -> str | None:
        """The ``Set-Cookie`` value `response` must carry, or None.

        The cookie is (re)issued when the request did not send one, when `csrf_token` made
        one, or when the session was written (its identity may have changed) and the token no
        longer fits it.
        """
        if request.rule is None:
            return None
        if response is not None:
            if response.allow_public_cache:
                return None
            prefix = f"{self.cookie_name(request)}="
            if any(cookie.startswith(prefix) for cookie in response.cookies):
                return None
        token, session = _pending(request)
        if token is None:
            if response is None and session is None:
                # PERF: the fast path (text/JSON, no session touched) never issues a token.
                return None
            if not self.has_cookie(request):
                # PERF + Django's rule: a client without a token gets one with a page (HTML),
                # when the app asks for it (`csrf_token()`), or with a CSRF 403; API responses
                # (text, JSON) to cookie-less clients carry no cookie and cost no crypto.
                if response is None or not _is_html(response):
                    return None
                return self.set_cookie(request, self.new_token(self.binding(request)))
            if session is None or not (session.modified or session.regenerated):
                return None
            values = self.cookie_values(request)
            current = values[0] if len(values) == 1 else ""
        else:
            current = token
        binding = session_binding(session)
        if current and self.is_valid(current, binding):
            return self.set_cookie(request, current) if token is not None else None
        return self.set_cookie(request, self.new_token(binding))

    def token_for(self, request: Request) -> str:
        """Return the request's token, making one (set on the response) if it has none."""
        state = request.state
        token = state.csrf_token
        if token is not None:
            return token
        binding = self.binding(request)
        values = self.cookie_values(request)
        if len(values) == 1 and self.is_valid(values[0], binding):
            return values[0]
        token = state.csrf_token = self.new_token(binding)
        return token

    def refusal(self, request: Request, exc: CSRFFailed) -> Refusal:
        """The refusal for `exc`; a bad or missing token is marked to be replaced on the 403."""
        if exc.reason.startswith(("cookie", "token")):
            values = self.cookie_values(request)
            binding = self.binding(request)
            if len(values) != 1 or not self.is_valid(values[0], binding):
                request.state.csrf_token = self.new_token(binding)
        return Refusal(exc, "csrf-check-failed", fields={"reason": exc.reason})


def _pending(request: Request) -> tuple[str | None, Session | None]:
    """The token made during `request` and its loaded session (creates no state)."""
    state = request.current_state
    if state is None:
        return None, None
    return state.csrf_token, state.session


def _is_html(response: Response) -> bool:
    return (response.content_type or "").startswith("text/html")


def session_binding(session: Session | None) -> str:
    """The identity a token is bound to: persisted session id, session secret, or anonymous."""
    if session is None:
        return ANONYMOUS
    if session.session_id is not None:
        return session.loaded_id or ANONYMOUS
    secret = session.data.get(SESSION_SECRET_KEY) if session.data else None
    return secret if type(secret) is str and secret else ANONYMOUS


async def _form_token(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().lstrip().startswith(_FORM_TYPES):
        raise CSRFFailed("token-missing")
    try:
        form = await request.form()
    except HTTPException as exc:
        if exc.status_code == 415:  # a form type the parser does not read (yet)
            raise CSRFFailed("token-missing") from None
        raise
    values = form.getlist(FORM_FIELD)
    if len(values) != 1:
        raise CSRFFailed("token-missing" if not values else "token-duplicate")
    return str(values[0])


def mask_token(token: str) -> str:
    """Return `token` masked with a fresh random pad (``m1.<base64url(pad + token ^ pad)>``).

    # SECURITY: BREACH. A compressed page that holds the same secret on every response lets
    # an attacker who injects text guess it byte by byte from the response sizes; masked per
    # response (as Django does), the rendered value never repeats. `unmask_token` undoes it.
    """
    raw = token.encode("ascii")
    pad = os.urandom(len(raw))
    masked = bytes(a ^ b for a, b in zip(raw, pad, strict=True))
    return "m1." + base64.urlsafe_b64encode(pad + masked).rstrip(b"=").decode("ascii")


def unmask_token(value: str) -> str:
    """The token inside a masked value; any other value is returned as it is."""
    if not value.startswith("m1.") or len(value) > _MAX_MASKED:
        return value
    encoded = value[3:]
    try:
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, TypeError):
        return value
    half = len(data) // 2
    if not data or len(data) % 2:
        return value
    plain = bytes(a ^ b for a, b in zip(data[:half], data[half:], strict=True))
    return plain.decode("latin-1")


def csrf_token() -> str:
    """Return the current request's CSRF token, issuing one (set on the response) if needed.

    Put it in forms as the ``csrf_token`` field, or hand it to scripts for the
    ``X-CSRF-Token`` header. The value is masked afresh on every call (BREACH: see
    `mask_token`), so it differs from the cookie and from call to call; every masked value
    passes the check.

    Raises:
        RuntimeError: Called outside a request, or with ``CSRF_ENABLED`` off.
    """
    request = find_request()
    if request is None:
        raise RuntimeError("csrf_token() needs an active request; call it inside a handler.")
    protection = getattr(request.app, "csrf", None)
    if not isinstance(protection, CSRFProtection):
        raise RuntimeError("csrf_token() needs CSRF_ENABLED=True.")
    return mask_token(protection.token_for(request))


async def token_for_scope(app: Any, scope: dict[str, Any]) -> tuple[str, str, str]:
    """Make a token for the client described by an HTTP `scope` (the test client's helper).

    The session the scope's cookies name is loaded to find the binding, as the check will.

    Returns:
        The cookie name for the scope's scheme, the token, and the header name to echo it in.

    Raises:
        RuntimeError: `app` is not a Flasgo app with ``CSRF_ENABLED`` on.
    """
    from flasgo.request import Request

    freeze = getattr(app, "freeze", None)
    if freeze is None:
        raise RuntimeError("The CSRF helper needs a Flasgo app.")
    freeze()
    protection: CSRFProtection | None = app.csrf
    if protection is None:
        raise RuntimeError("The CSRF helper needs CSRF_ENABLED=True.")

    async def no_body() -> dict[str, Any]:  # pragma: no cover - nothing reads a body here
        return {"type": "http.request", "body": b"", "more_body": False}

    request = Request(scope, no_body, app)
    if app.sessions.has_cookie(request):
        request.state.session = await app.sessions.load(request)
    token = protection.new_token(session_binding(request.state.session))
    header: str = app.settings.CSRF_HEADER_NAME
    return protection.cookie_name(request), token, header
