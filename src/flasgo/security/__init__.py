"""Security building blocks: host checks, proxies, events, signing, SSRF guard and more.

Each module owns one defence; the app wires them into the request pipeline (see app.py).
`build_set_cookie` (from `flasgo.cookies`) is here under upstream Flasgo's path.
"""

from flasgo.cookies import build_set_cookie

__all__ = ["build_set_cookie"]
