"""CORS: `CORSConfig` (validated once) and the per-route `CORSPolicy` the compiler turns it into.

Configured app-wide (``Flasgo(cors=...)``), per blueprint (``Blueprint(cors=...)``) or per
route (``cors=CORSConfig(...)`` or ``cors=False``); the innermost wins. A route without CORS
gets no step and no hook: it pays nothing.

Preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered
before the route's other steps, before 404/405 and without app code: 204 with the allowed
origin, the requested method and headers, ``Max-Age`` and ``Vary``, no cookies. An origin,
method or header not allowed is 403 (``cors-preflight-denied``); a malformed preflight
(repeated or invalid ``Origin``, a method that is not a token) is 400 (``cors-preflight-invalid``).
Other responses of the route, errors included, get ``Access-Control-Allow-Origin`` when the
origin and method are allowed, and always ``Vary: Origin``.

CORS says which other sites may *read* responses; it is independent of CSRF, which decides
which requests may *change* state: a CORS-allowed origin is not a CSRF-trusted one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from flasgo.exceptions import BadRequest, ConfigurationError, Forbidden
from flasgo.origin import InvalidHostError, Origin, parse_origin
from flasgo.response import Response
from flasgo.security.refusal import Refusal

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = ["CORSConfig", "CORSPolicy"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Request headers a browser may always send cross-origin (the Fetch standard's safelist).
_SAFELISTED: Final = frozenset({"accept", "accept-language", "content-language", "content-type"})
_PREFLIGHT_VARY: Final = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
_MAX_AGE_LIMIT: Final = 86400
_DENIED = "CORS preflight refused: the origin, method or headers are not allowed for this route."
_INVALID = "Malformed CORS preflight request."


def _tokens(values: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(values, str):
        raise ConfigurationError(f"CORSConfig {what} must be a list of names, not a string.")
    result = set()
    given: Iterable[object] = values  # NOTE: user input, checked at runtime
    for value in given:
        if not isinstance(value, str) or not _TOKEN.fullmatch(value):
            raise ConfigurationError(f"CORSConfig {what} entry {value!r} is not a valid name.")
        if value == "*":
            raise ConfigurationError(
                f"CORSConfig {what} must list names; '*' is not supported (name each one)."
            )
        result.add(value)
    return frozenset(result)


@dataclass(frozen=True, slots=True)
class CORSConfig:
    """Which other origins may read a route's responses, validated when built.

    Args:
        allow_origins: Exact origins (``"https://app.example"``), or ``["*"]`` alone for any.
        allow_methods: Methods cross-origin requests may use.
        allow_headers: Request headers they may send (the safelisted ones always pass).
        expose_headers: Response headers their scripts may read (not ``Set-Cookie``).
        allow_credentials: Let them send cookies; never with ``"*"``.
        max_age: Seconds a browser may cache a preflight answer, 0-86400.

    Raises:
        ConfigurationError: An entry is invalid, ``"*"`` is combined with credentials or
            other origins, or max_age is out of range.
    """

    allow_origins: Iterable[str]
    allow_methods: Iterable[str] = ("GET", "HEAD")
    allow_headers: Iterable[str] = ()
    expose_headers: Iterable[str] = ()
    allow_credentials: bool = False
    max_age: int = 600
    origins: frozenset[Origin] = field(init=False, repr=False)
    any_origin: bool = field(init=False, repr=False)
    methods: frozenset[str] = field(init=False, repr=False)
    headers: frozenset[str] = field(init=False, repr=False)
    exposed: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        given = self.allow_origins
        if isinstance(given, str):
            raise ConfigurationError("CORSConfig allow_origins must be a list of origins.")
        entries = list(given)
        any_origin = entries == ["*"]
        if "*" in entries and not any_origin:
            raise ConfigurationError("CORSConfig allow_origins: '*' must be the only entry.")
        if any_origin and self.allow_credentials:
            raise ConfigurationError(
                "CORSConfig cannot allow credentials for every origin ('*'); list the origins."
            )
        origins = set()
        checked: list[object] = [] if any_origin else list(entries)
        for entry in checked:
            if not isinstance(entry, str) or not entry.isascii():
                raise ConfigurationError(f"CORSConfig origin {entry!r} must be ASCII text.")
            try:
                origin = parse_origin(entry, config=True)
            except InvalidHostError as exc:
                raise ConfigurationError(
                    f"CORSConfig origin {entry!r} {exc.problem}; write it as "
                    "'https://app.example' (scheme, host, optional port)."
                ) from None
            if origin.scheme not in ("http", "https"):
                raise ConfigurationError(f"CORSConfig origin {entry!r} must be http or https.")
            origins.add(origin)
        if type(self.max_age) is not int or not 0 <= self.max_age <= _MAX_AGE_LIMIT:
            raise ConfigurationError(f"CORSConfig max_age must be an int in 0-{_MAX_AGE_LIMIT}.")
        if type(self.allow_credentials) is not bool:
            raise ConfigurationError("CORSConfig allow_credentials must be True or False.")
        exposed = _tokens(self.expose_headers, "expose_headers")
        if any(name.lower() in ("set-cookie", "set-cookie2") for name in exposed):
            raise ConfigurationError("CORSConfig expose_headers must not expose Set-Cookie.")
        methods = frozenset(m.upper() for m in _tokens(self.allow_methods, "allow_methods"))
        headers = frozenset(h.lower() for h in _tokens(self.allow_headers, "allow_headers"))
        object.__setattr__(self, "origins", frozenset(origins))
        object.__setattr__(self, "any_origin", any_origin)
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "exposed", exposed)


class CORSPolicy:
    """A `CORSConfig` compiled for serving: preflight answers and response headers."""

    __slots__ = ("_allow_methods", "_expose", "_max_age", "config")

    def __init__(self, config: CORSConfig) -> None:
        self.config = config
        self._allow_methods = ", ".join(sorted(config.methods))
        self._expose = ", ".join(sorted(config.exposed))
        self._max_age = str(config.max_age)

    def _allowed_origin(self, value: str) -> str | None:
        """The Access-Control-Allow-Origin value for request origin `value`, or None."""
        if self.config.any_origin:
            return "*"
        try:
            origin = parse_origin(value)
        except InvalidHostError:
            return None
        return value if origin in self.config.origins else None

    def preflight(self, request: Request) -> Response | Refusal | None:
        """Answer `request` when it is a preflight; None when it is not one."""
        origins: list[bytes] = []
        methods: list[bytes] = []
        headers: list[bytes] = []
        for name, value in request.scope["headers"]:
            if name == b"origin":
                origins.append(value)
            elif name == b"access-control-request-method":
                methods.append(value)
            elif name == b"access-control-request-headers":
                headers.append(value)
        if not origins or not methods:
            return None
        if len(origins) != 1 or len(methods) != 1:
            return Refusal(BadRequest(_INVALID), "cors-preflight-invalid", counted=False)
        origin = origins[0].decode("latin-1")
        method = methods[0].decode("latin-1").strip()
        if not _TOKEN.fullmatch(method):
            return Refusal(BadRequest(_INVALID), "cors-preflight-invalid", counted=False)
        requested = [
            item.strip().lower()
            for value in headers
            for item in value.decode("latin-1").split(",")
            if item.strip()
        ]
        if any(not _TOKEN.fullmatch(item) for item in requested) or len(requested) > 64:
            return Refusal(BadRequest(_INVALID), "cors-preflight-invalid", counted=False)
        allowed_origin = self._allowed_origin(origin)
        config = self.config
        if (
            allowed_origin is None
            or method not in config.methods
            or any(item not in config.headers and item not in _SAFELISTED for item in requested)
        ):
            return Refusal(Forbidden(_DENIED), "cors-preflight-denied", counted=False)
        answer = {
            "access-control-allow-origin": allowed_origin,
            "access-control-allow-methods": method,
            "access-control-max-age": self._max_age,
            "vary": _PREFLIGHT_VARY,
        }
        if requested:
            answer["access-control-allow-headers"] = ", ".join(requested)
        if config.allow_credentials:
            answer["access-control-allow-credentials"] = "true"
        return Response(b"", 204, answer)

    def apply(self, request: Request, response: Response) -> Response:
        """Add the CORS headers an actual (non-preflight) response needs."""
        headers = response.headers
        if "access-control-allow-origin" in headers:  # a preflight answer, or the app's own
            return response
        vary = headers.get("vary")
        if vary is None:
            headers["vary"] = "Origin"
        elif "origin" not in {item.strip().lower() for item in vary.split(",")}:
            headers["vary"] = f"{vary}, Origin"
        origins = [value for name, value in request.scope["headers"] if name == b"origin"]
        if len(origins) != 1 or request.method not in self.config.methods:
            return response
        allowed = self._allowed_origin(origins[0].decode("latin-1"))
        if allowed is None:
            return response
        headers["access-control-allow-origin"] = allowed
        if self.config.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        if self._expose:
            headers["access-control-expose-headers"] = self._expose
        return response
