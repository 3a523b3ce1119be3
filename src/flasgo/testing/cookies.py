"""The test client's cookie jar: read Set-Cookie headers, build the Cookie header.

The jar is a plain ``dict[str, str]`` keyed by cookie name; Domain and Path are not tracked
(a test talks to one app). Secure cookies are sent over plain ``http`` too: tests run on
``http://localhost``, which browsers treat as a secure context, and Flasgo marks its cookies
Secure by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["cookie_header", "parse_set_cookie", "update_jar"]


def parse_set_cookie(header: str, *, now: datetime | None = None) -> tuple[str, str, bool] | None:
    """Parse one Set-Cookie value.

    Returns:
        ``(name, value, expired)``, where `expired` is true for ``Max-Age <= 0`` or an
        ``Expires`` in the past (Max-Age wins when both are given); None when malformed.
    """
    pair, *attributes = header.split(";")
    name, sep, value = pair.partition("=")
    name = name.strip()
    if not sep or not name:
        return None
    max_age: int | None = None
    expires: datetime | None = None
    for attribute in attributes:
        key, _, raw = attribute.partition("=")
        key = key.strip().lower()
        if key == "max-age":
            try:
                max_age = int(raw.strip())
            except ValueError:
                continue
        elif key == "expires":
            expires = _parse_date(raw.strip())
    if max_age is not None:
        expired = max_age <= 0
    elif expires is not None:
        expired = expires <= (now or datetime.now(UTC))
    else:
        expired = False
    return name, value.strip(), expired


def _parse_date(raw: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def update_jar(jar: dict[str, str], set_cookie_headers: Iterable[str]) -> dict[str, str]:
    """Apply Set-Cookie headers to `jar` and return the cookies they carried (name to value)."""
    carried: dict[str, str] = {}
    for header in set_cookie_headers:
        parsed = parse_set_cookie(header)
        if parsed is None:
            continue
        name, value, expired = parsed
        carried[name] = value
        if expired:
            jar.pop(name, None)
        else:
            jar[name] = value
    return carried


def cookie_header(jar: Mapping[str, str], extra: Mapping[str, str] | None) -> str | None:
    """Build the Cookie header from the jar and a request's own cookies (which win)."""
    cookies = {**jar, **(extra or {})}
    if not cookies:
        return None
    return "; ".join(f"{name}={value}" for name, value in cookies.items())
