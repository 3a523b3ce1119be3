"""Cookies: a linear ``Cookie`` header parser and strict ``Set-Cookie`` builders.

Parsing follows what browsers send (RFC 6265 section 4.2): ``name=value`` pairs split on
``;`` only. It never uses `http.cookies`, whose unquoting is quadratic (CVE-2024-7592), and it
drops what it cannot trust without a word. Building validates every part when it is called,
so a bad name, value or attribute fails at the line that made it, not in a browser.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Literal

__all__ = [
    "SameSite",
    "build_delete_cookie",
    "build_set_cookie",
    "cookie_values",
    "format_http_date",
    "parse_cookie_header",
]

SameSite = Literal["Lax", "Strict", "None"]

# RFC 7230 token: no regex alternation, so matching is linear.
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
# RFC 6265 cookie-octet: no CTLs, whitespace, DQUOTE, comma, semicolon, backslash or non-ASCII.
_is_cookie_value = re.compile(r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*").fullmatch
# RFC 6265 path-value: printable ASCII except ";" (so no CR, LF or NUL either).
_is_path = re.compile(r"/[\x20-\x3A\x3C-\x7E]*").fullmatch
# A host name: dot-separated LDH labels, optionally with the legacy leading dot.
_is_domain = re.compile(
    r"\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
).fullmatch

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_TIMESTAMP = 253402300799  # 9999-12-31 23:59:59 UTC, the last four-digit year
_MAX_DOMAIN_LENGTH = 253
_MAX_COOKIE_BYTES = 4096  # what browsers keep for name plus value
_SAME_SITE_VALUES = ("Lax", "Strict", "None")


def _strip_quotes(value: str) -> str:
    # NOTE: browsers keep backslashes as they are, so there is nothing to unescape; this also
    # keeps parsing linear whatever the value holds.
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def parse_cookie_header(
    value: str, *, max_cookies: int = 128, max_cookie_bytes: int = 4096
) -> dict[str, str]:
    """Parse a ``Cookie`` request header into a dict of name to value.

    The first cookie of a name wins. Pairs without ``=``, names that are not RFC 7230 tokens
    (including empty names, CVE-2023-23934) and cookies over `max_cookie_bytes` are dropped
    silently; parsing stops once `max_cookies` cookies are kept.

    Args:
        value: The header value; several ``Cookie`` headers may be joined with ``"; "``.
        max_cookies: The most cookies returned.
        max_cookie_bytes: The longest name plus value kept.

    Returns:
        The cookies, DQUOTEs around a value removed.
    """
    cookies: dict[str, str] = {}
    if not value:
        return cookies
    for piece in value.split(";"):
        name, eq, raw = piece.partition("=")
        if not eq:
            continue
        name = name.strip(" \t")
        if name in cookies or len(name) + len(raw) > max_cookie_bytes or not _is_token(name):
            continue
        raw = raw.strip(" \t")
        # PERF: _strip_quotes inlined; this loop runs for every cookie of every request.
        if len(raw) > 1 and raw[0] == '"' == raw[-1]:
            raw = raw[1:-1]
        cookies[name] = raw
        if len(cookies) >= max_cookies:
            break
    return cookies


def cookie_values(value: str, name: str) -> list[str]:
    """Return every value the ``Cookie`` header gives for `name`, in order.

    A name sent twice can mean a cookie set for a parent domain or path shadows the app's own
    (cookie tossing); callers use this to detect it.

    Args:
        value: The ``Cookie`` header value.
        name: The exact cookie name.

    Returns:
        The values, DQUOTEs removed; empty when the name is absent.
    """
    if name not in value:
        return []
    values: list[str] = []
    for piece in value.split(";"):
        key, eq, raw = piece.partition("=")
        if eq and key.strip(" \t") == name:
            values.append(_strip_quotes(raw.strip(" \t")))
    return values


def format_http_date(timestamp: float) -> str:
    """Format a Unix timestamp as an IMF-fixdate, e.g. ``Wed, 21 Oct 2015 07:28:00 GMT``.

    Args:
        timestamp: Seconds since the epoch, UTC.

    Returns:
        The date in the only format HTTP senders may generate (RFC 9110 section 5.6.7).

    Raises:
        ValueError: The timestamp is not finite or falls outside years 0001-9999.
    """
    try:
        tm = time.gmtime(timestamp)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp {timestamp!r} is out of range for an HTTP date") from None
    if not 1 <= tm.tm_year <= 9999:
        raise ValueError(f"timestamp {timestamp!r} is out of range for an HTTP date")
    return (
        f"{_DAYS[tm.tm_wday]}, {tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year:04d} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} GMT"
    )


def _format_expires(expires: datetime | float) -> str:
    if isinstance(expires, datetime):
        # NOTE: a naive datetime is taken as UTC, never as the server's local time.
        try:
            tm = expires.utctimetuple()
        except OverflowError:
            raise ValueError(f"expires {expires!r} is out of range for an HTTP date") from None
        return (
            f"{_DAYS[tm.tm_wday]}, {tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year:04d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} GMT"
        )
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        raise ValueError(f"expires must be a datetime or a Unix timestamp, got {expires!r}")
    return format_http_date(expires)


def _check_name(name: str) -> None:
    if not _is_token(name):
        raise ValueError(
            f"Cookie name {name!r} is not a valid token; use letters, digits and !#$%&'*+-.^_`|~"
        )


def _check_value(name: str, value: str) -> None:
    if not _is_cookie_value(value):
        raise ValueError(
            f"Cookie {name!r} has a value with characters cookies cannot hold (control "
            "characters, space, '\"', ',', ';', '\\' or non-ASCII); encode it first, "
            "for example with base64url"
        )
    if len(name) + len(value) > _MAX_COOKIE_BYTES:
        raise ValueError(
            f"Cookie {name!r} is over {_MAX_COOKIE_BYTES} bytes; browsers would drop it"
        )


def _check_attributes(
    name: str,
    *,
    path: str | None,
    domain: str | None,
    secure: bool,
    same_site: str | None,
    partitioned: bool,
) -> None:
    if path is not None and not _is_path(path):
        raise ValueError(
            f"Cookie path {path!r} must start with '/' and hold printable ASCII without ';'"
        )
    if domain is not None and (len(domain) > _MAX_DOMAIN_LENGTH or not _is_domain(domain)):
        raise ValueError(f"Cookie domain {domain!r} must be a plain host name like 'example.com'")
    if same_site is not None and same_site not in _SAME_SITE_VALUES:
        raise ValueError(f"same_site must be 'Lax', 'Strict', 'None' or None, got {same_site!r}")
    if same_site == "None" and not secure:
        raise ValueError("same_site='None' requires secure=True; browsers reject it otherwise")
    if partitioned and not secure:
        raise ValueError("partitioned=True requires secure=True; browsers reject it otherwise")
    # SECURITY: browsers match the prefixes case-insensitively (RFC 6265bis), so do we.
    prefix = name[:9].lower()
    if prefix.startswith("__host-") and (not secure or path != "/" or domain is not None):
        raise ValueError(
            f"Cookie {name!r} uses the __Host- prefix, which needs secure=True, path='/' "
            "and no domain"
        )
    if prefix == "__secure-" and not secure:
        raise ValueError(f"Cookie {name!r} uses the __Secure- prefix, which needs secure=True")


def build_set_cookie(
    name: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | int | float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: SameSite | None = "Lax",
    partitioned: bool = False,
) -> str:
    """Build a ``Set-Cookie`` header value, validating every part now.

    Args:
        name: The cookie name, an RFC 7230 token.
        value: The value, RFC 6265 cookie-octets only (encode anything else first).
        max_age: Lifetime in seconds; also emits a matching ``Expires`` for old clients
            unless `expires` is given.
        expires: Expiry as a datetime (naive means UTC) or a Unix timestamp.
        path: The ``Path`` attribute, or None to leave it out.
        domain: The ``Domain`` attribute, a plain host name; None keeps the cookie host-only.
        secure: Send the cookie over HTTPS only.
        http_only: Hide the cookie from JavaScript.
        same_site: ``"Lax"``, ``"Strict"``, ``"None"`` (needs `secure`) or None to omit.
        partitioned: Add ``Partitioned`` (CHIPS); needs `secure`.

    Returns:
        The header value, e.g. ``sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax``.

    Raises:
        ValueError: A part is invalid or the attributes contradict each other or the name's
            ``__Host-``/``__Secure-`` prefix.
    """
    _check_name(name)
    _check_value(name, value)
    _check_attributes(
        name,
        path=path,
        domain=domain,
        secure=secure,
        same_site=same_site,
        partitioned=partitioned,
    )
    parts = [f"{name}={value}"]
    if path is not None:
        parts.append(f"Path={path}")
    if domain is not None:
        parts.append(f"Domain={domain}")
    if max_age is not None:
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise ValueError(f"max_age must be an int number of seconds, got {max_age!r}")
        parts.append(f"Max-Age={max_age}")
        if expires is None:
            # NOTE: clamped so a huge Max-Age still yields a valid date.
            when = min(max(time.time() + max_age, 0), _MAX_TIMESTAMP)
            parts.append(f"Expires={format_http_date(when)}")
    if expires is not None:
        parts.append(f"Expires={_format_expires(expires)}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if same_site is not None:
        parts.append(f"SameSite={same_site}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def build_delete_cookie(
    name: str,
    *,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: SameSite | None = "Lax",
) -> str:
    """Build a ``Set-Cookie`` value that removes cookie `name` from the browser.

    `path` and `domain` must match the ones the cookie was set with.

    Returns:
        The header value with an empty value, ``Max-Age=0`` and an ``Expires`` in 1970.

    Raises:
        ValueError: As for `build_set_cookie`.
    """
    return build_set_cookie(
        name,
        "",
        max_age=0,
        expires=0,
        path=path,
        domain=domain,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
    )
