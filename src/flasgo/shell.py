"""``flasgo shell``: an interactive Python console with the app loaded and its context set.

The namespace holds ``app`` and the names most sessions want (``Flasgo``, ``Settings``,
``current_app``, ``url_for``); ``current_app`` works because the app context is set for the
whole session. IPython is used when it is installed, else the standard console.
"""

from __future__ import annotations

import code
import sys
from typing import Any

from flasgo.context import app_var

__all__ = ["run_shell", "shell_namespace"]


def shell_namespace(app: Any) -> dict[str, Any]:
    """The console's names for `app`."""
    import flasgo

    return {
        "app": app,
        "Flasgo": flasgo.Flasgo,
        "Settings": flasgo.Settings,
        "current_app": flasgo.current_app,
        "url_for": flasgo.url_for,
        "settings": getattr(app, "settings", None),
    }


def run_shell(app: Any, source: str, *, plain: bool = False) -> None:
    """Run the console for `app` (loaded from `source`) until the user leaves it.

    Args:
        app: The app.
        source: Where it came from, for the banner.
        plain: Use the standard console even when IPython is installed.
    """
    namespace = shell_namespace(app)
    banner = (
        f"Python {sys.version.split()[0]} - Flasgo shell for {source}\n"
        f"Names: {', '.join(sorted(namespace))}"
    )
    token = app_var.set(app)
    try:
        if not plain and _ipython(namespace, banner):
            return
        code.interact(banner=banner, local=namespace, exitmsg="")
    finally:
        app_var.reset(token)


def _ipython(namespace: dict[str, Any], banner: str) -> bool:
    try:
        from IPython import start_ipython  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    start_ipython(argv=[], user_ns=namespace, display_banner=False)
    return True
