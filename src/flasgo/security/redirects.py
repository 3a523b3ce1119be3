"""Safe redirect targets: `is_safe_redirect_target` and `redirect_to_next` (``?next=``).

A login form that redirects to ``?next=`` must never send the user to another site. A target
is safe when it is a path on this site (``/notes``, ``notes?x=1``) or an ``http(s)`` URL whose
host is the request's own (or one listed by the caller). Refused, whatever the encoding
(percent-encoded forms are decoded and checked again): scheme-relative ``//evil`` and
``///evil``, backslash forms (``/\\evil``, browsers read ``\\`` as ``/``), ``https:evil``
(a browser completes it to ``https://evil/``), ``javascript:``, ``data:`` and every other
scheme, user-info tricks, control characters, spaces and over-long targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit

from flasgo.context import find_request
from flasgo.response import Response, redirect
from flasgo.security.events import log_security_event

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = ["MAX_REDIRECT_TARGET", "is_safe_redirect_target", "redirect_to_next"]

MAX_REDIRECT_TARGET: Final = 2048
_DECODE_ROUNDS = 4


def _is_safe_text(value: str, hosts: frozenset[str], *, decoded: bool = False) -> bool:
    # SECURITY: browsers drop tabs/newlines inside URLs and trim controls and spaces around
    # them, so any control character or whitespace could hide a scheme or a "//". A space
    # that percent-decoding produced inside the target (``?q=a%20b``) is ordinary text.
    if decoded and not value.startswith(" "):
        value = value.replace(" ", "")
    if any(ord(char) < 0x21 or 0x7F <= ord(char) <= 0xA0 for char in value):
        return False
    if "\\" in value or "\u3000" in value:
        return False
    if value.startswith("//"):
        if value.startswith("///"):
            return False
        return _host_allowed(value, hosts)
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.scheme:
        # A relative reference; ":" before the first "/" would be read as a scheme.
        head = value.split("/", 1)[0]
        return ":" not in head
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return False
    return _host_allowed(value, hosts)


def _host_allowed(value: str, hosts: frozenset[str]) -> bool:
    try:
        parts = urlsplit(value if not value.startswith("//") else f"http:{value}")
        port = parts.port
    except ValueError:
        return False
    if "@" in parts.netloc or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets in a Host value
        host = f"[{host}]"
    return (f"{host}:{port}" if port is not None else host) in hosts


def is_safe_redirect_target(
    target: str | None,
    *,
    allowed_hosts: Iterable[str] = (),
    request: Request | None = None,
) -> bool:
    """Whether redirecting to `target` keeps the user on this site.

    Args:
        target: The candidate, e.g. the ``next`` query value.
        allowed_hosts: More host names (``"example.com"`` or ``"example.com:8443"``) that
            absolute targets may name.
        request: The request whose Host counts as this site; the current one by default.

    Returns:
        True for a same-site path or an ``http(s)`` URL on an allowed host; False otherwise.
    """
    if not target or len(target) > MAX_REDIRECT_TARGET:
        return False
    hosts = {host.lower() for host in allowed_hosts}
    current = request or find_request()
    if current is not None and current.host:
        hosts.add(current.host.lower())
    allowed = frozenset(hosts)
    value = target
    for round_ in range(_DECODE_ROUNDS):
        if not _is_safe_text(value, allowed, decoded=round_ > 0):
            return False
        decoded = unquote(value) if "%" in value else value
        if decoded == value:
            return True
        value = decoded
    # SECURITY: still changing after several decodings: not a link anyone needs.
    return False


def redirect_to_next(
    default: str = "/",
    *,
    param: str = "next",
    code: int = 302,
    allowed_hosts: Iterable[str] = (),
) -> Response:
    """Redirect to the request's ``?next=`` target when it is safe, else to `default`.

    An unsafe target is logged as the ``unsafe-redirect-refused`` security event.

    Raises:
        RuntimeError: Called outside a request.
    """
    request = find_request()
    if request is None:
        raise RuntimeError("redirect_to_next() needs a request: call it inside a handler.")
    values = request.args.getlist(param)
    target = values[0] if len(values) == 1 else None
    if target is not None and is_safe_redirect_target(
        target, allowed_hosts=allowed_hosts, request=request
    ):
        return redirect(target, code)
    if target or len(values) > 1:
        log_security_event("unsafe-redirect-refused", request, param=param)
    return redirect(default, code)
