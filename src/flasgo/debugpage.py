"""The DEBUG error page: what went wrong, for the developer, never in production.

With ``DEBUG`` on, an unhandled exception becomes an HTML page for browsers (the traceback
with source lines around each frame, template frames at their template line, a summary of
the request and the settings) or, for API clients, a JSON problem body
(``application/problem+json``) with the same traceback. Secret-looking values (settings
marked secret, names with KEY/SECRET/TOKEN/PASSWORD..., credentials inside URLs, the
Cookie and Authorization headers) are redacted. Everything shown is HTML-escaped; the
page's one stylesheet carries the response's CSP nonce.
"""

from __future__ import annotations

import html
import linecache
import re
import traceback
from typing import TYPE_CHECKING, Any, Final

from flasgo.jsonenc import encode_json
from flasgo.response import HTML, Response

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = ["debug_response", "redact"]

REDACTED: Final = "********"
_SECRET_NAME = re.compile(
    r"KEY|SECRET|TOKEN|PASS|PWD|CREDENTIAL|PRIVATE|SIGNATURE|AUTH|COOKIE|SESSION_ID|DSN",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_HEADERS: Final = frozenset({"cookie", "authorization", "proxy-authorization"})
_CONTEXT_LINES = 5
_MAX_FRAMES = 40
_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2rem;color:#222}"
    "h1{color:#b00020;font-size:1.4rem}pre{background:#f6f6f6;padding:.5rem;overflow:auto}"
    ".frame{margin:1rem 0}.where{font-weight:600}.hot{background:#ffe0e0}"
    "table{border-collapse:collapse}td{border-top:1px solid #ddd;padding:2px 8px;"
    "vertical-align:top;font-family:monospace}"
)


def redact(name: str, value: object, *, secret: bool = False) -> str:
    """`value` as text for the page, or ``********`` when it looks like a secret."""
    if secret or _SECRET_NAME.search(name):
        return REDACTED
    text = repr(value) if not isinstance(value, str) else value
    return _URL_CREDENTIALS.sub(f"{REDACTED}@", text)[:500]


def _frames(exc: BaseException) -> list[dict[str, Any]]:
    frames = []
    for summary in traceback.extract_tb(exc.__traceback__)[-_MAX_FRAMES:]:
        lineno = summary.lineno or 0
        lines = [
            (number, linecache.getline(summary.filename, number).rstrip("\n"))
            for number in range(max(lineno - _CONTEXT_LINES, 1), lineno + _CONTEXT_LINES + 1)
        ]
        frames.append(
            {
                "file": summary.filename,
                "line": lineno,
                "function": summary.name,
                "template": not summary.filename.endswith(".py"),
                "source": [{"line": n, "code": code} for n, code in lines if code or n == lineno],
            }
        )
    return frames


def _settings(request: Request) -> list[tuple[str, str]]:
    from flasgo.settings import SETTINGS

    settings = request.app.settings
    return [
        (row.name, redact(row.name, getattr(settings, row.name), secret=row.secret))
        for row in SETTINGS
    ]


def _headers(request: Request) -> list[tuple[str, str]]:
    return [
        (name, REDACTED if name in _SECRET_HEADERS else redact(name, value))
        for name, value in request.headers.items()
    ]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def debug_response(request: Request, exc: BaseException) -> Response:
    """The 500 for `exc` while ``DEBUG`` is on: an HTML page or a JSON problem body."""
    frames = _frames(exc)
    title = f"{type(exc).__name__}: {exc}"
    if not _wants_html(request):
        problem = {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": title[:2000],
            "exception": type(exc).__qualname__,
            "traceback": [
                {k: frame[k] for k in ("file", "line", "function", "template")} for frame in frames
            ],
            "debug": True,
        }
        return Response(encode_json(problem), 500, content_type="application/problem+json")
    return Response(_page(request, title, frames), 500, content_type=HTML)


def _page(request: Request, title: str, frames: list[dict[str, Any]]) -> str:
    from flasgo.security.csp import csp_nonce

    escape = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{escape(title[:200])}</title>",
        f"<style nonce='{escape(csp_nonce())}'>{_STYLE}</style></head><body>",
        f"<h1>{escape(title[:2000])}</h1>",
        "<p>Shown because DEBUG is on. Never run with DEBUG in production.</p>",
        "<h2>Traceback (most recent call last)</h2>",
    ]
    for frame in frames:
        kind = "template" if frame["template"] else "in"
        parts.append(
            f"<div class='frame'><div class='where'>{escape(frame['file'])}, line "
            f"{frame['line']}, {kind} {escape(frame['function'])}</div><pre>"
        )
        for source in frame["source"]:
            hot = " class='hot'" if source["line"] == frame["line"] else ""
            parts.append(f"<span{hot}>{source['line']:>5}  {escape(source['code'])}</span>\n")
        parts.append("</pre></div>")
    parts.append("<h2>Request</h2><table>")
    summary = [("method", request.method), ("path", request.path)]
    summary.extend((f"?{name}", redact(name, value)) for name, value in request.args.items())
    for name, value in [*summary, *_headers(request)]:
        parts.append(f"<tr><td>{escape(name)}</td><td>{escape(value)}</td></tr>")
    parts.append("</table><h2>Settings</h2><table>")
    for name, value in _settings(request):
        parts.append(f"<tr><td>{escape(name)}</td><td>{escape(value)}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)
