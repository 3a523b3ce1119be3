"""Settings: every configuration key of the framework, its default, loading and validation.

Each key is described once in `_FIELDS` (default, validator, how to read it from the environment).
Values are validated and normalised when they are set, so the hot path only does plain attribute
reads. Collections are stored immutable (`frozenset`, `tuple`, a read-only mapping) so that an
in-place edit cannot skip validation; assign a new value instead.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from flasgo.exceptions import ConfigurationError

__all__ = ["Settings"]

_Kind = Literal["bool", "int", "float", "str", "collection", "dict"]
_Check = Callable[[str, object], object]


class _Field(NamedTuple):
    default: object
    check: _Check
    kind: _Kind


_ENV_PREFIX: Final = "FLASGO_"
_ENV_EXTRA_PREFIX: Final = "EXTRA__"
# NOTE: read by the CLI before the app exists; they are not settings.
_CLI_VARIABLES: Final = frozenset(
    {"APP", "HOST", "PORT", "RELOAD", "ENV", "SKIP_DOTENV", "WORKERS"}
)
_INSECURE_SECRET: Final = "dev-insecure-secret-change-this"  # noqa: S105  # refused, not used
_MIN_SECRET_LENGTH: Final = 32
_KEYGEN_ADVICE: Final = (
    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
)
_SECRET_KEYS: Final = frozenset(
    {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "METRICS_BEARER_TOKEN", "REDIS_URL"}
)
_HSTS_PRELOAD_MIN_SECONDS: Final = 31_536_000
_TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no", "off"})
_LOG_LEVELS: Final = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
_SAME_SITE: Final = {"lax": "Lax", "strict": "Strict", "none": "None"}
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_PATH = re.compile(r"/[\x21-\x7e]*")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

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
    if name in _SECRET_KEYS:
        return f"a {type(value).__name__}"  # SECURITY: messages end up in logs.
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = "<value>"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _unknown_key(key: str, *, variable: bool = False) -> ConfigurationError:
    import difflib

    candidates = list(_FIELDS) + (sorted(_CLI_VARIABLES) if variable else [])
    upper = key.upper()
    matches = [upper] if upper in candidates else difflib.get_close_matches(upper, candidates, n=1)
    if variable:
        hint = f" Did you mean {_ENV_PREFIX}{matches[0]}?" if matches else ""
        return ConfigurationError(
            f"Unknown environment variable {_ENV_PREFIX}{key}.{hint}"
            f" Put your own keys under {_ENV_PREFIX}{_ENV_EXTRA_PREFIX}<NAME>."
        )
    hint = f" Did you mean {matches[0]!r}?" if matches else ""
    return ConfigurationError(f"Unknown setting {key!r}.{hint} Put your own keys under EXTRA.")


# --- scalar fields ------------------------------------------------------------------------------


def _check_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigurationError(f"{name} must be True or False, got {_describe(name, value)}")


def _bool(default: bool) -> _Field:
    return _Field(default, _check_bool, "bool")


def _int(default: int, minimum: int = 1) -> _Field:
    bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def check(name: str, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigurationError(f"{name} must be {bound}, got {_describe(name, value)}")
        return int(value)

    return _Field(default, check, "int")


def _float(
    default: float | None, low: float, high: float, *, above: bool = False, optional: bool = False
) -> _Field:
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

    return _Field(default, check, "float")


def _text(default: str | None, *, optional: bool = False, non_empty: bool = False) -> _Field:
    def check(name: str, value: object) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or (non_empty and not value.strip()):
            kind = "a non-empty string" if non_empty else "a string"
            kind += " or None" if optional else ""
            raise ConfigurationError(f"{name} must be {kind}, got {_describe(name, value)}")
        return value

    return _Field(default, check, "str")


def _choice(default: str, canonical: Mapping[str, str]) -> _Field:
    names = ", ".join(repr(choice) for choice in canonical.values())

    def check(name: str, value: object) -> str:
        if isinstance(value, str) and value.lower() in canonical:
            return canonical[value.lower()]
        raise ConfigurationError(f"{name} must be one of {names}, got {_describe(name, value)}")

    return _Field(default, check, "str")


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
    if not _TOKEN.fullmatch(value):
        raise ConfigurationError(
            f"{name} must be a cookie name made of letters, digits and !#$%&'*+-.^_`|~ "
            f"(an RFC 6265 token), got {value!r}"
        )
    return value


def _check_header_name(name: str, value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ConfigurationError(
            f"{name} must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), "
            f"got {value!r}"
        )
    return value.lower()


def _check_path(name: str, value: str) -> str:
    if not _PATH.fullmatch(value) or "?" in value or "#" in value:
        raise ConfigurationError(
            f"{name} must be a URL path starting with '/' without spaces, query or fragment, "
            f"got {value!r}"
        )
    return value


def _check_bearer_token(name: str, value: str) -> str:
    if len(value) < _MIN_SECRET_LENGTH or not _BEARER_TOKEN.fullmatch(value):
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


def _hostname(name: str, entry: str, host: str) -> str:
    """Return `host` lower-cased, IDNA-encoded and without its trailing dot, or raise."""
    host = host.lower().removesuffix(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ConfigurationError(f"{name} entry {entry!r} is not a valid host name") from exc
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        return f"[{_ip(name, entry, inner, version=6)}]"
    if host.count(":") > 1:
        return f"[{_ip(name, entry, host, version=6)}]"
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise ConfigurationError(
            f"{name} entry {entry!r} is not a valid host name; use letters, digits, '-' and '.'"
        )
    if host.replace(".", "").isdigit():
        return _ip(name, entry, host, version=4)
    return host


def _ip(name: str, entry: str, text: str, *, version: int) -> str:
    import ipaddress

    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is None or address.version != version or "%" in text:
        raise ConfigurationError(f"{name} entry {entry!r} is not a valid IPv{version} address")
    return address.compressed


def _reject_url_parts(name: str, entry: str) -> None:
    problem = ""
    if not entry:
        problem = "is empty"
    elif _has_space(entry):
        problem = "contains whitespace or control characters"
    elif "://" in entry:
        problem = "must not include a scheme"
    elif "@" in entry:
        problem = "must not include user information"
    elif any(char in entry for char in "/?#"):
        problem = "must not include a path"
    elif entry.rsplit("]", 1)[-1].count(":") == 1:
        problem = "must not include a port"
    if problem:
        raise ConfigurationError(
            f"{name} entry {entry!r} {problem}; list bare host names such as 'example.com', "
            f"'.example.com' (its subdomains), '192.0.2.1' or '[2001:db8::1]'"
        )


def _check_host_pattern(name: str, entry: str) -> str:
    if "*" in entry:
        raise ConfigurationError(
            f"{name} must not contain '*'; list the host names this app answers to "
            f"(write '.example.com' to allow every subdomain of example.com)"
        )
    _reject_url_parts(name, entry)
    if entry.startswith("."):
        return "." + _hostname(name, entry, entry[1:])
    return _hostname(name, entry, entry)


def _check_ssrf_host(name: str, entry: str) -> str:
    if entry == "*":
        return entry
    if entry.startswith("*."):
        return "*." + _check_host_pattern(name, entry[2:])
    return _check_host_pattern(name, entry)


def _check_origin(name: str, entry: str, *, wildcard: bool = False) -> str:
    scheme, _, authority = entry.lower().partition("://")
    if not _SCHEME.fullmatch(scheme) or _has_space(entry) or not authority:
        raise ConfigurationError(
            f"{name} entry {entry!r} must be an origin such as 'https://example.com'"
        )
    if any(char in authority for char in "/?#@"):
        raise ConfigurationError(
            f"{name} entry {entry!r} must be an origin without path or user information, "
            f"such as 'https://example.com'"
        )
    host, port = authority, ""
    if authority.rsplit("]", 1)[-1].count(":") == 1:
        host, _, port = authority.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(f"{name} entry {entry!r} has an invalid port")
        port = f":{int(port)}"
    if wildcard and host.startswith("*."):
        return f"{scheme}://*.{_hostname(name, entry, host[2:])}{port}"
    return f"{scheme}://{_hostname(name, entry, host)}{port}"


def _check_trusted_origin(name: str, entry: str) -> str:
    if "://" in entry:
        return _check_origin(name, entry, wildcard=True)
    return _check_host_pattern(name, entry)


def _check_websocket_origin(name: str, entry: str) -> str:
    return _check_origin(name, entry)


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
    if not _SCHEME.fullmatch(entry.lower()):
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
    default: Iterable[str], entry: Callable[[str, str], str], *, non_empty: bool = False
) -> _Field:
    def check(name: str, value: object) -> frozenset[str]:
        result = frozenset(entry(name, item) for item in _strings(name, value))
        if non_empty and not result:
            raise ConfigurationError(f"{name} must not be empty")
        return result

    return _Field(frozenset(default), check, "collection")


def _list(entry: Callable[[str, str], str]) -> _Field:
    def check(name: str, value: object) -> tuple[str, ...]:
        return tuple(entry(name, item) for item in _strings(name, value))

    return _Field((), check, "collection")


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
        if not isinstance(header_value, str) or not _HEADER_VALUE.fullmatch(header_value):
            raise ConfigurationError(
                f"{name}[{key!r}] must be printable ASCII without CR, LF or NUL, "
                f"got {_describe(name, header_value)}"
            )
        headers[header] = header_value
    return MappingProxyType(headers)


def _field(default: str, check: Callable[[str, str], str]) -> _Field:
    return _Field(default, _string_check(check), "str")


def _optional_field(check: Callable[[str, str], str]) -> _Field:
    strict = _string_check(check)

    def run(name: str, value: object) -> object:
        return None if value is None else strict(name, value)

    return _Field(None, run, "str")


# Every key, its default and its validator, in documentation order.
_FIELDS: Final[Mapping[str, _Field]] = {
    "DEBUG": _bool(False),
    "SECRET_KEY": _Field(None, _check_secret_key, "str"),
    "SECRET_KEY_FALLBACKS": _list(_check_secret),
    "ALLOWED_HOSTS": _set({"localhost", "127.0.0.1", "[::1]"}, _check_host_pattern),
    "ENFORCE_ALLOWED_HOSTS": _bool(True),
    "TRUSTED_PROXIES": _set((), _check_proxy),
    "CSRF_ENABLED": _bool(True),
    "CSRF_COOKIE_NAME": _field("flasgo-csrf", _check_cookie_name),
    "CSRF_HEADER_NAME": _field("x-csrf-token", _check_header_name),
    "CSRF_TRUSTED_ORIGINS": _set((), _check_trusted_origin),
    "CSRF_CHECK_ORIGIN": _bool(True),
    "CSRF_REQUIRE_ORIGIN": _bool(True),
    "CSRF_COOKIE_SECURE": _bool(True),
    "SESSION_COOKIE_NAME": _field("flasgo-session", _check_cookie_name),
    "SESSION_COOKIE_MAX_AGE": _int(604_800),
    "SESSION_COOKIE_SECURE": _bool(True),
    "SESSION_COOKIE_HTTP_ONLY": _bool(True),
    "SESSION_COOKIE_SAME_SITE": _choice("Lax", _SAME_SITE),
    "SESSION_REFRESH_EACH_REQUEST": _bool(False),
    "REDIS_URL": _optional_field(_check_redis_url),
    "ENFORCE_NO_STORE_CACHE": _bool(True),
    "MAX_REQUEST_BODY_BYTES": _int(1_048_576),
    "MAX_REQUEST_HEAD_BYTES": _int(16_384),
    "MAX_REQUEST_HEADERS": _int(100),
    "MAX_URL_LENGTH": _int(8192),
    "REQUEST_READ_TIMEOUT_SECONDS": _float(10.0, 0, math.inf, above=True),
    "MAX_MULTIPART_PARTS": _int(1000),
    "MAX_FILE_UPLOADS": _int(100),
    "MAX_FORM_FIELDS": _int(1000),
    "MAX_FORM_MEMORY_BYTES": _int(1_048_576),
    "MAX_JSON_DEPTH": _int(64),
    "MAX_VALIDATION_DEPTH": _int(64),
    "MAX_VALIDATION_WORK": _int(10_000),
    "MAX_VALIDATION_ISSUES": _int(100, minimum=2),
    "REDIRECT_TRAILING_SLASH": _bool(False),
    "THREAD_POOL_SIZE": _int(40),
    "SECURITY_FAILURE_RATE_LIMIT": _int(50, minimum=0),
    "SECURITY_FAILURE_WINDOW_SECONDS": _int(60),
    "LOG_SECURITY_EVENTS": _bool(True),
    "TRUST_INCOMING_REQUEST_ID": _bool(False),
    "LOG_FORMAT": _choice("text", {"text": "text", "json": "json"}),
    "LOG_LEVEL": _choice("INFO", {level.lower(): level for level in _LOG_LEVELS}),
    "WEBSOCKET_ENFORCE_ORIGIN": _bool(True),
    "WEBSOCKET_ALLOWED_ORIGINS": _set((), _check_websocket_origin),
    "WEBSOCKET_ALLOW_MISSING_ORIGIN": _bool(False),
    "WEBSOCKET_MAX_MESSAGE_BYTES": _int(65_536),
    "WEBSOCKET_MAX_MESSAGES_PER_MINUTE": _int(120),
    "SERVER_LIMIT_CONCURRENCY": _int(1000),
    "METRICS_ENABLED": _bool(False),
    "METRICS_PATH": _field("/metrics", _check_path),
    "METRICS_BEARER_TOKEN": _optional_field(_check_bearer_token),
    "METRICS_EVENT_LOOP_ENABLED": _bool(True),
    "METRICS_EVENT_LOOP_INTERVAL_SECONDS": _float(0.1, 0.01, 60.0),
    "OTEL_ENABLED": _bool(False),
    "OTEL_SERVICE_NAME": _text("flasgo", non_empty=True),
    "OTEL_SERVICE_VERSION": _text(None, optional=True),
    "OTEL_TRACE_SAMPLE_RATIO": _float(1.0, 0.0, 1.0),
    "OTEL_EXCLUDED_PATHS": _set((), _check_path),
    "OTEL_SET_GLOBAL_PROVIDER": _bool(True),
    "ENABLE_DOCS": _bool(False),
    "DOCS_AUTH_BACKEND": _text(None, optional=True, non_empty=True),
    "DOCS_PATH": _field("/docs", _check_path),
    "OPENAPI_PATH": _field("/openapi.json", _check_path),
    "API_TITLE": _text("Flasgo API"),
    # None: the version of the app's installed package, else 0.1.0 (flasgo.openapi.info).
    "API_VERSION": _text(None, optional=True, non_empty=True),
    "API_DESCRIPTION": _text(""),
    "API_SERVERS": _list(_check_non_empty),
    "SSRF_ENABLED": _bool(True),
    "SSRF_ALLOWED_SCHEMES": _set({"http", "https"}, _check_scheme, non_empty=True),
    "SSRF_ALLOWED_HOSTS": _set((), _check_ssrf_host),
    "SSRF_ALLOW_PRIVATE_NETWORKS": _bool(False),
    "SSRF_ALLOW_USERINFO": _bool(False),
    "SSRF_ALLOW_UNRESOLVABLE_HOSTS": _bool(False),
    "SSRF_RESOLUTION_TIMEOUT_SECONDS": _float(5.0, 0, math.inf, above=True, optional=True),
    "SECURITY_HEADERS": _Field(_DEFAULT_SECURITY_HEADERS, _check_security_headers, "dict"),
    "PAGE_SECURITY_HEADERS": _Field(
        _DEFAULT_PAGE_SECURITY_HEADERS, _check_security_headers, "dict"
    ),
    "HSTS_SECONDS": _int(63_072_000, minimum=0),
    "HSTS_INCLUDE_SUBDOMAINS": _bool(True),
    "HSTS_PRELOAD": _bool(False),
    "EXTRA": _Field(MappingProxyType({}), _check_extra, "dict"),
}


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


_ENV_PARSERS: Final[Mapping[_Kind, Callable[[str, str, object], object]]] = {
    "bool": _env_bool,
    "int": _env_int,
    "float": _env_float,
    "str": _env_str,
    "collection": _env_collection,
    "dict": _env_dict,
}


def _read_environ(environ: Mapping[str, str]) -> dict[str, object]:
    """Return the settings given as `FLASGO_<KEY>` variables, each already validated."""
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
        field = _FIELDS.get(key)
        if field is None:
            raise _unknown_key(key, variable=True)
        value = _ENV_PARSERS[field.kind](variable, raw, _decode(raw))
        try:
            values[key] = field.check(key, value)
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
            if key not in _FIELDS:
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


class Settings:
    """Every configuration key of the framework, typed and validated.

    Build one with `Settings.load(source)` or `Settings(DEBUG=True, ...)`. Precedence, lowest
    first: the defaults, then `FLASGO_<KEY>` environment variables (read by `load` only), then the
    explicit source, so code always wins over the environment. Values are validated when set,
    including later assignments (`settings.DEBUG = "yes"` raises `ConfigurationError`); checks
    that span keys run after every source is applied and after each assignment, so change related
    keys together with `settings.copy(KEY=..., OTHER=...)`.

    Collections are stored immutable: sets as `frozenset`, lists as `tuple`, `SECURITY_HEADERS`
    as a read-only mapping. Unknown keys are an error with a "did you mean" hint; put your own
    keys under `EXTRA` (or `FLASGO_EXTRA__<NAME>` in the environment).

    Without a `SECRET_KEY` a random per-process key is generated and `secret_key_is_generated`
    is True; sessions and CSRF tokens then do not survive a restart or span workers.
    """

    __slots__ = ("_secret_key_is_generated", *_FIELDS)

    _secret_key_is_generated: bool
    DEBUG: bool
    SECRET_KEY: str
    SECRET_KEY_FALLBACKS: tuple[str, ...]
    ALLOWED_HOSTS: frozenset[str]
    ENFORCE_ALLOWED_HOSTS: bool
    TRUSTED_PROXIES: frozenset[str]
    CSRF_ENABLED: bool
    CSRF_COOKIE_NAME: str
    CSRF_HEADER_NAME: str
    CSRF_TRUSTED_ORIGINS: frozenset[str]
    CSRF_CHECK_ORIGIN: bool
    CSRF_REQUIRE_ORIGIN: bool
    CSRF_COOKIE_SECURE: bool
    SESSION_COOKIE_NAME: str
    SESSION_COOKIE_MAX_AGE: int
    SESSION_COOKIE_SECURE: bool
    SESSION_COOKIE_HTTP_ONLY: bool
    SESSION_COOKIE_SAME_SITE: Literal["Lax", "Strict", "None"]
    SESSION_REFRESH_EACH_REQUEST: bool
    REDIS_URL: str | None
    ENFORCE_NO_STORE_CACHE: bool
    MAX_REQUEST_BODY_BYTES: int
    MAX_REQUEST_HEAD_BYTES: int
    MAX_REQUEST_HEADERS: int
    MAX_URL_LENGTH: int
    REQUEST_READ_TIMEOUT_SECONDS: float
    MAX_MULTIPART_PARTS: int
    MAX_FILE_UPLOADS: int
    MAX_FORM_FIELDS: int
    MAX_FORM_MEMORY_BYTES: int
    MAX_JSON_DEPTH: int
    MAX_VALIDATION_DEPTH: int
    MAX_VALIDATION_WORK: int
    MAX_VALIDATION_ISSUES: int
    REDIRECT_TRAILING_SLASH: bool
    THREAD_POOL_SIZE: int
    SECURITY_FAILURE_RATE_LIMIT: int
    SECURITY_FAILURE_WINDOW_SECONDS: int
    LOG_SECURITY_EVENTS: bool
    TRUST_INCOMING_REQUEST_ID: bool
    LOG_FORMAT: Literal["text", "json"]
    LOG_LEVEL: str
    WEBSOCKET_ENFORCE_ORIGIN: bool
    WEBSOCKET_ALLOWED_ORIGINS: frozenset[str]
    WEBSOCKET_ALLOW_MISSING_ORIGIN: bool
    WEBSOCKET_MAX_MESSAGE_BYTES: int
    WEBSOCKET_MAX_MESSAGES_PER_MINUTE: int
    SERVER_LIMIT_CONCURRENCY: int
    METRICS_ENABLED: bool
    METRICS_PATH: str
    METRICS_BEARER_TOKEN: str | None
    METRICS_EVENT_LOOP_ENABLED: bool
    METRICS_EVENT_LOOP_INTERVAL_SECONDS: float
    OTEL_ENABLED: bool
    OTEL_SERVICE_NAME: str
    OTEL_SERVICE_VERSION: str | None
    OTEL_TRACE_SAMPLE_RATIO: float
    OTEL_EXCLUDED_PATHS: frozenset[str]
    OTEL_SET_GLOBAL_PROVIDER: bool
    ENABLE_DOCS: bool
    DOCS_AUTH_BACKEND: str | None
    DOCS_PATH: str
    OPENAPI_PATH: str
    API_TITLE: str
    API_VERSION: str | None
    API_DESCRIPTION: str
    API_SERVERS: tuple[str, ...]
    SSRF_ENABLED: bool
    SSRF_ALLOWED_SCHEMES: frozenset[str]
    SSRF_ALLOWED_HOSTS: frozenset[str]
    SSRF_ALLOW_PRIVATE_NETWORKS: bool
    SSRF_ALLOW_USERINFO: bool
    SSRF_ALLOW_UNRESOLVABLE_HOSTS: bool
    SSRF_RESOLUTION_TIMEOUT_SECONDS: float | None
    SECURITY_HEADERS: Mapping[str, str]
    PAGE_SECURITY_HEADERS: Mapping[str, str]
    HSTS_SECONDS: int
    HSTS_INCLUDE_SUBDOMAINS: bool
    HSTS_PRELOAD: bool
    EXTRA: dict[str, object]

    def __init__(self, **values: object) -> None:
        """Build settings from UPPERCASE keyword arguments over the defaults.

        Raises:
            ConfigurationError: A key is unknown or a value is invalid.
        """
        for key in values:
            if key not in _FIELDS:
                raise _unknown_key(key)
        assign = object.__setattr__
        for key, field in _FIELDS.items():
            assign(self, key, field.check(key, values.get(key, field.default)))
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
        if key in _FIELDS:
            return getattr(self, key)
        return self.EXTRA.get(key, default)

    def as_dict(self) -> dict[str, object]:
        """Return every key with mutable copies of its value; SECRET_KEY is included."""
        return {key: _thaw(getattr(self, key)) for key in _FIELDS}

    def copy(self, **overrides: object) -> Settings:
        """Return validated settings equal to these except for `overrides`.

        Raises:
            ConfigurationError: An override key is unknown or the result is invalid.
        """
        clone = type(self)(**{**{key: getattr(self, key) for key in _FIELDS}, **overrides})
        if "SECRET_KEY" not in overrides:
            object.__setattr__(clone, "_secret_key_is_generated", self._secret_key_is_generated)
        return clone

    def __setattr__(self, name: str, value: object) -> None:
        field = _FIELDS.get(name)
        if field is None:
            raise _unknown_key(name)
        previous = getattr(self, name)
        assign = object.__setattr__
        assign(self, name, field.check(name, value))
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
