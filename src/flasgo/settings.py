"""Settings: the table of every configuration key, and the validated `Settings` object.

Each key is declared once, as an annotated attribute of `_Keys`: its name, type, default,
validator and description. `SETTINGS` is that table as `Setting` rows (with the environment
variable of each key); validation, the environment reader, ``flasgo check --deploy`` and the
generated reference (`settings_reference`, written to docs/settings.md) all read it. `Settings`
inherits the annotations and stores each key in a slot, so ``app.settings.X`` on the hot path is
a plain attribute read. Values are validated and normalised when they are set; collections are
stored immutable (`frozenset`, `tuple`, a read-only mapping) so that an in-place edit cannot
skip validation.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from flasgo.exceptions import ConfigurationError

__all__ = ["SETTINGS", "Setting", "Settings", "find_setting", "settings_reference"]

EnvKind = Literal["bool", "int", "float", "str", "collection", "dict"]
_Check = Callable[[str, object], object]

_log = logging.getLogger("flasgo.settings")


class Setting(NamedTuple):
    """One row of the settings table (immutable).

    Attributes:
        name: The key, e.g. ``"DEBUG"``; also the attribute of `Settings`.
        type: The stored value's type as annotated, e.g. ``"frozenset[str]"``.
        default: The default in its stored form; None for ``SECRET_KEY`` means "generate one".
        check: The validator: ``check(name, value)`` returns the stored value or raises
            `ConfigurationError`.
        description: What the key does, one or two sentences.
        env: The environment variable that sets it, e.g. ``"FLASGO_DEBUG"``.
        env_kind: How the variable's text is read (``"bool"``, ``"int"``, ``"collection"``...).
        secret: Whether values are kept out of error messages.
    """

    name: str
    type: str
    default: object
    check: _Check
    description: str
    env: str
    env_kind: EnvKind
    secret: bool


# PERF: `Setting` is a NamedTuple rather than a frozen dataclass because building a dataclass
# costs about a millisecond of `import flasgo`; a NamedTuple is as immutable and has no __dict__.


_ENV_PREFIX: Final = "FLASGO_"
_ENV_EXTRA_PREFIX: Final = "EXTRA__"
# NOTE: read by the command line before the app exists; they are not settings.
_CLI_VARIABLES: Final = frozenset({"APP", "HOST", "PORT", "RELOAD", "ENV", "SKIP_DOTENV"})
_INSECURE_SECRET: Final = "dev-insecure-secret-change-this"  # noqa: S105  # refused, not used
_MIN_SECRET_LENGTH: Final = 32
_KEYGEN_ADVICE: Final = (
    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
)
_HSTS_PRELOAD_MIN_SECONDS: Final = 31_536_000
_TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no", "off"})
_LOG_LEVELS: Final = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
_SAME_SITE: Final = {"lax": "Lax", "strict": "Strict", "none": "None"}
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")

# PERF: patterns are compiled on first use (through re's cache) by the validators, not at import:
# `import flasgo` should not pay for them.
_TCHARS: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_HEADER_VALUE: Final = r"[\x20-\x7e]*"
_BEARER_CHARS: Final = r"[A-Za-z0-9._~+/-]+=*"
_SCHEME: Final = r"[a-z][a-z0-9+.-]*"
_PATH: Final = r"/[\x21-\x7e]*"

# Sent with every response. NOTE: no X-XSS-Protection, Pragma or Expires: legacy headers
# that OWASP advises against or that no-store already covers.
_DEFAULT_SECURITY_HEADERS: Final = MappingProxyType(
    {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "strict-origin-when-cross-origin",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    }
)
# Sent with HTML responses too (replacing same-named ones): what only a rendered page needs.
_DEFAULT_PAGE_SECURITY_HEADERS: Final = MappingProxyType(
    {
        "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "cross-origin-opener-policy": "same-origin",
    }
)


def _describe(name: str, value: object) -> str:
    row = _BY_NAME.get(name)
    if row is not None and row.secret:
        return f"a {type(value).__name__}"  # SECURITY: messages end up in logs.
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = "<value>"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _closest(key: str, candidates: Iterable[str]) -> str | None:
    import difflib

    names = list(candidates)
    upper = key.upper()
    if upper in names:
        return upper
    matches = difflib.get_close_matches(upper, names, n=1)
    return matches[0] if matches else None


def _unknown_key(key: str) -> ConfigurationError:
    match = _closest(key, _BY_NAME)
    hint = f" Did you mean {match!r}?" if match else ""
    return ConfigurationError(f"Unknown setting {key!r}.{hint} Put your own keys under EXTRA.")


def _warn_unknown_variable(key: str) -> None:
    # NOTE: the environment is shared with other tools, so a stray FLASGO_* variable is reported,
    # not fatal; its value is never logged (it may be a secret).
    match = _closest(key, [*_BY_NAME, *sorted(_CLI_VARIABLES)])
    hint = f" Did you mean {_ENV_PREFIX}{match}?" if match else ""
    _log.warning(
        "Unknown environment variable %s%s is ignored.%s Put your own keys under %s%s<NAME>.",
        _ENV_PREFIX,
        key,
        hint,
        _ENV_PREFIX,
        _ENV_EXTRA_PREFIX,
    )


def _declare(
    default: object, check: _Check, env_kind: EnvKind, description: str, *, secret: bool = False
) -> Any:
    # NOTE: typed Any, like dataclasses.field, so that `DEBUG: bool = _bool(...)` type-checks;
    # the name, type and variable are filled in from the attribute by `_rows`.
    return Setting("", "", default, check, description, "", env_kind, secret)


# --- scalar keys --------------------------------------------------------------------------------


def _check_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigurationError(f"{name} must be True or False, got {_describe(name, value)}")


def _bool(default: bool, description: str) -> Any:
    return _declare(default, _check_bool, "bool", description)


def _int(
    default: int | None,
    description: str,
    *,
    minimum: int = 1,
    maximum: float = math.inf,
    optional: bool = False,
) -> Any:
    bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    bound = f"an integer from {minimum} to {maximum}" if maximum < math.inf else bound
    bound += " or None" if optional else ""

    def check(name: str, value: object) -> int | None:
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise ConfigurationError(f"{name} must be {bound}, got {_describe(name, value)}")
        return int(value)

    return _declare(default, check, "int", description)


def _float(
    default: float | None,
    description: str,
    *,
    low: float,
    high: float = math.inf,
    above: bool = False,
    optional: bool = False,
) -> Any:
    bound = f"a number > {low}" if above else f"a number from {low} to {high}"
    bound += " or None" if optional else ""

    def check(name: str, value: object) -> float | None:
        if value is None and optional:
            return None
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = None
        if (
            number is None
            or not math.isfinite(number)
            or not (low < number if above else low <= number)
            or number > high
        ):
            raise ConfigurationError(f"{name} must be {bound}, got {_describe(name, value)}")
        return number

    return _declare(default, check, "float", description)


def _text(
    default: str | None, description: str, *, optional: bool = False, non_empty: bool = False
) -> Any:
    def check(name: str, value: object) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or (non_empty and not value.strip()):
            kind = "a non-empty string" if non_empty else "a string"
            kind += " or None" if optional else ""
            raise ConfigurationError(f"{name} must be {kind}, got {_describe(name, value)}")
        return value

    return _declare(default, check, "str", description)


def _choice(default: str, canonical: Mapping[str, str], description: str) -> Any:
    names = ", ".join(repr(choice) for choice in canonical.values())

    def check(name: str, value: object) -> str:
        if isinstance(value, str) and value.lower() in canonical:
            return canonical[value.lower()]
        raise ConfigurationError(f"{name} must be one of {names}, got {_describe(name, value)}")

    return _declare(default, check, "str", description)


def _string_check(check: Callable[[str, str], str]) -> Callable[[str, object], str]:
    def run(name: str, value: object) -> str:
        if not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got {_describe(name, value)}")
        return check(name, value)

    return run


def _check_secret(name: str, value: str) -> str:
    # SECURITY: the value is never echoed in a message; messages end up in logs.
    if _INSECURE_SECRET in value:
        raise ConfigurationError(f"{name} is the published placeholder key; {_KEYGEN_ADVICE}")
    if len(value) < _MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{name} must be at least {_MIN_SECRET_LENGTH} characters, got {len(value)}; "
            f"{_KEYGEN_ADVICE}"
        )
    return value


def _check_secret_key(name: str, value: object) -> str:
    if value is None:
        return secrets.token_urlsafe(48)
    return _secret_string(name, value)


_secret_string = _string_check(_check_secret)


def _check_cookie_name(name: str, value: str) -> str:
    if not re.fullmatch(_TCHARS, value):
        raise ConfigurationError(
            f"{name} must be a cookie name made of letters, digits and !#$%&'*+-.^_`|~ "
            f"(an RFC 6265 token), got {value!r}"
        )
    return value


def _check_header_name(name: str, value: str) -> str:
    if not re.fullmatch(_TCHARS, value):
        raise ConfigurationError(
            f"{name} must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), "
            f"got {value!r}"
        )
    return value.lower()


def _check_path(name: str, value: str) -> str:
    if not re.fullmatch(_PATH, value) or "?" in value or "#" in value:
        raise ConfigurationError(
            f"{name} must be a URL path starting with '/' without spaces, query or fragment, "
            f"got {value!r}"
        )
    return value


def _check_bearer_token(name: str, value: str) -> str:
    if len(value) < _MIN_SECRET_LENGTH or not re.fullmatch(_BEARER_CHARS, value):
        raise ConfigurationError(
            f"{name} must be at least {_MIN_SECRET_LENGTH} characters of A-Z a-z 0-9 . _ ~ + / - "
            f"(optionally ending in '='); {_KEYGEN_ADVICE}"
        )
    return value


def _check_redis_url(name: str, value: str) -> str:
    if not value.startswith(_REDIS_SCHEMES) or _has_space(value):
        scheme = value.partition("://")[0] + "://" if "://" in value else "no scheme"
        raise ConfigurationError(
            f"{name} must start with redis://, rediss:// or unix:// and contain no spaces, "
            f"got {scheme!r}"
        )
    return value


def _has_space(value: str) -> bool:
    return not value.isprintable() or any(char.isspace() for char in value)


# --- hosts, origins, networks -------------------------------------------------------------------


_HostForm = Literal["host", "trusted-origin", "origin", "outbound-host"]
_HOST_HINT = (
    "list bare host names such as 'example.com', '.example.com' (its subdomains), "
    "'192.0.2.1' or '[2001:db8::1]'"
)


def _parse_host_entry(name: str, entry: str, form: _HostForm) -> str:
    """Validate one host or origin entry of the key `name` and return it normalised.

    The table's host and origin keys (ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS,
    WEBSOCKET_ALLOWED_ORIGINS, SSRF_ALLOWED_HOSTS) are parsed by `flasgo.origin`, the
    parser the request-time checks use, so a value is read the same way in both places.
    """
    from flasgo.origin import (
        InvalidHostError,
        parse_host_pattern,
        parse_origin,
        parse_origin_pattern,
    )

    try:
        if form == "origin":
            return str(parse_origin(entry, config=True))
        if form == "trusted-origin" and "://" in entry:
            return str(parse_origin_pattern(entry))
        if form == "outbound-host" and entry == "*":
            return entry
        if form == "outbound-host" and entry.startswith("*."):
            return "*." + str(parse_host_pattern(entry[2:]))
        return str(parse_host_pattern(entry))
    except InvalidHostError as exc:
        if exc.reason == "wildcard" and form == "origin":
            raise ConfigurationError(
                f"{name} entry {entry!r} must be an exact origin without '*', "
                f"such as 'https://app.example.com'"
            ) from None
        if exc.reason == "wildcard":
            raise ConfigurationError(
                f"{name} must not contain '*'; list the host names this app answers to "
                f"(write '.example.com' to allow every subdomain of example.com)"
            ) from None
        hint = "" if "://" in entry else f"; {_HOST_HINT}"
        raise ConfigurationError(f"{name} entry {entry!r} {exc.problem}{hint}") from None


def _hosts(form: _HostForm) -> Callable[[str, str], str]:
    def entry(name: str, value: str) -> str:
        return _parse_host_entry(name, value, form)

    return entry


def _check_proxy(name: str, entry: str) -> str:
    import ipaddress

    try:
        if "/" in entry:
            return ipaddress.ip_network(entry).compressed
        return ipaddress.ip_address(entry).compressed
    except ValueError as exc:
        raise ConfigurationError(
            f"{name} entry {entry!r} is not an IP address or CIDR network ({exc}); "
            f"write e.g. '10.0.0.1', '10.0.0.0/8' or '2001:db8::/32'"
        ) from exc


def _check_scheme(name: str, entry: str) -> str:
    if not re.fullmatch(_SCHEME, entry.lower()):
        raise ConfigurationError(f"{name} entry {entry!r} is not a URL scheme such as 'https'")
    return entry.lower()


def _check_non_empty(name: str, entry: str) -> str:
    if not entry.strip():
        raise ConfigurationError(f"{name} entries must be non-empty strings")
    return entry


# --- collections --------------------------------------------------------------------------------


def _strings(name: str, value: object) -> list[str]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"{name} must be a collection of strings such as ['a', 'b'], "
            f"got {_describe(name, value)}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(f"{name} entries must be strings, got {_describe(name, item)}")
    return items


def _set(
    default: Iterable[str],
    entry: Callable[[str, str], str],
    description: str,
    *,
    non_empty: bool = False,
) -> Any:
    def check(name: str, value: object) -> frozenset[str]:
        result = frozenset(entry(name, item) for item in _strings(name, value))
        if non_empty and not result:
            raise ConfigurationError(f"{name} must not be empty")
        return result

    return _declare(frozenset(default), check, "collection", description)


def _list(entry: Callable[[str, str], str], description: str, *, secret: bool = False) -> Any:
    def check(name: str, value: object) -> tuple[str, ...]:
        return tuple(entry(name, item) for item in _strings(name, value))

    return _declare((), check, "collection", description, secret=secret)


def _string_keys(name: str, value: object) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{name} must be a mapping, got {_describe(name, value)}")
    result = dict(value)
    for key in result:
        if not isinstance(key, str):
            raise ConfigurationError(f"{name} keys must be strings, got {_describe(name, key)}")
    return result


def _check_extra(name: str, value: object) -> dict[str, object]:
    return _string_keys(name, value)


def _check_security_headers(name: str, value: object) -> Mapping[str, str]:
    headers: dict[str, str] = {}
    for key, header_value in _string_keys(name, value).items():
        header = _check_header_name(f"{name} key", key)
        if header == "strict-transport-security":
            raise ConfigurationError(
                f"{name} must not set strict-transport-security; configure it with HSTS_SECONDS "
                f"(0 disables), HSTS_INCLUDE_SUBDOMAINS and HSTS_PRELOAD"
            )
        if header in headers:
            raise ConfigurationError(f"{name} sets {header!r} twice (names are case-insensitive)")
        if not isinstance(header_value, str) or not re.fullmatch(_HEADER_VALUE, header_value):
            raise ConfigurationError(
                f"{name}[{key!r}] must be printable ASCII without CR, LF or NUL, "
                f"got {_describe(name, header_value)}"
            )
        headers[header] = header_value
    return MappingProxyType(headers)


def _field(default: str, check: Callable[[str, str], str], description: str) -> Any:
    return _declare(default, _string_check(check), "str", description)


def _optional_field(
    check: Callable[[str, str], str], description: str, *, secret: bool = False
) -> Any:
    strict = _string_check(check)

    def run(name: str, value: object) -> object:
        return None if value is None else strict(name, value)

    return _declare(None, run, "str", description, secret=secret)


# --- the table ----------------------------------------------------------------------------------


class _Keys:
    """Every key, declared once, in documentation order: ``NAME: type = helper(default, ...)``.

    The annotation is the stored type, the helper picks the validator and how the environment
    variable is read, and the last text is the description. `Settings` inherits the annotations;
    `SETTINGS` holds the rows.
    """

    __slots__ = ()

    # Core
    DEBUG: bool = _bool(
        False,
        "Debug mode: error pages show tracebacks, and `flasgo run` / `app.run()` reload on code "
        "changes unless told otherwise. Never in production.",
    )
    SECRET_KEY: str = _declare(
        None,
        _check_secret_key,
        "str",
        "The key that signs sessions and CSRF tokens; at least 32 characters. None generates a "
        "random key per process: sessions then end on restart and cannot span workers.",
        secret=True,
    )
    SECRET_KEY_FALLBACKS: tuple[str, ...] = _list(
        _check_secret,
        "Older keys still accepted when verifying signatures, so SECRET_KEY can be rotated "
        "without logging everyone out; new signatures always use SECRET_KEY.",
        secret=True,
    )

    # Hosts and proxies
    ALLOWED_HOSTS: frozenset[str] = _set(
        {"localhost", "127.0.0.1", "[::1]"},
        _hosts("host"),
        "Host names this app answers to; a request for another Host gets 400. "
        "'.example.com' also allows every subdomain; '*' is refused.",
    )
    ENFORCE_ALLOWED_HOSTS: bool = _bool(True, "Check the Host header against ALLOWED_HOSTS.")
    TRUSTED_PROXIES: frozenset[str] = _set(
        (),
        _check_proxy,
        "Addresses or CIDR networks of the reverse proxies whose Forwarded and X-Forwarded-* "
        "headers are believed; from any other peer those headers are ignored.",
    )

    # CSRF
    CSRF_ENABLED: bool = _bool(
        True,
        "CSRF protection for every method but GET, HEAD, OPTIONS and TRACE; exempt single "
        "routes rather than turning it off.",
    )
    CSRF_COOKIE_NAME: str = _field(
        "flasgo-csrf", _check_cookie_name, "Name of the cookie that holds the CSRF token."
    )
    CSRF_HEADER_NAME: str = _field(
        "x-csrf-token",
        _check_header_name,
        "Request header that carries the CSRF token back (stored lower-case).",
    )
    CSRF_TRUSTED_ORIGINS: frozenset[str] = _set(
        (),
        _hosts("trusted-origin"),
        "Other origins allowed to send unsafe requests: 'https://app.example.com', "
        "'https://*.example.com', a bare host or '.example.com'.",
    )
    CSRF_CHECK_ORIGIN: bool = _bool(
        True,
        "Compare the Origin (or Referer) of unsafe requests with the app's own origin and "
        "CSRF_TRUSTED_ORIGINS.",
    )
    CSRF_REQUIRE_ORIGIN: bool = _bool(
        True, "Refuse unsafe requests that carry neither an Origin nor a Referer header."
    )
    CSRF_COOKIE_SECURE: bool = _bool(True, "Send the CSRF cookie over HTTPS only.")

    # Sessions
    SESSION_COOKIE_NAME: str = _field(
        "flasgo-session", _check_cookie_name, "Name of the session cookie."
    )
    SESSION_COOKIE_MAX_AGE: int = _int(
        604_800, "Lifetime of the session cookie in seconds (seven days)."
    )
    SESSION_COOKIE_SECURE: bool = _bool(
        True, "Send the session cookie over HTTPS only; SameSite=None requires it."
    )
    SESSION_COOKIE_HTTP_ONLY: bool = _bool(True, "Hide the session cookie from JavaScript.")
    SESSION_COOKIE_SAME_SITE: Literal["Lax", "Strict", "None"] = _choice(
        "Lax",
        _SAME_SITE,
        "SameSite attribute of the session cookie: 'Lax', 'Strict' or 'None' (any case).",
    )
    SESSION_REFRESH_EACH_REQUEST: bool = _bool(
        False,
        "Write the session cookie on every request that has a session, renewing its expiry, "
        "not only when the session changed.",
    )
    REDIS_URL: str | None = _optional_field(
        _check_redis_url,
        "Redis server (redis://, rediss:// or unix://) for server-side sessions, rate limits "
        "and the security-failure throttle; None keeps them in process memory.",
        secret=True,
    )
    REDIS_TIMEOUT_SECONDS: float = _float(
        2.0,
        "Seconds one Redis call (sessions, rate limits, throttle, cache) may take before the "
        "feature treats Redis as unreachable (see each feature's failure mode).",
        low=0,
        above=True,
    )
    ENFORCE_NO_STORE_CACHE: bool = _bool(
        True, "Send Cache-Control: no-store on responses that set no caching of their own."
    )

    # Request limits
    MAX_REQUEST_BODY_BYTES: int = _int(
        1_048_576, "Largest request body in bytes, counted as it arrives (413)."
    )
    MAX_REQUEST_HEAD_BYTES: int = _int(
        16_384, "Largest request head (request line and headers) in bytes (431)."
    )
    MAX_REQUEST_HEADERS: int = _int(100, "Most request headers (431).")
    MAX_URL_LENGTH: int = _int(8192, "Longest request URL (414).")
    REQUEST_READ_TIMEOUT_SECONDS: float = _float(
        10.0, "Time allowed to receive the whole request body, in seconds (408).", low=0, above=True
    )
    MAX_MULTIPART_PARTS: int = _int(1000, "Most parts in a multipart/form-data body (413).")
    MAX_FILE_UPLOADS: int = _int(100, "Most uploaded files in one multipart body (413).")
    MAX_FORM_FIELDS: int = _int(
        1000, "Most fields in a query string or a form body, HTTP and WebSocket (413)."
    )
    MAX_FORM_MEMORY_BYTES: int = _int(
        1_048_576, "Largest form field that is not a file, held in memory, in bytes (413)."
    )
    MAX_JSON_DEPTH: int = _int(
        64, "Deepest nesting accepted in a JSON body or WebSocket message (400)."
    )
    MAX_VALIDATION_DEPTH: int = _int(
        64, "Deepest nesting the body validator walks. Reserved: not read by this version."
    )
    MAX_VALIDATION_WORK: int = _int(
        10_000,
        "Most values validated in one request body, which bounds the cost of a hostile payload.",
    )
    MAX_VALIDATION_ISSUES: int = _int(
        100, "Most validation issues listed in one 422 response (at least 2).", minimum=2
    )

    # Routing, threads and the security-failure throttle
    REDIRECT_TRAILING_SLASH: bool = _bool(
        False,
        "Answer a path that differs from a route only by its trailing slash with a 308 redirect "
        "instead of 404.",
    )
    THREAD_POOL_SIZE: int = _int(40, "Threads that run synchronous handlers.")
    SECURITY_FAILURE_RATE_LIMIT: int = _int(
        50,
        "Security refusals (bad Host, CSRF, authentication) one client may cause per window "
        "before it gets 429; 0 turns the throttle off.",
        minimum=0,
    )
    SECURITY_FAILURE_WINDOW_SECONDS: int = _int(
        60, "Length of the throttle's counting window in seconds."
    )
    CLIENT_IPV6_PREFIX: int = _int(
        64,
        "Leading bits of an IPv6 address that name one client for rate limits and the "
        "throttle: one host commonly holds a whole /64. 128 counts each address.",
        maximum=128,
    )

    # Logging
    LOG_SECURITY_EVENTS: bool = _bool(True, "Log refused requests on the flasgo.security logger.")
    TRUST_INCOMING_REQUEST_ID: bool = _bool(
        False,
        "Reuse a well-formed X-Request-ID sent by the client instead of generating one; only "
        "behind a proxy that sets the header itself.",
    )
    LOG_FORMAT: Literal["text", "json"] = _choice(
        "text",
        {"text": "text", "json": "json"},
        "Format of the flasgo loggers' lines under `flasgo run`, 'text' or 'json'.",
    )
    LOG_LEVEL: str = _choice(
        "INFO",
        {level.lower(): level for level in _LOG_LEVELS},
        "Level of the flasgo loggers under `flasgo run`: a logging level name (any case).",
    )

    # WebSockets
    WEBSOCKET_ENFORCE_ORIGIN: bool = _bool(
        True,
        "Refuse WebSocket handshakes (403) whose Origin is neither the app's own nor in "
        "WEBSOCKET_ALLOWED_ORIGINS.",
    )
    WEBSOCKET_ALLOWED_ORIGINS: frozenset[str] = _set(
        (),
        _hosts("origin"),
        "Exact origins such as 'https://app.example.com' that may open WebSockets.",
    )
    WEBSOCKET_ALLOW_MISSING_ORIGIN: bool = _bool(
        False,
        "Accept WebSocket handshakes without an Origin header (clients that are not browsers).",
    )
    WEBSOCKET_MAX_MESSAGE_BYTES: int = _int(
        65_536, "Largest WebSocket message in bytes; also the server's frame size limit."
    )
    WEBSOCKET_MAX_MESSAGES_PER_MINUTE: int = _int(
        120,
        "Messages one WebSocket connection may send per minute, sustained; above it the "
        "connection is closed with 1008.",
    )
    WEBSOCKET_MESSAGE_BURST: int = _int(
        30,
        "Messages one WebSocket connection may send at once before "
        "WEBSOCKET_MAX_MESSAGES_PER_MINUTE applies (a token bucket of this size).",
    )
    WEBSOCKET_HANDSHAKE_TIMEOUT: float = _float(
        10.0,
        "Seconds a WebSocket handler has, from the handshake, to accept or deny it (the "
        "session and auth backend included); then the handshake is refused with 408.",
        low=0,
        above=True,
    )
    WEBSOCKET_SEND_QUEUE_SIZE: int = _int(
        64,
        "Room messages one WebSocket connection may have waiting to be sent; a client that "
        "falls further behind is dropped with close 1013.",
    )
    WEBSOCKET_SEND_TIMEOUT: float = _float(
        5.0,
        "Seconds one room message may take to send to a client before it is dropped with "
        "close 1013.",
        low=0,
        above=True,
    )
    WEBSOCKET_IDLE_TIMEOUT: float = _float(
        0.0,
        "Seconds a WebSocket receive waits for the peer before closing with 1001; 0 waits "
        "forever (the server's ping/pong keepalive still drops dead peers).",
        low=0,
    )

    # Serving
    SERVER_LIMIT_CONCURRENCY: int = _int(
        1000,
        "Most connections the server handles at once before answering 503 (uvicorn's "
        "limit_concurrency, granian's backpressure).",
    )
    WORKERS: int | None = _int(
        None,
        "Worker processes for `flasgo run` and `app.run()` when --workers / workers= is not "
        "given; None uses WEB_CONCURRENCY, else one. Several workers need a configured "
        "SECRET_KEY.",
        optional=True,
    )

    # Background tasks
    TASKS_BACKEND: Literal["auto", "sqlite", "redis"] = _choice(
        "auto",
        {"auto": "auto", "sqlite": "sqlite", "redis": "redis"},
        "Where durable tasks live: 'sqlite' (the TASKS_DATABASE file, one machine), 'redis' "
        "(Redis Streams at REDIS_URL, many machines) or 'auto' (redis when REDIS_URL is set).",
    )
    TASKS_DATABASE: str = _text(
        "flasgo-tasks.sqlite3",
        "SQLite file of the durable task queue (@app.task), created on first use; relative "
        "paths are from the working directory. Every web and worker process must see the "
        "same file.",
        non_empty=True,
    )
    TASKS_CONCURRENCY: int = _int(
        4, "Tasks of one queue that one `flasgo worker` process runs at once."
    )
    TASKS_LEASE_SECONDS: float = _float(
        30.0,
        "Seconds a worker holds a task before another may take it; renewed every third of "
        "that while the task runs, so a task of a dead worker runs again after at most this.",
        low=0,
        above=True,
    )
    TASKS_DRAIN_SECONDS: float = _float(
        10.0,
        "Seconds in-flight tasks get to finish when a worker stops; the rest are handed back.",
        low=0,
    )
    TASKS_IN_PROCESS_WORKER: bool = _bool(
        False,
        "Run a task worker inside the app process between lifespan startup and shutdown "
        "(for development and single-process deployments).",
    )

    # Cache
    CACHE_MAX_ENTRIES: int = _int(
        10_000, "Most entries app.cache keeps in process memory (least recently used out)."
    )
    CACHE_DEFAULT_TTL_SECONDS: float = _float(
        300.0, "Lifetime of a cache entry set without a ttl, in seconds.", low=0, above=True
    )
    CACHE_L1_TTL_SECONDS: float = _float(
        5.0,
        "With REDIS_URL, the longest an entry stays in a process's memory before it is read "
        "from Redis again: how long another process's invalidation may take to be seen.",
        low=0,
        above=True,
    )

    # Operations: health endpoints, graceful shutdown, access log
    HEALTH_ENABLED: bool = _bool(
        False,
        "Serve GET /healthz (liveness: 200 while the process serves) and GET /readyz "
        "(readiness: 200 when every readiness check passes, else 503).",
    )
    HEALTH_CHECK_TIMEOUT_SECONDS: float = _float(
        2.0,
        "Time one readiness check may take before it counts as failed (503 from /readyz).",
        low=0,
        high=300.0,
        above=True,
    )
    SHUTDOWN_TIMEOUT_SECONDS: int = _int(
        10,
        "On SIGTERM the server stops accepting connections and gives in-flight requests "
        "(streams and after-response tasks included) this many seconds to finish.",
    )
    ACCESS_LOG: str = _choice(
        "auto",
        {"auto": "auto", "on": "on", "off": "off"},
        "One line per request on the flasgo.access logger: 'on', 'off', or 'auto' (on when "
        "DEBUG is true; `flasgo run` sets FLASGO_ACCESS_LOG=on unless it is set).",
    )

    # Metrics and tracing
    METRICS_ENABLED: bool = _bool(
        False,
        "Serve Prometheus metrics at METRICS_PATH to requests bearing METRICS_BEARER_TOKEN "
        "(the metrics extra).",
    )
    METRICS_PATH: str = _field("/metrics", _check_path, "URL path of the metrics endpoint.")
    METRICS_BEARER_TOKEN: str | None = _optional_field(
        _check_bearer_token,
        "Bearer token the metrics endpoint requires; at least 32 characters.",
        secret=True,
    )
    METRICS_EVENT_LOOP_ENABLED: bool = _bool(
        True, "Sample event-loop lag into flasgo_event_loop_lag_seconds while metrics are on."
    )
    METRICS_EVENT_LOOP_INTERVAL_SECONDS: float = _float(
        0.1,
        "Event-loop lag sampling interval in seconds.",
        low=0.01,
        high=60.0,
    )

    OTEL_ENABLED: bool = _bool(
        False,
        "Trace requests with OpenTelemetry (the otel extra): one span per request named "
        "'METHOD /route/<template>', query values redacted.",
    )
    OTEL_SERVICE_NAME: str = _text("flasgo", "service.name of the traces.", non_empty=True)
    OTEL_SERVICE_VERSION: str | None = _text(None, "service.version of the traces.", optional=True)
    OTEL_TRACE_SAMPLE_RATIO: float = _float(
        1.0, "Share of requests traced, from 0 to 1.", low=0.0, high=1.0
    )
    OTEL_EXCLUDED_PATHS: frozenset[str] = _set((), _check_path, "URL paths never traced.")
    OTEL_SET_GLOBAL_PROVIDER: bool = _bool(
        True, "Install the tracer provider as OpenTelemetry's global one."
    )

    # API docs and OpenAPI
    ENABLE_DOCS: bool = _bool(
        False, "Serve the API docs page at DOCS_PATH and the OpenAPI document at OPENAPI_PATH."
    )
    DOCS_AUTH_BACKEND: str | None = _text(
        None,
        "Name of the auth backend that must authenticate requests for the docs and the OpenAPI "
        "document; None leaves them public when ENABLE_DOCS is on.",
        optional=True,
        non_empty=True,
    )
    DOCS_PATH: str = _field("/docs", _check_path, "URL path of the API docs page.")
    OPENAPI_PATH: str = _field("/openapi.json", _check_path, "URL path of the OpenAPI document.")
    API_TITLE: str = _text("Flasgo API", "info.title of the OpenAPI document.")
    API_VERSION: str | None = _text(
        None,
        "info.version of the OpenAPI document; None uses the version of the installed package "
        "that holds the app's code, else 0.1.0.",
        optional=True,
        non_empty=True,
    )
    API_DESCRIPTION: str = _text("", "info.description of the OpenAPI document.")
    API_SERVERS: tuple[str, ...] = _list(
        _check_non_empty, "Server URLs listed in the OpenAPI document."
    )

    # Outbound requests (SSRF guard)
    SSRF_ENABLED: bool = _bool(True, "Check the URLs given to the outbound (SSRF-guarded) helpers.")
    SSRF_ALLOWED_SCHEMES: frozenset[str] = _set(
        {"http", "https"},
        _check_scheme,
        "URL schemes outbound requests may use; must not be empty.",
        non_empty=True,
    )
    SSRF_ALLOWED_HOSTS: frozenset[str] = _set(
        (),
        _hosts("outbound-host"),
        "Hosts outbound requests may reach: exact names, '.example.com' (with its subdomains), "
        "'*.example.com' or '*'; empty allows any public host.",
    )
    SSRF_ALLOW_PRIVATE_NETWORKS: bool = _bool(
        False, "Let outbound requests reach private, loopback and link-local addresses."
    )
    SSRF_ALLOW_USERINFO: bool = _bool(False, "Accept user:password@ in outbound URLs.")
    SSRF_ALLOW_UNRESOLVABLE_HOSTS: bool = _bool(
        False, "Accept outbound host names that do not resolve, where the guard resolves them."
    )
    SSRF_RESOLUTION_TIMEOUT_SECONDS: float | None = _float(
        5.0,
        "Time allowed to resolve an outbound host, in seconds; None waits as long as the "
        "resolver does.",
        low=0,
        above=True,
        optional=True,
    )

    # Response headers
    SECURITY_HEADERS: Mapping[str, str] = _declare(
        _DEFAULT_SECURITY_HEADERS,
        _check_security_headers,
        "dict",
        "Headers added to every response, errors included; a new mapping replaces the whole "
        "default. Strict-Transport-Security has its own keys.",
    )
    PAGE_SECURITY_HEADERS: Mapping[str, str] = _declare(
        _DEFAULT_PAGE_SECURITY_HEADERS,
        _check_security_headers,
        "dict",
        "Headers added to HTML responses on top of SECURITY_HEADERS (replacing same-named "
        "ones): the page's CSP, Permissions-Policy and COOP.",
    )
    HSTS_SECONDS: int = _int(
        63_072_000,
        "max-age of Strict-Transport-Security, sent on HTTPS responses only; 0 turns HSTS off.",
        minimum=0,
    )
    HSTS_INCLUDE_SUBDOMAINS: bool = _bool(True, "Add includeSubDomains to the HSTS header.")
    HSTS_PRELOAD: bool = _bool(
        False,
        "Add preload to the HSTS header; needs HSTS_INCLUDE_SUBDOMAINS and at least a year of "
        "HSTS_SECONDS.",
    )

    # Compression
    COMPRESSION_ENABLED: bool = _bool(
        True,
        "Compress text, JSON, JavaScript, XML and SVG responses for clients that accept it: "
        "gzip, and br / zstd when the `compression` extra is installed.",
    )
    COMPRESSION_MIN_BYTES: int = _int(
        1024, "Smallest response body that is compressed, in bytes (streams always are)."
    )
    COMPRESSION_GZIP_LEVEL: int = _int(6, "gzip level, 1 (fastest) to 9 (smallest).")

    # Your own keys
    EXTRA: dict[str, object] = _declare(
        MappingProxyType({}),
        _check_extra,
        "dict",
        "Your own keys, read with settings.get(NAME) or settings.EXTRA. In the environment, "
        "FLASGO_EXTRA__<NAME> adds one entry (its value read as JSON when it parses).",
    )


def _rows(keys: type) -> tuple[Setting, ...]:
    annotations: dict[str, str] = keys.__annotations__
    rows = []
    for name, annotation in annotations.items():
        row = keys.__dict__.get(name)
        if not isinstance(row, Setting):
            raise TypeError(f"{name} is annotated but not declared with a key helper")
        rows.append(row._replace(name=name, type=annotation, env=_ENV_PREFIX + name))
    return tuple(rows)


SETTINGS: Final[tuple[Setting, ...]] = _rows(_Keys)
"""The settings table: one `Setting` per key, in documentation order."""

_BY_NAME: Final[Mapping[str, Setting]] = {row.name: row for row in SETTINGS}
_BY_ENV: Final[Mapping[str, Setting]] = {row.env: row for row in SETTINGS}


def find_setting(name: str) -> Setting:
    """Return the table row of the key `name`.

    Raises:
        ConfigurationError: No such key; the message suggests the closest one.
    """
    row = _BY_NAME.get(name)
    if row is None:
        raise _unknown_key(name)
    return row


# --- environment --------------------------------------------------------------------------------


def _decode(raw: str) -> object:
    import json

    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def _env_bool(variable: str, raw: str, decoded: object) -> object:
    word = (decoded if isinstance(decoded, str) else raw).strip().lower()
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise ConfigurationError(f"{variable} must be one of true/false/1/0/yes/no/on/off, got {raw!r}")


def _env_int(variable: str, raw: str, decoded: object) -> object:
    if isinstance(decoded, int) and not isinstance(decoded, bool):
        return decoded
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable} must be an integer, got {raw!r}") from None


def _env_float(variable: str, raw: str, decoded: object) -> object:
    if decoded is None or (isinstance(decoded, int | float) and not isinstance(decoded, bool)):
        return decoded
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{variable} must be a number, got {raw!r}") from None


def _env_str(variable: str, raw: str, decoded: object) -> object:
    return decoded if decoded is None or isinstance(decoded, str) else raw


def _env_collection(variable: str, raw: str, decoded: object) -> object:
    if isinstance(decoded, list):
        return decoded
    text = decoded if isinstance(decoded, str) else raw
    return [item.strip() for item in text.split(",") if item.strip()]


def _env_dict(variable: str, raw: str, decoded: object) -> object:
    if isinstance(decoded, dict):
        return decoded
    raise ConfigurationError(f'{variable} must be a JSON object such as {{"name": "value"}}')


_ENV_PARSERS: Final[Mapping[EnvKind, Callable[[str, str, object], object]]] = {
    "bool": _env_bool,
    "int": _env_int,
    "float": _env_float,
    "str": _env_str,
    "collection": _env_collection,
    "dict": _env_dict,
}


def _read_environ(environ: Mapping[str, str]) -> dict[str, object]:
    """Return the settings given as `FLASGO_<KEY>` variables, each already validated.

    A `FLASGO_*` variable that names no key logs a warning with the closest name and is ignored.
    """
    values: dict[str, object] = {}
    extra: dict[str, object] = {}
    for variable, raw in sorted(environ.items()):
        if not variable.startswith(_ENV_PREFIX):
            continue
        key = variable.removeprefix(_ENV_PREFIX)
        if key in _CLI_VARIABLES:
            continue
        if key.startswith(_ENV_EXTRA_PREFIX) and len(key) > len(_ENV_EXTRA_PREFIX):
            extra[key.removeprefix(_ENV_EXTRA_PREFIX)] = _decode(raw)
            continue
        row = _BY_ENV.get(variable)
        if row is None:
            _warn_unknown_variable(key)
            continue
        value = _ENV_PARSERS[row.env_kind](variable, raw, _decode(raw))
        try:
            values[row.name] = row.check(row.name, value)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{exc} (from the environment variable {variable})") from None
    if extra:
        values["EXTRA"] = {**_string_keys("EXTRA", values.get("EXTRA", {})), **extra}
    return values


# --- explicit sources ---------------------------------------------------------------------------


def _upper_attributes(source: object) -> dict[str, object]:
    # NOTE: helper constants in a settings module stay out by starting with an underscore.
    return {
        name: getattr(source, name)
        for name in dir(source)
        if name.isupper() and not name.startswith("_")
    }


def _import_settings_module(path: str) -> object:
    import importlib

    if not all(part.isidentifier() for part in path.split(".")):
        raise ConfigurationError(
            f"Settings source {path!r} is not a dotted module path; "
            f"pass one such as 'myproject.settings'"
        )
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise ConfigurationError(
            f"Could not import the settings module {path!r} ({exc}); check that it is on "
            f"sys.path and pass a dotted module path such as 'myproject.settings'"
        ) from exc


def _read_source(source: object) -> dict[str, object]:
    if source is None:
        return {}
    if isinstance(source, Mapping):
        values = _string_keys("Settings source", source)
        for key in values:
            if key not in _BY_NAME:
                raise _unknown_key(key)
        return values
    if isinstance(source, str):
        return _upper_attributes(_import_settings_module(source))
    if isinstance(source, bytes | bytearray | int | float | os.PathLike):
        raise ConfigurationError(
            f"Settings source must be a mapping, a dotted module path string or an object with "
            f"UPPERCASE attributes, got {type(source).__name__}"
        )
    return _upper_attributes(source)


def _thaw(value: object) -> object:
    if isinstance(value, frozenset):
        return set(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


# --- the settings object ------------------------------------------------------------------------


class Settings(_Keys):
    """Every configuration key of the framework, typed and validated.

    Build one with `Settings.load(source)` or `Settings(DEBUG=True, ...)`. Precedence, lowest
    first: the defaults, then `FLASGO_<KEY>` environment variables (read by `load` only), then the
    explicit source, so code always wins over the environment. Values are validated when set,
    including later assignments (`settings.DEBUG = "yes"` raises `ConfigurationError`); checks
    that span keys run after every source is applied and after each assignment, so change related
    keys together with `settings.copy(KEY=..., OTHER=...)`.

    Collections are stored immutable: sets as `frozenset`, lists as `tuple`, `SECURITY_HEADERS`
    as a read-only mapping. Unknown keys are an error with a "did you mean" hint; put your own
    keys under `EXTRA` (or `FLASGO_EXTRA__<NAME>` in the environment). An unknown `FLASGO_*`
    environment variable only logs a warning, since the environment is shared with other tools.

    Without a `SECRET_KEY` a random per-process key is generated and `secret_key_is_generated`
    is True; sessions and CSRF tokens then do not survive a restart or span workers.

    The keys, their types, defaults and descriptions are the table `SETTINGS` (and
    docs/settings.md, generated from it).
    """

    # PERF: one slot per key; a key is read as a plain attribute on the request path.
    __slots__ = ("_secret_key_is_generated", *_BY_NAME)

    _secret_key_is_generated: bool

    def __init__(self, **values: object) -> None:
        """Build settings from UPPERCASE keyword arguments over the defaults.

        Raises:
            ConfigurationError: A key is unknown or a value is invalid.
        """
        for key in values:
            if key not in _BY_NAME:
                raise _unknown_key(key)
        assign = object.__setattr__
        for row in SETTINGS:
            assign(self, row.name, row.check(row.name, values.get(row.name, row.default)))
        assign(self, "_secret_key_is_generated", values.get("SECRET_KEY") is None)
        self._check_together()

    @classmethod
    def load(
        cls,
        source: Settings | Mapping[str, object] | str | object | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Load settings from the environment and an explicit source.

        Args:
            source: A `Settings` (returned as a validated copy, the environment is not read), a
                mapping of keys, a dotted module path such as ``"myproject.settings"`` or any
                object; modules and objects contribute their UPPERCASE attributes (name helper
                constants with a leading underscore, or they count as unknown keys).
            environ: Where to read ``FLASGO_<KEY>`` variables; `os.environ` when None.

        Returns:
            The validated settings; the explicit source wins over the environment.

        Raises:
            ConfigurationError: A key is unknown, a value is invalid or the module cannot be
                imported.
        """
        if isinstance(source, Settings):
            return source.copy()
        values = _read_environ(os.environ if environ is None else environ)
        explicit = _read_source(source)
        if isinstance(values.get("EXTRA"), Mapping) and isinstance(explicit.get("EXTRA"), Mapping):
            explicit["EXTRA"] = {**values["EXTRA"], **explicit["EXTRA"]}  # type: ignore[dict-item]  # both checked to be mappings just above
        return cls(**{**values, **explicit})

    @property
    def secret_key_is_generated(self) -> bool:
        """Whether SECRET_KEY is a random per-process key because none was configured."""
        return self._secret_key_is_generated

    def get(self, key: str, default: object = None) -> object:
        """Return a known setting, else the EXTRA entry `key`, else `default`."""
        if key in _BY_NAME:
            return getattr(self, key)
        return self.EXTRA.get(key, default)

    def as_dict(self) -> dict[str, object]:
        """Return every key with mutable copies of its value; SECRET_KEY is included."""
        return {key: _thaw(getattr(self, key)) for key in _BY_NAME}

    def copy(self, **overrides: object) -> Settings:
        """Return validated settings equal to these except for `overrides`.

        Raises:
            ConfigurationError: An override key is unknown or the result is invalid.
        """
        clone = type(self)(**{**{key: getattr(self, key) for key in _BY_NAME}, **overrides})
        if "SECRET_KEY" not in overrides:
            object.__setattr__(clone, "_secret_key_is_generated", self._secret_key_is_generated)
        return clone

    def __setattr__(self, name: str, value: object) -> None:
        row = _BY_NAME.get(name)
        if row is None:
            raise _unknown_key(name)
        previous = getattr(self, name)
        assign = object.__setattr__
        assign(self, name, row.check(name, value))
        try:
            self._check_together()
        except ConfigurationError:
            assign(self, name, previous)
            raise
        if name == "SECRET_KEY":
            assign(self, "_secret_key_is_generated", value is None)

    def __reduce__(
        self,
    ) -> tuple[Callable[[dict[str, object], bool], Settings], tuple[object, ...]]:
        return _restore, (self.as_dict(), self._secret_key_is_generated)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Settings cannot be deleted; assign a new value to {name} instead")

    def __repr__(self) -> str:
        origin = "generated" if self._secret_key_is_generated else "configured"
        return f"<Settings DEBUG={self.DEBUG} SECRET_KEY=<{origin}>>"

    def _check_together(self) -> None:
        """Check the rules that span several keys."""
        problem = ""
        if self.SESSION_COOKIE_SAME_SITE == "None" and not self.SESSION_COOKIE_SECURE:
            problem = (
                "SESSION_COOKIE_SAME_SITE='None' requires SESSION_COOKIE_SECURE=True "
                "(browsers drop SameSite=None cookies without Secure)"
            )
        elif self.DOCS_PATH == self.OPENAPI_PATH:
            problem = "DOCS_PATH and OPENAPI_PATH must differ"
        elif self.METRICS_PATH in (self.DOCS_PATH, self.OPENAPI_PATH):
            problem = "METRICS_PATH must differ from DOCS_PATH and OPENAPI_PATH"
        elif self.METRICS_ENABLED and self.METRICS_BEARER_TOKEN is None:
            problem = f"METRICS_ENABLED=True requires METRICS_BEARER_TOKEN; {_KEYGEN_ADVICE}"
        elif self.CSRF_COOKIE_NAME == self.SESSION_COOKIE_NAME:
            problem = "CSRF_COOKIE_NAME and SESSION_COOKIE_NAME must differ"
        elif self.ENFORCE_ALLOWED_HOSTS and not self.ALLOWED_HOSTS:
            problem = (
                "ALLOWED_HOSTS is empty, so every request would be refused; list the host names "
                "this app answers to (or set ENFORCE_ALLOWED_HOSTS=False)"
            )
        elif self.HSTS_PRELOAD and not (
            self.HSTS_INCLUDE_SUBDOMAINS and self.HSTS_SECONDS >= _HSTS_PRELOAD_MIN_SECONDS
        ):
            problem = (
                f"HSTS_PRELOAD=True requires HSTS_INCLUDE_SUBDOMAINS=True and "
                f"HSTS_SECONDS >= {_HSTS_PRELOAD_MIN_SECONDS} (the preload list's rules)"
            )
        if problem:
            raise ConfigurationError(problem)


