"""The interactive API docs: the OpenAPI JSON, Swagger UI and ReDoc, served from the package.

`install_docs` runs once, right before the app freezes, when ``ENABLE_DOCS`` is on. It adds
four GET routes: ``OPENAPI_PATH`` (the spec, built once per app), ``DOCS_PATH`` (Swagger UI),
``<DOCS_PATH>/redoc`` (ReDoc) and ``<DOCS_PATH>/static/<name>`` (the UIs' files, vendored from
the npm registry by ``scripts/vendor-docs-assets``). Nothing is loaded from a CDN: the pages
work offline, and their Content-Security-Policy allows scripts only from the app itself plus
one per-response nonce for the small inline script that starts the UI.
"""

from __future__ import annotations

import hashlib
import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from flasgo.exceptions import NotFound
from flasgo.jsonenc import encode_json
from flasgo.request import Request
from flasgo.response import HTML, JSON, Response

if TYPE_CHECKING:
    from flasgo.openapi.documented import DocumentedApp
    from flasgo.settings import Settings

__all__ = ["install_docs"]

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"

# SECURITY: the only files the static route serves; the URL's name is a key here, never a path.
ASSETS: Final[dict[str, tuple[str, str]]] = {
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", _CSS),
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", _JS),
    "redoc.standalone.js": ("redoc/redoc.standalone.js", _JS),
}

ASSET_CACHE_CONTROL: Final = "public, max-age=86400, immutable"

