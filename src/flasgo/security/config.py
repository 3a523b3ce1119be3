"""`SecurityConfig`: the security settings under their lower-case names, as one object.

Upstream Flasgo apps pass ``Flasgo(security=SecurityConfig(csrf_enabled=False, ...))`` and read
or change ``app.security.csrf_enabled``. Here the settings stay the one source of truth: the
values given to a `SecurityConfig` are written onto the app's settings (validated like any
setting), and ``app.security`` is a live view of them, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from flasgo.settings import Settings, find_setting

__all__ = ["SECURITY_KEYS", "SecurityConfig"]

# The settings a SecurityConfig mirrors (lower-cased): hosts, proxies, CSRF, cookies, limits,
# the failure throttle, security logging, WebSocket origins and the security headers.
SECURITY_KEYS: Final = (
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "ALLOWED_HOSTS",
    "ENFORCE_ALLOWED_HOSTS",
    "TRUSTED_PROXIES",
    "CSRF_ENABLED",
    "CSRF_COOKIE_NAME",
    "CSRF_HEADER_NAME",
    "CSRF_TRUSTED_ORIGINS",
    "CSRF_CHECK_ORIGIN",
    "CSRF_REQUIRE_ORIGIN",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_MAX_AGE",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTP_ONLY",
    "SESSION_COOKIE_SAME_SITE",
    "ENFORCE_NO_STORE_CACHE",
    "MAX_REQUEST_BODY_BYTES",
    "MAX_REQUEST_HEAD_BYTES",
    "MAX_REQUEST_HEADERS",
    "MAX_URL_LENGTH",
    "REQUEST_READ_TIMEOUT_SECONDS",
    "MAX_MULTIPART_PARTS",
    "MAX_FILE_UPLOADS",
    "MAX_FORM_FIELDS",
    "MAX_FORM_MEMORY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_VALIDATION_DEPTH",
    "MAX_VALIDATION_WORK",
    "MAX_VALIDATION_ISSUES",
    "SECURITY_FAILURE_RATE_LIMIT",
    "SECURITY_FAILURE_WINDOW_SECONDS",
    "LOG_SECURITY_EVENTS",
    "TRUST_INCOMING_REQUEST_ID",
    "WEBSOCKET_ENFORCE_ORIGIN",
    "WEBSOCKET_ALLOWED_ORIGINS",
    "WEBSOCKET_ALLOW_MISSING_ORIGIN",
    "WEBSOCKET_MAX_MESSAGE_BYTES",
    "WEBSOCKET_MAX_MESSAGES_PER_MINUTE",
    "SECURITY_HEADERS",
    "PAGE_SECURITY_HEADERS",
    "HSTS_SECONDS",
    "HSTS_INCLUDE_SUBDOMAINS",
    "HSTS_PRELOAD",
)
_BY_LOWER: Final[Mapping[str, str]] = {key.lower(): key for key in SECURITY_KEYS}
# RFC 9110 §9.2.1 safe methods: never state-changing, so never CSRF-checked.
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class SecurityConfig:
    """The security settings by lower-case name (``csrf_enabled`` is ``CSRF_ENABLED``).

    Args:
        **values: Lower-case security settings to set; the others keep their configured
            values. Passed as ``Flasgo(security=...)`` they are written onto the settings.

    Raises:
        TypeError: A name is not a security setting.
    """

    __slots__ = ("_settings", "_values")

    def __init__(self, **values: Any) -> None:
        for name in values:
            _key(name)
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_settings", None)

    @classmethod
    def view(cls, settings: Settings) -> SecurityConfig:
        """A live view of `settings`: reading and assigning go to the settings themselves."""
        config = cls()
        object.__setattr__(config, "_settings", settings)
        return config

    def apply(self, settings: Settings) -> Settings:
        """Return a validated copy of `settings` with this config's values written onto it.

        Raises:
            ConfigurationError: A value is invalid for its setting.
        """
        values: dict[str, Any] = self._values
        return settings.copy(**{_key(name): value for name, value in values.items()})

    @property
    def csrf_safe_methods(self) -> frozenset[str]:
        """The methods never CSRF-checked: GET, HEAD, OPTIONS, TRACE."""
        return _SAFE_METHODS

    def as_dict(self) -> dict[str, Any]:
        """Every security setting by lower-case name (the given ones, else the current)."""
        return {name: getattr(self, name) for name in _BY_LOWER}

    def __getattr__(self, name: str) -> Any:
        key = _BY_LOWER.get(name)
        if key is None:
            raise AttributeError(f"SecurityConfig has no setting {name!r}")
        settings: Settings | None = object.__getattribute__(self, "_settings")
        if settings is not None:
            return getattr(settings, key)
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        return find_setting(key).default

    def __setattr__(self, name: str, value: Any) -> None:
        key = _key(name)
        settings: Settings | None = self._settings
        if settings is not None:
            setattr(settings, key, value)  # validated, as any setting assignment
        else:
            self._values[name] = value

    def __repr__(self) -> str:
        given = self._values if self._settings is None else {"settings": "live"}
        return f"SecurityConfig({given!r})"


def _key(name: str) -> str:
    key = _BY_LOWER.get(name)
    if key is None:
        raise TypeError(
            f"{name!r} is not a security setting; SecurityConfig takes the lower-case names of "
            f"these settings: {', '.join(sorted(_BY_LOWER))}."
        )
    return key
