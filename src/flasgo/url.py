"""`url_for` for use inside a request (or app) context."""

from __future__ import annotations

from typing import Any

from flasgo.app import current_app

__all__ = ["url_for"]


def url_for(endpoint: str, /, **values: Any) -> str:
    """Build the URL of `endpoint` on the current app (see `Flasgo.url_for`).

    Raises:
        RuntimeError: Called outside a request or app context.
        BuildError: Unknown endpoint or missing/invalid values.
    """
    return current_app.url_for(endpoint, **values)
