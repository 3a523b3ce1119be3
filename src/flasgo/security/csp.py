"""CSP nonces: `csp_nonce()` gives templates a per-response nonce for inline scripts/styles.

The nonce is made only when asked for; the response's Content-Security-Policy then gets it
added to ``script-src`` and ``style-src`` (creating them from ``'self'`` when the policy has
none), so ``<script nonce="{{ csp_nonce() }}">`` runs while other inline code stays blocked.
"""

from __future__ import annotations

import secrets

from flasgo.context import find_request

__all__ = ["NONCE_KEY", "add_nonce", "csp_nonce"]

NONCE_KEY = "flasgo.csp_nonce"
_DIRECTIVES = ("script-src", "style-src")


def csp_nonce() -> str:
    """The current response's CSP nonce (made on first use).

    Raises:
        RuntimeError: Called outside a request.
    """
    request = find_request()
    if request is None:
        raise RuntimeError("csp_nonce() needs a request: call it from a handler or template.")
    scope = request.scope
    nonce = scope.get(NONCE_KEY)
    if nonce is None:
        nonce = scope[NONCE_KEY] = secrets.token_urlsafe(16)
    return str(nonce)


def add_nonce(policy: str, nonce: str) -> str:
    """Return `policy` with ``'nonce-…'`` allowed for scripts and styles."""
    source = f"'nonce-{nonce}'"
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    seen = set()
    for index, directive in enumerate(directives):
        name = directive.split(None, 1)[0].lower()
        if name in _DIRECTIVES:
            seen.add(name)
            directives[index] = f"{directive} {source}"
    directives.extend(f"{name} 'self' {source}" for name in _DIRECTIVES if name not in seen)
    return "; ".join(directives)


def apply_nonce(headers: list[tuple[bytes, bytes]], nonce: str) -> None:
    """Rewrite the Content-Security-Policy entries of an ASGI header list in place."""
    for index, (name, value) in enumerate(headers):
        if name == b"content-security-policy":
            policy = add_nonce(value.decode("latin-1"), nonce)
            headers[index] = (name, policy.encode("latin-1"))