# NOTE: exactly what the vendored UIs need, proven by tests/e2e/test_docs_browser.py (it fails
# on any console error): styles set inline by both UIs, data: images in their CSS, and ReDoc's
# search index built in a Web Worker started from a blob: URL. Anything else is blocked: the
# docs never call out.
_CSP_TEMPLATE: Final = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'{servers}; font-src 'self'; "
    "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{title}</title>
{head}
</head>
<body>
<div id="{mount}"></div>
<script src="{script}"></script>
<script nonce="{nonce}">{init}</script>
</body>
</html>
"""

# NOTE: ReDoc 2.5 always renders Redocly's logo from its CDN. The policy blocks it (the docs
# never call out), which is a console error on every visit; so that one URL becomes an empty
# image before the browser tries it, and ReDoc drops the logo as it does when a load fails.
_REDOC_LOGO_URL: Final = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_REDOC_LOGO_SHIM: Final = (
    # React sets an <img>'s src twice: with setAttribute, then through the property.
    "(function(){var logo='" + _REDOC_LOGO_URL + "',image=HTMLImageElement.prototype,"
    "set=Element.prototype.setAttribute,src=Object.getOwnPropertyDescriptor(image,'src');"
    "function swap(name,value){return name==='src'&&value===logo?'data:,':value;}"
    "image.setAttribute=function(name,value){return set.call(this,name,swap(name,value));};"
    "Object.defineProperty(image,'src',{configurable:true,enumerable:src.enumerable,"
    "get:src.get,set:function(value){src.set.call(this,swap('src',value));}});})();"
)


@dataclass(frozen=True, slots=True)
class Asset:
    """A vendored file held in memory, with its validator."""

    body: bytes
    content_type: str
    etag: str

    @property
    def version(self) -> str:
        """A short content hash for cache-busting URLs."""
        return self.etag.strip('"')[:12]


@cache
def load_asset(name: str) -> Asset:
    """Read one allowlisted file once per process.

    Raises:
        KeyError: `name` is not in the allowlist.
    """
    relative, content_type = ASSETS[name]
    body = (STATIC_DIR / relative).read_bytes()
    return Asset(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def install_docs(app: DocumentedApp) -> None:
    """Register the docs routes on `app` (called by the app when ``ENABLE_DOCS`` is on).

    With ``DOCS_AUTH_BACKEND`` set, the spec and both pages require `IsAuthenticated` through
    that backend (an unknown name fails at startup); the static files are the public UI
    bundles and stay open.
    """
    settings = app.settings
    base = settings.DOCS_PATH.rstrip("/")
    site = _DocsSite(app, base)
    routes: list[tuple[str, Callable[..., Any], str]] = [
        (settings.OPENAPI_PATH, site.openapi, "flasgo_openapi"),
        (settings.DOCS_PATH, site.swagger_ui, "flasgo_docs"),
        (f"{base}/redoc", site.redoc, "flasgo_redoc"),
        (f"{base}/static/<name>", _asset_handler, "flasgo_docs_static"),
    ]
    if settings.DOCS_AUTH_BACKEND is not None:
        from flasgo.security.auth import IsAuthenticated, Requirement, protect

        requirement = Requirement((IsAuthenticated(),), settings.DOCS_AUTH_BACKEND, "docs")
        for _, handler, _ in routes[:3]:
            protect(handler, requirement)
    for rule, handler, name in routes:
        # The docs' own routes are not part of the API they document, and never inherit the
        # app's CORS (another site has no business reading them).
        app.add_route(
            rule, handler, methods=["GET"], name=name, include_in_schema=False, cors=False
        )


class _DocsSite:
    """The four handlers, sharing the app's settings and the cached spec."""

    def __init__(self, app: DocumentedApp, base: str) -> None:
        self.app = app
        self.base = base
        self.settings: Settings = app.settings
        self.csp_servers = "".join(f" {origin}" for origin in _server_origins(app.settings))
        self._spec: bytes | None = None
        # Plain functions (not bound methods) so the handler compiler sees simple signatures.
        self.openapi = self._openapi_handler()
        self.swagger_ui = self._page_handler(self._swagger_page)
        self.redoc = self._page_handler(self._redoc_page)

    def spec_bytes(self) -> bytes:
        # NOTE: routes are frozen once the app serves, so the spec is built once per app.
        if self._spec is None:
            self._spec = encode_json(self.app.openapi())
        return self._spec

    def _openapi_handler(self) -> Callable[[], Any]:
        async def openapi() -> Response:
            return Response(self.spec_bytes(), content_type=JSON)

        return openapi

    def _page_handler(self, render: Callable[[Request, str], str]) -> Callable[..., Any]:
        async def page(request: Request) -> Response:
            nonce = secrets.token_urlsafe(18)
            headers = {
                "content-security-policy": _CSP_TEMPLATE.format(
                    nonce=nonce, servers=self.csp_servers
                ),
                # The nonce is per response: a cached page would replay it.
                "cache-control": "no-store",
                "referrer-policy": "no-referrer",
            }
            return Response(render(request, nonce), headers=headers, content_type=HTML)

        return page

    def _static_url(self, request: Request, name: str) -> str:
        return f"{request.root_path}{self.base}/static/{name}?v={load_asset(name).version}"

    def _swagger_page(self, request: Request, nonce: str) -> str:
        config = {
            "url": request.root_path + self.settings.OPENAPI_PATH,
            "dom_id": "#swagger-ui",
            "deepLinking": True,
            # SECURITY: no ?url=/?configUrl= from the address bar (spec/XSS injection), and
            # no calls to the public validator service.
            "queryConfigEnabled": False,
            "validatorUrl": None,
        }
        init = (
            f"window.ui = SwaggerUIBundle(Object.assign({_script_json(config)}, "
            "{presets: [SwaggerUIBundle.presets.apis]}));"
        )
        css = html.escape(self._static_url(request, "swagger-ui.css"))
        return _PAGE.format(
            title=html.escape(f"{self.settings.API_TITLE} - Swagger UI"),
            head=f'<link rel="stylesheet" href="{css}">',
            mount="swagger-ui",
            script=html.escape(self._static_url(request, "swagger-ui-bundle.js")),
            nonce=nonce,
            init=init,
        )

    def _redoc_page(self, request: Request, nonce: str) -> str:
        spec_url = _script_json(request.root_path + self.settings.OPENAPI_PATH)
        init = f"{_REDOC_LOGO_SHIM}Redoc.init({spec_url}, {{}}, document.getElementById('redoc'));"
        return _PAGE.format(
            title=html.escape(f"{self.settings.API_TITLE} - ReDoc"),
            head="<style>body{margin:0;padding:0}</style>",
            mount="redoc",
            script=html.escape(self._static_url(request, "redoc.standalone.js")),
            nonce=nonce,
            init=init,
        )


async def _asset_handler(request: Request, name: str) -> Response:
    if name not in ASSETS:
        raise NotFound("No such docs asset.")
    asset = load_asset(name)
    headers = {"etag": asset.etag, "cache-control": ASSET_CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), asset.etag):
        return Response(b"", 304, headers, allow_public_cache=True)
    return Response(asset.body, 200, headers, asset.content_type, allow_public_cache=True)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def _script_json(value: object) -> str:
    # SECURITY: JSON inside <script>: escape what could close the tag or open a comment.
    text = encode_json(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _server_origins(settings: Settings) -> list[str]:
    """Origins of absolute ``API_SERVERS`` URLs, so "Try it out" may call them."""
    origins: list[str] = []
    for server in settings.API_SERVERS:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        # SECURITY: only characters that cannot end a CSP source expression or directive.
        if all(c.isalnum() or c in ":/.-[]" for c in origin) and origin not in origins:
            origins.append(origin)
    return origins