def _restore(values: dict[str, object], secret_key_is_generated: bool) -> Settings:
    """Rebuild pickled or copied settings, keeping where the secret key came from."""
    settings = Settings(**values)
    object.__setattr__(settings, "_secret_key_is_generated", secret_key_is_generated)
    return settings


# --- the generated reference --------------------------------------------------------------------

_ENV_FORMS: Final[Mapping[EnvKind, str]] = {
    "bool": "`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)",
    "int": "an integer",
    "float": "a number",
    "str": "the text as it is",
    "collection": "comma-separated values, or a JSON list",
    "dict": "a JSON object",
}


def _render_default(value: object) -> str:
    if isinstance(value, frozenset):
        value = sorted(value)
    elif isinstance(value, tuple):
        value = list(value)
    elif isinstance(value, Mapping):
        value = dict(value)
    return f"`{value!r}`"


def _render_env(row: Setting) -> str:
    form = _ENV_FORMS[row.env_kind]
    if row.env_kind in ("str", "float") and "None" in row.type:
        form += ", `null` for None"
    return f"`{row.env}`, {form}"


def settings_reference() -> str:
    """Return the Markdown reference of every key, generated from the table `SETTINGS`.

    ``scripts/gen-settings-doc`` writes it to docs/settings.md, and a test checks that the file
    is up to date.
    """
    names = [f"`{_ENV_PREFIX}{name}`" for name in sorted(_CLI_VARIABLES)]
    cli = ", ".join(names[:-1]) + " and " + names[-1]
    lines = [
        "# Settings reference",
        "",
        "<!-- Generated from the table in src/flasgo/settings.py by scripts/gen-settings-doc;",
        "     edit the table, then run the script. -->",
        "",
        "Every key of `flasgo.Settings`. Set keys in code (`Flasgo(settings={...})`, a settings",
        "module path or an object with UPPERCASE attributes) or as `FLASGO_<KEY>` environment",
        "variables; code wins over the environment. A key unknown in code is an error with a",
        "hint; an unknown `FLASGO_*` variable logs a warning on `flasgo.settings` and is ignored.",
        "Put your own keys under `EXTRA` (`FLASGO_EXTRA__<NAME>` in the environment).",
        "",
        f"The variables {cli} belong to the command line, not to the settings;",
        "they are never reported as unknown.",
        "",
        "| Key | Type | Default |",
        "| --- | --- | --- |",
    ]
    for row in SETTINGS:
        default = "see below" if isinstance(row.default, Mapping) else _render_default(row.default)
        # NOTE: GitHub tables split cells on "|" even inside code spans, so escape it.
        kind = row.type.replace("|", "\\|")
        lines.append(f"| [`{row.name}`](#{row.name.lower()}) | `{kind}` | {default} |")
    for row in SETTINGS:
        lines += [
            "",
            f"## `{row.name}`",
            "",
            row.description,
            "",
            f"- Type: `{row.type}`",
            f"- Default: {_render_default(row.default)}",
            f"- Environment: {_render_env(row)}",
        ]
    return "\n".join(lines) + "\n"
