"""Which security defaults an app actually applies: probed with requests, not read from settings.

Settings can name a protection the request pipeline does not enforce yet; the report states
what the measured requests really went through.
"""

from __future__ import annotations

from typing import Any

from benchmarks.asgi import ASGIApp, Lifespan, build_scope, call
from benchmarks.endpoints import ENDPOINTS, Endpoint, Probe
from benchmarks.inprocess import load_app, run_on_uvloop

_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


async def _status(app: ASGIApp, scope: dict[str, Any], body: bytes, state: dict[str, Any]) -> int:
    messages = await call(app, scope, body, state)
    status: int = messages[0]["status"] if messages else 0
    return status


async def _probe(app: ASGIApp) -> dict[str, str]:
    lifespan = Lifespan(app)
    await lifespan.startup()
    state = lifespan.state
    try:
        plaintext = _BY_NAME["plaintext"]
        scope = build_scope(plaintext, plaintext.probes[0])
        messages = await call(app, scope, b"", state)
        names = sorted(bytes(k).decode().lower() for k, _ in messages[0].get("headers", []))
        bad_host = {**scope, "headers": [(b"host", b"evil.example"), *scope["headers"][1:]]}
        host_status = await _status(app, bad_host, b"", state)
        echo: Endpoint = _BY_NAME["echo"]
        cross_site = build_scope(echo, Probe("/echo", "", None))
        cross_site["headers"] = [*cross_site["headers"], (b"origin", b"https://evil.example")]
        csrf_status = await _status(app, cross_site, echo.body, state)
    finally:
        await lifespan.shutdown()
    return {
        "response headers on /plaintext": ", ".join(names),
        "Host: evil.example": f"status {host_status}"
        + (" (rejected)" if host_status == 400 else " (NOT rejected)"),
        "cross-site POST /echo without a CSRF token": f"status {csrf_status}"
        + (" (rejected)" if csrf_status == 403 else " (NOT rejected)"),
    }


def probe_security(name: str) -> dict[str, str]:
    """Return what `benchmarks.apps.<name>` does with a bad Host and a cross-site POST."""
    try:
        app = load_app(name)
        result: dict[str, str] = run_on_uvloop(lambda: _probe(app))
    except Exception as exc:
        return {"probe failed": f"{type(exc).__name__}: {exc}"}
    return result
