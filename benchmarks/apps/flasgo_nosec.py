"""Flasgo with every security default that settings can turn off turned off.

Each key is tried on its own first, so a key Flasgo does not know (yet) is left out and
reported rather than breaking the benchmark.
"""

from typing import Any

from benchmarks.apps.flasgo import build_app

SECURITY_OFF: dict[str, Any] = {
    "ENFORCE_ALLOWED_HOSTS": False,
    "CSRF_ENABLED": False,
    "ENFORCE_NO_STORE_CACHE": False,
    "SECURITY_HEADERS": {},
}


def _accepted(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    accepted: dict[str, Any] = {}
    rejected: dict[str, str] = {}
    for key, value in settings.items():
        try:
            build_app({key: value}, routes=0)
        except Exception as exc:
            rejected[key] = f"{type(exc).__name__}: {exc}"
        else:
            accepted[key] = value
    return accepted, rejected


APPLIED, REJECTED = _accepted(SECURITY_OFF)
app = build_app(APPLIED)
