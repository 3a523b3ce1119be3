"""``flasgo settings``: an app's effective settings, secrets masked, each with its source.

A key's source is ``environment (FLASGO_X)`` when that variable is set and gives the value in
use, ``generated`` for a SECRET_KEY made at startup, ``default`` when the value is the table's
default, else ``code`` (the settings the app was built with). Secret keys (SECRET_KEY,
METRICS_BEARER_TOKEN, ...) are shown as ``********`` when set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from flasgo.exceptions import ConfigurationError
from flasgo.settings import SETTINGS, Settings

__all__ = ["MASK", "EffectiveSetting", "effective_settings"]

MASK = "********"
_MAX_SHOWN = 120


@dataclass(frozen=True, slots=True)
class EffectiveSetting:
    """One key as the app uses it."""

    name: str
    value: str
    source: str

    def as_dict(self) -> dict[str, str]:
        """The row as JSON-ready text."""
        return {"name": self.name, "value": self.value, "source": self.source}


def effective_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[EffectiveSetting]:
    """Every key of `settings` in table order, with its shown value and its source."""
    environ = os.environ if environ is None else environ
    try:
        from_env: Settings | None = Settings.load(None, environ=environ)
    except ConfigurationError:
        from_env = None  # the environment alone is not a valid configuration
    rows = []
    for row in SETTINGS:
        value = getattr(settings, row.name)
        if row.name == "SECRET_KEY" and settings.secret_key_is_generated:
            source = "generated"
        elif row.env in environ and from_env is not None and getattr(from_env, row.name) == value:
            source = f"environment ({row.env})"
        elif value == row.default:
            source = "default"
        else:
            source = "code"
        rows.append(EffectiveSetting(row.name, _show(value, secret=row.secret), source))
    return rows


def _show(value: object, *, secret: bool) -> str:
    if secret and value is not None and value != ():
        return MASK  # SECURITY: never print a secret, not even its length
    if isinstance(value, frozenset):
        value = sorted(value)
    elif isinstance(value, Mapping):
        value = dict(value)
    elif isinstance(value, tuple):
        value = list(value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[: _MAX_SHOWN - 3]}..."
