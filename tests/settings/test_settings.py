"""Tests for flasgo.settings: defaults, validation, sources, environment and assignment."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace
from typing import Literal, get_type_hints

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from flasgo.exceptions import ConfigurationError
from flasgo.settings import SETTINGS, Settings, find_setting, settings_reference

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 32
TOKEN = "t" * 40
NO_ENV: dict[str, str] = {}

EXPECTED_DEFAULTS: dict[str, object] = {
    "DEBUG": False,
    "SECRET_KEY_FALLBACKS": [],
    "ALLOWED_HOSTS": {"localhost", "127.0.0.1", "[::1]"},
    "ENFORCE_ALLOWED_HOSTS": True,
    "TRUSTED_PROXIES": set(),
    "CSRF_ENABLED": True,
    "CSRF_COOKIE_NAME": "flasgo-csrf",
    "CSRF_HEADER_NAME": "x-csrf-token",
    "CSRF_TRUSTED_ORIGINS": set(),
    "CSRF_CHECK_ORIGIN": True,
    "CSRF_REQUIRE_ORIGIN": True,
    "CSRF_COOKIE_SECURE": True,
    "SESSION_COOKIE_NAME": "flasgo-session",
    "SESSION_COOKIE_MAX_AGE": 604800,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTP_ONLY": True,
    "SESSION_COOKIE_SAME_SITE": "Lax",
    "SESSION_REFRESH_EACH_REQUEST": False,
    "REDIS_URL": None,
    "REDIS_TIMEOUT_SECONDS": 2.0,
    "ENFORCE_NO_STORE_CACHE": True,
    "MAX_REQUEST_BODY_BYTES": 1048576,
    "MAX_REQUEST_HEAD_BYTES": 16384,
    "MAX_REQUEST_HEADERS": 100,
    "MAX_URL_LENGTH": 8192,
    "REQUEST_READ_TIMEOUT_SECONDS": 10.0,
    "MAX_MULTIPART_PARTS": 1000,
    "MAX_FILE_UPLOADS": 100,
    "MAX_FORM_FIELDS": 1000,
    "MAX_FORM_MEMORY_BYTES": 1048576,
    "MAX_JSON_DEPTH": 64,
    "MAX_VALIDATION_DEPTH": 64,
    "MAX_VALIDATION_WORK": 10000,
    "MAX_VALIDATION_ISSUES": 100,
    "REDIRECT_TRAILING_SLASH": False,
    "THREAD_POOL_SIZE": 40,
    "SECURITY_FAILURE_RATE_LIMIT": 50,
    "SECURITY_FAILURE_WINDOW_SECONDS": 60,
    "CLIENT_IPV6_PREFIX": 64,
    "LOG_SECURITY_EVENTS": True,
    "TRUST_INCOMING_REQUEST_ID": False,
    "LOG_FORMAT": "text",
    "LOG_LEVEL": "INFO",
    "WEBSOCKET_ENFORCE_ORIGIN": True,
    "WEBSOCKET_ALLOWED_ORIGINS": set(),
    "WEBSOCKET_ALLOW_MISSING_ORIGIN": False,
    "WEBSOCKET_MAX_MESSAGE_BYTES": 65536,
    "WEBSOCKET_MAX_MESSAGES_PER_MINUTE": 120,
    "WEBSOCKET_MESSAGE_BURST": 30,
    "WEBSOCKET_HANDSHAKE_TIMEOUT": 10.0,
    "WEBSOCKET_SEND_QUEUE_SIZE": 64,
    "WEBSOCKET_SEND_TIMEOUT": 5.0,
    "WEBSOCKET_IDLE_TIMEOUT": 0.0,
    "SERVER_LIMIT_CONCURRENCY": 1000,
    "WORKERS": None,
    "TASKS_BACKEND": "auto",
    "TASKS_DATABASE": "flasgo-tasks.sqlite3",
    "TASKS_CONCURRENCY": 4,
    "TASKS_LEASE_SECONDS": 30.0,
    "TASKS_DRAIN_SECONDS": 10.0,
    "TASKS_IN_PROCESS_WORKER": False,
    "CACHE_MAX_ENTRIES": 10_000,
    "CACHE_DEFAULT_TTL_SECONDS": 300.0,
    "CACHE_L1_TTL_SECONDS": 5.0,
    "HEALTH_ENABLED": False,
    "HEALTH_CHECK_TIMEOUT_SECONDS": 2.0,
    "SHUTDOWN_TIMEOUT_SECONDS": 10,
    "ACCESS_LOG": "auto",
    "METRICS_ENABLED": False,
    "METRICS_PATH": "/metrics",
    "METRICS_BEARER_TOKEN": None,
    "METRICS_EVENT_LOOP_ENABLED": True,
    "METRICS_EVENT_LOOP_INTERVAL_SECONDS": 0.1,
    "OTEL_ENABLED": False,
    "OTEL_SERVICE_NAME": "flasgo",
    "OTEL_SERVICE_VERSION": None,
    "OTEL_TRACE_SAMPLE_RATIO": 1.0,
    "OTEL_EXCLUDED_PATHS": set(),
    "OTEL_SET_GLOBAL_PROVIDER": True,
    "ENABLE_DOCS": False,
    "DOCS_AUTH_BACKEND": None,
    "DOCS_PATH": "/docs",
    "OPENAPI_PATH": "/openapi.json",
    "API_TITLE": "Flasgo API",
    "API_VERSION": None,
    "API_DESCRIPTION": "",
    "API_SERVERS": [],
    "SSRF_ENABLED": True,
    "SSRF_ALLOWED_SCHEMES": {"http", "https"},
    "SSRF_ALLOWED_HOSTS": set(),
    "SSRF_ALLOW_PRIVATE_NETWORKS": False,
    "SSRF_ALLOW_USERINFO": False,
    "SSRF_ALLOW_UNRESOLVABLE_HOSTS": False,
    "SSRF_RESOLUTION_TIMEOUT_SECONDS": 5.0,
    "SECURITY_HEADERS": {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "strict-origin-when-cross-origin",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    },
    "PAGE_SECURITY_HEADERS": {
        "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "cross-origin-opener-policy": "same-origin",
    },
    "HSTS_SECONDS": 63072000,
    "HSTS_INCLUDE_SUBDOMAINS": True,
    "HSTS_PRELOAD": False,
    "COMPRESSION_ENABLED": True,
    "COMPRESSION_MIN_BYTES": 1024,
    "COMPRESSION_GZIP_LEVEL": 6,
    "EXTRA": {},
}


# The table as it ships: name, annotated type, default, environment variable. A change here is a
# change of the public settings: update docs/settings.md (scripts/gen-settings-doc) with it.
TABLE_SNAPSHOT: list[tuple[str, str, object, str]] = [
    ("DEBUG", "bool", False, "FLASGO_DEBUG"),
    ("SECRET_KEY", "str", None, "FLASGO_SECRET_KEY"),
    ("SECRET_KEY_FALLBACKS", "tuple[str, ...]", (), "FLASGO_SECRET_KEY_FALLBACKS"),
    (
        "ALLOWED_HOSTS",
        "frozenset[str]",
        frozenset(["127.0.0.1", "[::1]", "localhost"]),
        "FLASGO_ALLOWED_HOSTS",
    ),
    ("ENFORCE_ALLOWED_HOSTS", "bool", True, "FLASGO_ENFORCE_ALLOWED_HOSTS"),
    ("TRUSTED_PROXIES", "frozenset[str]", frozenset(), "FLASGO_TRUSTED_PROXIES"),
    ("CSRF_ENABLED", "bool", True, "FLASGO_CSRF_ENABLED"),
    ("CSRF_COOKIE_NAME", "str", "flasgo-csrf", "FLASGO_CSRF_COOKIE_NAME"),
    ("CSRF_HEADER_NAME", "str", "x-csrf-token", "FLASGO_CSRF_HEADER_NAME"),
    ("CSRF_TRUSTED_ORIGINS", "frozenset[str]", frozenset(), "FLASGO_CSRF_TRUSTED_ORIGINS"),
    ("CSRF_CHECK_ORIGIN", "bool", True, "FLASGO_CSRF_CHECK_ORIGIN"),
    ("CSRF_REQUIRE_ORIGIN", "bool", True, "FLASGO_CSRF_REQUIRE_ORIGIN"),
    ("CSRF_COOKIE_SECURE", "bool", True, "FLASGO_CSRF_COOKIE_SECURE"),
    ("SESSION_COOKIE_NAME", "str", "flasgo-session", "FLASGO_SESSION_COOKIE_NAME"),
    ("SESSION_COOKIE_MAX_AGE", "int", 604800, "FLASGO_SESSION_COOKIE_MAX_AGE"),
    ("SESSION_COOKIE_SECURE", "bool", True, "FLASGO_SESSION_COOKIE_SECURE"),
    ("SESSION_COOKIE_HTTP_ONLY", "bool", True, "FLASGO_SESSION_COOKIE_HTTP_ONLY"),
    (
        "SESSION_COOKIE_SAME_SITE",
        "Literal['Lax', 'Strict', 'None']",
        "Lax",
        "FLASGO_SESSION_COOKIE_SAME_SITE",
    ),
    ("SESSION_REFRESH_EACH_REQUEST", "bool", False, "FLASGO_SESSION_REFRESH_EACH_REQUEST"),
    ("REDIS_URL", "str | None", None, "FLASGO_REDIS_URL"),
    ("REDIS_TIMEOUT_SECONDS", "float", 2.0, "FLASGO_REDIS_TIMEOUT_SECONDS"),
    ("ENFORCE_NO_STORE_CACHE", "bool", True, "FLASGO_ENFORCE_NO_STORE_CACHE"),
    ("MAX_REQUEST_BODY_BYTES", "int", 1048576, "FLASGO_MAX_REQUEST_BODY_BYTES"),
    ("MAX_REQUEST_HEAD_BYTES", "int", 16384, "FLASGO_MAX_REQUEST_HEAD_BYTES"),
    ("MAX_REQUEST_HEADERS", "int", 100, "FLASGO_MAX_REQUEST_HEADERS"),
    ("MAX_URL_LENGTH", "int", 8192, "FLASGO_MAX_URL_LENGTH"),
    ("REQUEST_READ_TIMEOUT_SECONDS", "float", 10.0, "FLASGO_REQUEST_READ_TIMEOUT_SECONDS"),
    ("MAX_MULTIPART_PARTS", "int", 1000, "FLASGO_MAX_MULTIPART_PARTS"),
    ("MAX_FILE_UPLOADS", "int", 100, "FLASGO_MAX_FILE_UPLOADS"),
    ("MAX_FORM_FIELDS", "int", 1000, "FLASGO_MAX_FORM_FIELDS"),
    ("MAX_FORM_MEMORY_BYTES", "int", 1048576, "FLASGO_MAX_FORM_MEMORY_BYTES"),
    ("MAX_JSON_DEPTH", "int", 64, "FLASGO_MAX_JSON_DEPTH"),
    ("MAX_VALIDATION_DEPTH", "int", 64, "FLASGO_MAX_VALIDATION_DEPTH"),
    ("MAX_VALIDATION_WORK", "int", 10000, "FLASGO_MAX_VALIDATION_WORK"),
    ("MAX_VALIDATION_ISSUES", "int", 100, "FLASGO_MAX_VALIDATION_ISSUES"),
    ("REDIRECT_TRAILING_SLASH", "bool", False, "FLASGO_REDIRECT_TRAILING_SLASH"),
    ("THREAD_POOL_SIZE", "int", 40, "FLASGO_THREAD_POOL_SIZE"),
    ("SECURITY_FAILURE_RATE_LIMIT", "int", 50, "FLASGO_SECURITY_FAILURE_RATE_LIMIT"),
    ("SECURITY_FAILURE_WINDOW_SECONDS", "int", 60, "FLASGO_SECURITY_FAILURE_WINDOW_SECONDS"),
    ("CLIENT_IPV6_PREFIX", "int", 64, "FLASGO_CLIENT_IPV6_PREFIX"),
    ("LOG_SECURITY_EVENTS", "bool", True, "FLASGO_LOG_SECURITY_EVENTS"),
    ("TRUST_INCOMING_REQUEST_ID", "bool", False, "FLASGO_TRUST_INCOMING_REQUEST_ID"),
    ("LOG_FORMAT", "Literal['text', 'json']", "text", "FLASGO_LOG_FORMAT"),
    ("LOG_LEVEL", "str", "INFO", "FLASGO_LOG_LEVEL"),
    ("WEBSOCKET_ENFORCE_ORIGIN", "bool", True, "FLASGO_WEBSOCKET_ENFORCE_ORIGIN"),
    (
        "WEBSOCKET_ALLOWED_ORIGINS",
        "frozenset[str]",
        frozenset(),
        "FLASGO_WEBSOCKET_ALLOWED_ORIGINS",
    ),
    ("WEBSOCKET_ALLOW_MISSING_ORIGIN", "bool", False, "FLASGO_WEBSOCKET_ALLOW_MISSING_ORIGIN"),
    ("WEBSOCKET_MAX_MESSAGE_BYTES", "int", 65536, "FLASGO_WEBSOCKET_MAX_MESSAGE_BYTES"),
    ("WEBSOCKET_MAX_MESSAGES_PER_MINUTE", "int", 120, "FLASGO_WEBSOCKET_MAX_MESSAGES_PER_MINUTE"),
    ("WEBSOCKET_MESSAGE_BURST", "int", 30, "FLASGO_WEBSOCKET_MESSAGE_BURST"),
    ("WEBSOCKET_HANDSHAKE_TIMEOUT", "float", 10.0, "FLASGO_WEBSOCKET_HANDSHAKE_TIMEOUT"),
    ("WEBSOCKET_SEND_QUEUE_SIZE", "int", 64, "FLASGO_WEBSOCKET_SEND_QUEUE_SIZE"),
    ("WEBSOCKET_SEND_TIMEOUT", "float", 5.0, "FLASGO_WEBSOCKET_SEND_TIMEOUT"),
    ("WEBSOCKET_IDLE_TIMEOUT", "float", 0.0, "FLASGO_WEBSOCKET_IDLE_TIMEOUT"),
    ("SERVER_LIMIT_CONCURRENCY", "int", 1000, "FLASGO_SERVER_LIMIT_CONCURRENCY"),
    ("WORKERS", "int | None", None, "FLASGO_WORKERS"),
    ("TASKS_BACKEND", "Literal['auto', 'sqlite', 'redis']", "auto", "FLASGO_TASKS_BACKEND"),
    ("TASKS_DATABASE", "str", "flasgo-tasks.sqlite3", "FLASGO_TASKS_DATABASE"),
    ("TASKS_CONCURRENCY", "int", 4, "FLASGO_TASKS_CONCURRENCY"),
    ("TASKS_LEASE_SECONDS", "float", 30.0, "FLASGO_TASKS_LEASE_SECONDS"),
    ("TASKS_DRAIN_SECONDS", "float", 10.0, "FLASGO_TASKS_DRAIN_SECONDS"),
    ("TASKS_IN_PROCESS_WORKER", "bool", False, "FLASGO_TASKS_IN_PROCESS_WORKER"),
    ("CACHE_MAX_ENTRIES", "int", 10000, "FLASGO_CACHE_MAX_ENTRIES"),
    ("CACHE_DEFAULT_TTL_SECONDS", "float", 300.0, "FLASGO_CACHE_DEFAULT_TTL_SECONDS"),
    ("CACHE_L1_TTL_SECONDS", "float", 5.0, "FLASGO_CACHE_L1_TTL_SECONDS"),
    ("HEALTH_ENABLED", "bool", False, "FLASGO_HEALTH_ENABLED"),
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "float", 2.0, "FLASGO_HEALTH_CHECK_TIMEOUT_SECONDS"),
    ("SHUTDOWN_TIMEOUT_SECONDS", "int", 10, "FLASGO_SHUTDOWN_TIMEOUT_SECONDS"),
    ("ACCESS_LOG", "str", "auto", "FLASGO_ACCESS_LOG"),
    ("METRICS_ENABLED", "bool", False, "FLASGO_METRICS_ENABLED"),
    ("METRICS_PATH", "str", "/metrics", "FLASGO_METRICS_PATH"),
    ("METRICS_BEARER_TOKEN", "str | None", None, "FLASGO_METRICS_BEARER_TOKEN"),
    ("METRICS_EVENT_LOOP_ENABLED", "bool", True, "FLASGO_METRICS_EVENT_LOOP_ENABLED"),
    (
        "METRICS_EVENT_LOOP_INTERVAL_SECONDS",
        "float",
        0.1,
        "FLASGO_METRICS_EVENT_LOOP_INTERVAL_SECONDS",
    ),
    ("OTEL_ENABLED", "bool", False, "FLASGO_OTEL_ENABLED"),
    ("OTEL_SERVICE_NAME", "str", "flasgo", "FLASGO_OTEL_SERVICE_NAME"),
    ("OTEL_SERVICE_VERSION", "str | None", None, "FLASGO_OTEL_SERVICE_VERSION"),
    ("OTEL_TRACE_SAMPLE_RATIO", "float", 1.0, "FLASGO_OTEL_TRACE_SAMPLE_RATIO"),
    ("OTEL_EXCLUDED_PATHS", "frozenset[str]", frozenset(), "FLASGO_OTEL_EXCLUDED_PATHS"),
    ("OTEL_SET_GLOBAL_PROVIDER", "bool", True, "FLASGO_OTEL_SET_GLOBAL_PROVIDER"),
    ("ENABLE_DOCS", "bool", False, "FLASGO_ENABLE_DOCS"),
    ("DOCS_AUTH_BACKEND", "str | None", None, "FLASGO_DOCS_AUTH_BACKEND"),
    ("DOCS_PATH", "str", "/docs", "FLASGO_DOCS_PATH"),
    ("OPENAPI_PATH", "str", "/openapi.json", "FLASGO_OPENAPI_PATH"),
    ("API_TITLE", "str", "Flasgo API", "FLASGO_API_TITLE"),
    ("API_VERSION", "str | None", None, "FLASGO_API_VERSION"),
    ("API_DESCRIPTION", "str", "", "FLASGO_API_DESCRIPTION"),
    ("API_SERVERS", "tuple[str, ...]", (), "FLASGO_API_SERVERS"),
    ("SSRF_ENABLED", "bool", True, "FLASGO_SSRF_ENABLED"),
    (
        "SSRF_ALLOWED_SCHEMES",
        "frozenset[str]",
        frozenset(["http", "https"]),
        "FLASGO_SSRF_ALLOWED_SCHEMES",
    ),
    ("SSRF_ALLOWED_HOSTS", "frozenset[str]", frozenset(), "FLASGO_SSRF_ALLOWED_HOSTS"),
    ("SSRF_ALLOW_PRIVATE_NETWORKS", "bool", False, "FLASGO_SSRF_ALLOW_PRIVATE_NETWORKS"),
    ("SSRF_ALLOW_USERINFO", "bool", False, "FLASGO_SSRF_ALLOW_USERINFO"),
    ("SSRF_ALLOW_UNRESOLVABLE_HOSTS", "bool", False, "FLASGO_SSRF_ALLOW_UNRESOLVABLE_HOSTS"),
    (
        "SSRF_RESOLUTION_TIMEOUT_SECONDS",
        "float | None",
        5.0,
        "FLASGO_SSRF_RESOLUTION_TIMEOUT_SECONDS",
    ),
    (
        "SECURITY_HEADERS",
        "Mapping[str, str]",
        EXPECTED_DEFAULTS["SECURITY_HEADERS"],
        "FLASGO_SECURITY_HEADERS",
    ),
    (
        "PAGE_SECURITY_HEADERS",
        "Mapping[str, str]",
        EXPECTED_DEFAULTS["PAGE_SECURITY_HEADERS"],
        "FLASGO_PAGE_SECURITY_HEADERS",
    ),
    ("HSTS_SECONDS", "int", 63072000, "FLASGO_HSTS_SECONDS"),
    ("HSTS_INCLUDE_SUBDOMAINS", "bool", True, "FLASGO_HSTS_INCLUDE_SUBDOMAINS"),
    ("HSTS_PRELOAD", "bool", False, "FLASGO_HSTS_PRELOAD"),
    ("COMPRESSION_ENABLED", "bool", True, "FLASGO_COMPRESSION_ENABLED"),
    ("COMPRESSION_MIN_BYTES", "int", 1024, "FLASGO_COMPRESSION_MIN_BYTES"),
    ("COMPRESSION_GZIP_LEVEL", "int", 6, "FLASGO_COMPRESSION_GZIP_LEVEL"),
    ("EXTRA", "dict[str, object]", {}, "FLASGO_EXTRA"),
]


SECRET_ROWS = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "REDIS_URL", "METRICS_BEARER_TOKEN"}


def assign(settings: Settings, name: str, value: object) -> None:
    setattr(settings, name, value)


def load(source: object = None, **environ: str) -> Settings:
    return Settings.load(source, environ=environ)


def fails(match: str) -> AbstractContextManager[pytest.ExceptionInfo[ConfigurationError]]:
    return pytest.raises(ConfigurationError, match=match)


# --- defaults -----------------------------------------------------------------------------------


def test_every_default_is_pinned() -> None:
    values = load().as_dict()
    secret = values.pop("SECRET_KEY")
    assert isinstance(secret, str)
    assert values == EXPECTED_DEFAULTS


def test_default_security_headers_leave_hsts_to_its_own_keys() -> None:
    settings = Settings()
    assert "strict-transport-security" not in settings.SECURITY_HEADERS
    assert "strict-transport-security" not in settings.PAGE_SECURITY_HEADERS
    assert settings.PAGE_SECURITY_HEADERS["cross-origin-opener-policy"] == "same-origin"
    assert (settings.HSTS_SECONDS, settings.HSTS_INCLUDE_SUBDOMAINS) == (63072000, True)
    assert settings.HSTS_PRELOAD is False


def test_the_settings_table_is_pinned() -> None:
    assert [(row.name, row.type, row.default, row.env) for row in SETTINGS] == TABLE_SNAPSHOT
    assert {row.name for row in SETTINGS if row.secret} == SECRET_ROWS
    assert all(row.description.endswith(".") for row in SETTINGS)


def test_the_table_types_are_the_attribute_types() -> None:
    hints = get_type_hints(Settings)
    hints.pop("_secret_key_is_generated")
    assert list(hints) == [row.name for row in SETTINGS]
    assert hints["SESSION_COOKIE_SAME_SITE"] == Literal["Lax", "Strict", "None"]
    assert hints["WORKERS"] == int | None


def test_every_key_is_a_slot_read_as_a_plain_attribute() -> None:
    settings = Settings()
    assert not hasattr(settings, "__dict__")
    for row in SETTINGS:
        assert type(Settings.__dict__[row.name]).__name__ == "member_descriptor"


def test_find_setting_returns_the_row_or_suggests_a_name() -> None:
    row = find_setting("HSTS_SECONDS")
    assert (row.env, row.env_kind, row.default) == ("FLASGO_HSTS_SECONDS", "int", 63_072_000)
    with fails(r"^Unknown setting 'HSTS_SECOND'\. Did you mean 'HSTS_SECONDS'\?"):
        find_setting("HSTS_SECOND")


def test_the_settings_reference_is_generated_from_the_table() -> None:
    text = settings_reference()
    for row in SETTINGS:
        assert f"## `{row.name}`\n\n{row.description}\n" in text
        assert f"- Environment: `{row.env}`, " in text
    assert "| [`REDIS_URL`](#redis_url) | `str \\| None` | `None` |" in text
    assert "- Default: `['127.0.0.1', '[::1]', 'localhost']`" in text


def test_docs_settings_md_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert committed == settings_reference(), "run scripts/gen-settings-doc and commit the result"


def test_the_readme_links_the_settings_reference() -> None:
    assert "(docs/settings.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_plain_construction_does_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASGO_DEBUG", "true")
    assert Settings().DEBUG is False


# --- secret key ---------------------------------------------------------------------------------


def test_missing_secret_key_is_generated_and_flagged() -> None:
    first, second = Settings(), load()
    assert first.secret_key_is_generated
    assert second.secret_key_is_generated
    assert len(first.SECRET_KEY) >= 64
    assert first.SECRET_KEY != second.SECRET_KEY
    assert Settings(SECRET_KEY=None).secret_key_is_generated


def test_given_secret_key_is_not_flagged() -> None:
    settings = load({"SECRET_KEY": KEY})
    assert settings.SECRET_KEY == KEY
    assert settings.secret_key_is_generated is False


def test_assigning_secret_key_updates_the_flag() -> None:
    settings = Settings()
    flags = [settings.secret_key_is_generated]
    settings.SECRET_KEY = KEY
    flags.append(settings.secret_key_is_generated)
    assign(settings, "SECRET_KEY", None)
    flags.append(settings.secret_key_is_generated)
    assert flags == [True, False, True]
    assert settings.SECRET_KEY != KEY


def test_secret_key_flag_is_read_only() -> None:
    settings = Settings()
    with fails("Unknown setting 'secret_key_is_generated'"):
        settings.secret_key_is_generated = False  # type: ignore[misc]  # testing the refusal


def test_copy_keeps_the_secret_key_and_its_origin() -> None:
    generated = Settings()
    clone = generated.copy(DEBUG=True)
    assert clone.SECRET_KEY == generated.SECRET_KEY
    assert clone.secret_key_is_generated
    assert generated.copy(SECRET_KEY=KEY).secret_key_is_generated is False


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("short", "at least 32 characters, got 5; generate one with"),
        ("dev-insecure-secret-change-this", "published placeholder"),
        ("dev-insecure-secret-change-this-but-longer-now", "published placeholder"),
        (12345678901234567890123456789012345, "must be a string"),
    ],
)
def test_bad_secret_keys_are_refused(value: object, match: str) -> None:
    with fails(match) as info:
        Settings(SECRET_KEY=value)
    assert "short" not in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SECRET_KEY", b"a-bytes-secret-that-must-not-be-logged"),
        ("SECRET_KEY_FALLBACKS", "a-str-secret-that-must-not-be-logged"),
        ("SECRET_KEY_FALLBACKS", [b"a-bytes-secret-that-must-not-be-logged"]),
        ("METRICS_BEARER_TOKEN", b"a-bytes-secret-that-must-not-be-logged"),
        ("REDIS_URL", "http://user:must-not-be-logged@host"),
    ],
)
def test_secret_values_never_appear_in_messages(key: str, value: object) -> None:
    with fails(key) as info:
        Settings(**{key: value})
    assert "must-not-be-logged" not in str(info.value)


def test_secret_key_fallbacks_are_validated() -> None:
    settings = Settings(SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=["f" * 32, "g" * 40])
    assert settings.SECRET_KEY_FALLBACKS == ("f" * 32, "g" * 40)
    with fails("SECRET_KEY_FALLBACKS must be at least 32 characters"):
        Settings(SECRET_KEY_FALLBACKS=["tooshort"])
    with fails("SECRET_KEY_FALLBACKS must be a collection"):
        Settings(SECRET_KEY_FALLBACKS="f" * 32)


# --- hosts, origins, networks -------------------------------------------------------------------


def test_allowed_hosts_refuses_wildcard_with_the_documented_message() -> None:
    with fails(r"^ALLOWED_HOSTS must not contain '\*'; list the host names this app answers to"):
        Settings(ALLOWED_HOSTS=["*"])
    with fails(r"'\.example\.com' to allow every subdomain"):
        Settings(ALLOWED_HOSTS=["*.example.com"])


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("https://example.com", "must not include a scheme"),
        ("user@example.com", "must not include user information"),
        ("example.com/admin", "must not include a path"),
        ("example.com?x", "must not include a path"),
        ("example.com:8000", "must not include a port"),
        ("[::1]:8000", "must not include a port"),
        ("exa mple.com", "whitespace"),
        ("example.com\n", "whitespace"),
        ("", "is empty"),
        ("exa..mple.com", "not a valid host name"),
        ("-example.com", "not a valid host name"),
        ("a" * 254, "not a valid host name"),
        ("999.1.1.1", "not a valid IPv4 address"),
        ("[fe80::1%eth0]", "not a valid IPv6 address"),
        ("[1.2.3.4]", "not a valid IPv6 address"),
        ("[::1", "not a valid IPv6 address"),
        ("::1]", "not a valid IPv6 address"),
        ("xn--\u00e9..de", "not a valid host name"),
    ],
)
def test_bad_allowed_hosts_say_what_to_write(entry: str, match: str) -> None:
    with fails(match) as info:
        Settings(ALLOWED_HOSTS=[entry])
    assert str(info.value).startswith("ALLOWED_HOSTS entry")


def test_allowed_hosts_are_normalised() -> None:
    hosts = ["Example.COM.", ".Sub.Example.com", "::1", "[0:0::1]", "b\u00fccher.de", "10.0.0.1"]
    settings = Settings(ALLOWED_HOSTS=hosts)
    assert {
        "example.com",
        ".sub.example.com",
        "[::1]",
        "xn--bcher-kva.de",
        "10.0.0.1",
    } == settings.ALLOWED_HOSTS


def test_empty_allowed_hosts_needs_enforcement_off() -> None:
    with fails("ALLOWED_HOSTS is empty.*ENFORCE_ALLOWED_HOSTS=False"):
        Settings(ALLOWED_HOSTS=[])
    assert frozenset() == Settings(ALLOWED_HOSTS=[], ENFORCE_ALLOWED_HOSTS=False).ALLOWED_HOSTS


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings(TRUSTED_PROXIES=["10.0.0.0/8", "192.0.2.1", "2001:DB8::/32"])
    assert {"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"} == settings.TRUSTED_PROXIES
    for bad in ("10.0.0.1/8", "proxy.example.com", "*", "10.0.0.0/33"):
        with fails("TRUSTED_PROXIES entry .* is not an IP address or CIDR network"):
            Settings(TRUSTED_PROXIES=[bad])


def test_csrf_trusted_origins_forms() -> None:
    origins = ["HTTPS://Example.com", "https://*.example.org:8443", "partner.example", ".corp.test"]
    settings = Settings(CSRF_TRUSTED_ORIGINS=origins)
    assert {
        "https://example.com",
        "https://*.example.org:8443",
        "partner.example",
        ".corp.test",
    } == settings.CSRF_TRUSTED_ORIGINS
    assert {"http://[::1]:8080"} == Settings(
        CSRF_TRUSTED_ORIGINS=["http://[::1]:8080"]
    ).CSRF_TRUSTED_ORIGINS


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("https://example.com/", "without path"),
        ("https://user@example.com", "without path or user information"),
        ("https://example.com:99999", "invalid port"),
        ("https://example.com:", "invalid port"),
        ("https://", "must be an origin"),
        ("1http://example.com", "must be an origin"),
        ("*", "must not contain"),
        ("https://exa_mple..com", "not a valid host name"),
    ],
)
def test_bad_csrf_trusted_origins(entry: str, match: str) -> None:
    with fails(match):
        Settings(CSRF_TRUSTED_ORIGINS=[entry])


def test_websocket_origins_are_exact() -> None:
    settings = Settings(WEBSOCKET_ALLOWED_ORIGINS=["https://App.example.com"])
    assert {"https://app.example.com"} == settings.WEBSOCKET_ALLOWED_ORIGINS
    with fails("must be an exact origin without '\\*'"):
        Settings(WEBSOCKET_ALLOWED_ORIGINS=["https://*.example.com"])
    with fails("must be an origin"):
        Settings(WEBSOCKET_ALLOWED_ORIGINS=["example.com"])


def test_ssrf_hosts_and_schemes() -> None:
    settings = Settings(
        SSRF_ALLOWED_HOSTS=["*", "*.Example.com", ".api.test", "Host.test"],
        SSRF_ALLOWED_SCHEMES=["HTTPS"],
    )
    assert {"*", "*.example.com", ".api.test", "host.test"} == settings.SSRF_ALLOWED_HOSTS
    assert {"https"} == settings.SSRF_ALLOWED_SCHEMES
    with fails("SSRF_ALLOWED_SCHEMES must not be empty"):
        Settings(SSRF_ALLOWED_SCHEMES=[])
    with fails("is not a URL scheme"):
        Settings(SSRF_ALLOWED_SCHEMES=["ht tp"])
    with fails("must not include a path"):
        Settings(SSRF_ALLOWED_HOSTS=["example.com/x"])


def test_redis_url() -> None:
    for url in ("redis://localhost:6379/0", "rediss://h", "unix:///run/redis.sock"):
        assert url == Settings(REDIS_URL=url).REDIS_URL
    with fails("REDIS_URL must start with redis://, rediss:// or unix://") as info:
        Settings(REDIS_URL="http://user:hunter2@host")
    assert "hunter2" not in str(info.value)
    with fails("contain no spaces"):
        Settings(REDIS_URL="redis://host /0")


# --- security headers and HSTS ------------------------------------------------------------------


def test_security_headers_are_normalised_and_read_only() -> None:
    settings = Settings(SECURITY_HEADERS={"X-Frame-Options": "SAMEORIGIN"})
    assert dict(settings.SECURITY_HEADERS) == {"x-frame-options": "SAMEORIGIN"}
    with pytest.raises(TypeError):
        settings.SECURITY_HEADERS["x-new"] = "1"  # type: ignore[index]  # testing the refusal


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"x-a": "a\r\nSet-Cookie: x=1"}, "printable ASCII without CR, LF or NUL"),
        ({"x-a": "a\x00"}, "printable ASCII"),
        ({"x-a": "caf\u00e9"}, "printable ASCII"),
        ({"x-a": 1}, "printable ASCII"),
        ({"bad header": "1"}, "must be an HTTP header name"),
        ({"X-A": "1", "x-a": "2"}, "twice"),
        ({"Strict-Transport-Security": "max-age=1"}, "configure it with HSTS_SECONDS"),
        (["x-a"], "SECURITY_HEADERS must be a mapping"),
        ({1: "x"}, "keys must be strings"),
    ],
)
def test_bad_security_headers(headers: object, match: str) -> None:
    with fails(match):
        Settings(SECURITY_HEADERS=headers)


def test_hsts_preload_needs_the_preload_list_rules() -> None:
    assert Settings(HSTS_PRELOAD=True).HSTS_PRELOAD
    with fails("HSTS_PRELOAD=True requires HSTS_INCLUDE_SUBDOMAINS=True"):
        Settings(HSTS_PRELOAD=True, HSTS_INCLUDE_SUBDOMAINS=False)
    with fails("HSTS_SECONDS >= 31536000"):
        Settings(HSTS_PRELOAD=True, HSTS_SECONDS=3600)
    assert Settings(HSTS_SECONDS=0).HSTS_SECONDS == 0
    with fails("HSTS_SECONDS must be an integer >= 0"):
        Settings(HSTS_SECONDS=-1)


# --- scalar types -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "yes", "true", None, 1.0])
def test_bools_are_strict(value: object) -> None:
    with fails(r"^DEBUG must be True or False, got"):
        Settings(DEBUG=value)


@pytest.mark.parametrize("value", [True, 1.0, "5", None, 0, -3])
def test_positive_ints_are_strict(value: object) -> None:
    with fails(r"^MAX_REQUEST_BODY_BYTES must be a positive integer, got"):
        Settings(MAX_REQUEST_BODY_BYTES=value)


@pytest.mark.parametrize(
    ("key", "minimum"),
    [
        ("MAX_VALIDATION_ISSUES", 2),
        ("SECURITY_FAILURE_RATE_LIMIT", 0),
        ("HSTS_SECONDS", 0),
        ("THREAD_POOL_SIZE", 1),
        ("MAX_JSON_DEPTH", 1),
        ("MAX_URL_LENGTH", 1),
        ("MAX_REQUEST_HEADERS", 1),
        ("MAX_FILE_UPLOADS", 1),
        ("MAX_FORM_MEMORY_BYTES", 1),
    ],
)
def test_int_minimums(key: str, minimum: int) -> None:
    assert Settings(**{key: minimum}).get(key) == minimum
    with fails(f"^{key} must be"):
        Settings(**{key: minimum - 1})


def test_huge_int_in_a_message_does_not_break_it() -> None:
    with fails(r"must be a number from 0.01 to 60.0, got <value> \(int\)"):
        Settings(METRICS_EVENT_LOOP_INTERVAL_SECONDS=-(10**5000))


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("REQUEST_READ_TIMEOUT_SECONDS", [1, 0.5, 1e9], [0, -1, None, True, "1", float("inf")]),
        ("METRICS_EVENT_LOOP_INTERVAL_SECONDS", [0.01, 60, 1], [0.001, 61, float("nan")]),
        ("HEALTH_CHECK_TIMEOUT_SECONDS", [0.5, 300, 2], [0, 301, 10**400]),
        ("SSRF_RESOLUTION_TIMEOUT_SECONDS", [None, 2, 0.1], [0, -2, "x"]),
    ],
)
def test_float_ranges(key: str, good: list[object], bad: list[object]) -> None:
    for value in good:
        result = Settings(**{key: value}).get(key)
        assert result == value
        assert result is None or type(result) is float
    for value in bad:
        with fails(f"^{key} must be a number"):
            Settings(**{key: value})


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("API_VERSION", 1, "must be a non-empty string or None"),
        ("DOCS_AUTH_BACKEND", "", "must be a non-empty string or None"),
        ("API_TITLE", None, "API_TITLE must be a string"),
        ("API_SERVERS", [""], "entries must be non-empty strings"),
        ("API_SERVERS", ["https://a", 1], "entries must be strings"),
        ("METRICS_PATH", "/metrics?x", "without spaces, query or fragment"),
        ("DOCS_PATH", "/my docs", "without spaces"),
        ("OPENAPI_PATH", 3, "must be a string"),
    ],
)
def test_text_and_path_values(key: str, value: object, match: str) -> None:
    with fails(match):
        Settings(**{key: value})


def test_enumerations_accept_any_case_and_store_the_canonical_form() -> None:
    settings = Settings(LOG_FORMAT="JSON", LOG_LEVEL="warning", SESSION_COOKIE_SAME_SITE="strict")
    assert (settings.LOG_FORMAT, settings.LOG_LEVEL) == ("json", "WARNING")
    assert settings.SESSION_COOKIE_SAME_SITE == "Strict"
    assert Settings(SESSION_COOKIE_SAME_SITE="NONE").SESSION_COOKIE_SAME_SITE == "None"
    with fails("LOG_FORMAT must be one of 'text', 'json'"):
        Settings(LOG_FORMAT="xml")
    with fails("LOG_LEVEL must be one of 'CRITICAL'"):
        Settings(LOG_LEVEL="verbose")
    with fails("SESSION_COOKIE_SAME_SITE must be one of 'Lax', 'Strict', 'None', got None"):
        Settings(SESSION_COOKIE_SAME_SITE=None)


def test_same_site_none_needs_secure_cookies() -> None:
    with fails("SESSION_COOKIE_SAME_SITE='None' requires SESSION_COOKIE_SECURE=True"):
        Settings(SESSION_COOKIE_SAME_SITE="None", SESSION_COOKIE_SECURE=False)


def test_cookie_and_header_names() -> None:
    settings = Settings(CSRF_HEADER_NAME="X-CSRF-Token", SESSION_COOKIE_NAME="__Host-sid")
    assert settings.CSRF_HEADER_NAME == "x-csrf-token"
    assert settings.SESSION_COOKIE_NAME == "__Host-sid"
    for bad in ("bad name", "a;b", "", "caf\u00e9"):
        with fails("SESSION_COOKIE_NAME must be a cookie name .* RFC 6265 token"):
            Settings(SESSION_COOKIE_NAME=bad)
    with fails("CSRF_HEADER_NAME must be an HTTP header name"):
        Settings(CSRF_HEADER_NAME="x:csrf")
    with fails("CSRF_COOKIE_NAME and SESSION_COOKIE_NAME must differ"):
        Settings(CSRF_COOKIE_NAME="same", SESSION_COOKIE_NAME="same")


def test_docs_and_metrics_paths_must_differ() -> None:
    with fails("DOCS_PATH and OPENAPI_PATH must differ"):
        Settings(DOCS_PATH="/api", OPENAPI_PATH="/api")
    with fails("METRICS_PATH must differ from DOCS_PATH and OPENAPI_PATH"):
        Settings(METRICS_PATH="/docs")


def test_metrics_need_a_strong_bearer_token() -> None:
    with fails("METRICS_ENABLED=True requires METRICS_BEARER_TOKEN"):
        Settings(METRICS_ENABLED=True)
    for bad in ("short", "x" * 31, "bad token with spaces and more chars", "a" * 32 + "=a"):
        with fails("METRICS_BEARER_TOKEN must be at least 32 characters") as info:
            Settings(METRICS_ENABLED=True, METRICS_BEARER_TOKEN=bad)
        assert bad not in str(info.value)
    settings = Settings(METRICS_ENABLED=True, METRICS_BEARER_TOKEN=TOKEN + "==")
    assert settings.METRICS_BEARER_TOKEN == TOKEN + "=="


# --- collections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [["a.test"], ("a.test",), {"a.test"}, frozenset({"a.test"}), (h for h in ["a.test"])],
)
def test_sets_accept_any_iterable_of_strings(value: object) -> None:
    assert frozenset({"a.test"}) == Settings(ALLOWED_HOSTS=value).ALLOWED_HOSTS


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("a.test", "must be a collection of strings"),
        (b"a.test", "must be a collection of strings"),
        ({"a.test": True}, "must be a collection of strings"),
        (5, "must be a collection of strings"),
        (["a.test", 5], "entries must be strings"),
        ([["a.test"]], "entries must be strings"),
    ],
)
def test_bad_collections(value: object, match: str) -> None:
    with fails(f"^ALLOWED_HOSTS {match}"):
        Settings(ALLOWED_HOSTS=value)


def test_stored_collections_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.ALLOWED_HOSTS.add("*")  # type: ignore[attr-defined]  # testing the refusal
    assert isinstance(settings.API_SERVERS, tuple)


def test_extra_holds_user_keys() -> None:
    settings = Settings(EXTRA={"FEATURE_X": True, "limits": [1, 2]})
    assert settings.EXTRA == {"FEATURE_X": True, "limits": [1, 2]}
    assert settings.get("FEATURE_X") is True
    assert settings.get("DEBUG") is False
    assert settings.get("MISSING", "fallback") == "fallback"
    assert settings.get("MISSING") is None
    with fails("EXTRA keys must be strings"):
        Settings(EXTRA={1: "x"})
    with fails("EXTRA must be a mapping"):
        Settings(EXTRA=["x"])


# --- unknown keys -------------------------------------------------------------------------------


def test_unknown_key_hint_matches_the_documented_message() -> None:
    with fails(
        r"^Unknown setting 'ALLOWED_HOST'\. Did you mean 'ALLOWED_HOSTS'\? "
        r"Put your own keys under EXTRA\.$"
    ):
        load({"ALLOWED_HOST": ["a.test"]})


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("debug", r"Unknown setting 'debug'\. Did you mean 'DEBUG'\?"),
        ("Secret_Key", r"Did you mean 'SECRET_KEY'\?"),
        ("CSRF_ENABLE", r"Did you mean 'CSRF_ENABLED'\?"),
        ("COMPLETELY_DIFFERENT", r"^Unknown setting 'COMPLETELY_DIFFERENT'\. Put your own"),
    ],
)
def test_unknown_keys_in_a_mapping(key: str, match: str) -> None:
    with fails(match):
        load({key: True})


def test_unknown_keys_in_every_source() -> None:
    with fails("Did you mean 'DEBUG'"):
        Settings(DEBG=True)
    with fails("Did you mean 'DEBUG'"):
        load(SimpleNamespace(DEBG=True))
    with fails("Did you mean 'DEBUG'"):
        Settings().copy(DEBG=True)
    with fails("Settings source keys must be strings"):
        load({1: True})


# --- sources ------------------------------------------------------------------------------------


def test_mapping_source() -> None:
    settings = load({"DEBUG": True, "ALLOWED_HOSTS": ["app.test"], "SECRET_KEY": KEY})
    assert settings.DEBUG is True
    assert {"app.test"} == settings.ALLOWED_HOSTS


def test_module_path_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "flasgo_test_project"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text(
        "import os\n"
        "DEBUG = True\n"
        "ALLOWED_HOSTS = ['module.test']\n"
        "EXTRA = {'FEATURE': 1}\n"
        "_HELPER = 'ignored'\n"
        "helper = 'ignored too'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "flasgo_test_project.config", raising=False)
    settings = load("flasgo_test_project.config")
    assert settings.DEBUG is True
    assert {"module.test"} == settings.ALLOWED_HOSTS
    assert settings.EXTRA == {"FEATURE": 1}


def test_module_with_an_unknown_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "flasgo_test_typo.py").write_text("DEBG = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with fails("Did you mean 'DEBUG'"):
        load("flasgo_test_typo")


def test_module_that_cannot_be_imported() -> None:
    with fails(r"Could not import the settings module 'no_such_flasgo_module\.settings'"):
        load("no_such_flasgo_module.settings")
    with fails(r"'settings/prod\.py' is not a dotted module path"):
        load("settings/prod.py")
    with fails("is not a dotted module path"):
        load("")
    for source in (b"myproject.settings", Path("settings.py"), 3):
        with fails("Settings source must be a mapping, a dotted module path string or an object"):
            load(source)


def test_object_sources() -> None:
    class Config:
        DEBUG = True
        LOG_LEVEL = "debug"
        helper = "ignored"

    assert load(Config).DEBUG is True
    assert load(Config()).LOG_LEVEL == "DEBUG"
    assert load(SimpleNamespace(MAX_JSON_DEPTH=8, lower="ignored")).MAX_JSON_DEPTH == 8


def test_settings_source_is_a_validated_copy() -> None:
    original = Settings(DEBUG=True)
    loaded = Settings.load(original, environ={"FLASGO_DEBUG": "false"})
    assert loaded is not original
    assert loaded.as_dict() == original.as_dict()
    assert loaded.secret_key_is_generated


def test_keyword_construction() -> None:
    settings = Settings(DEBUG=True, SECRET_KEY=KEY, TRUSTED_PROXIES={"10.0.0.1"})
    assert settings.DEBUG is True
    assert {"10.0.0.1"} == settings.TRUSTED_PROXIES


def test_no_source_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASGO_MAX_JSON_DEPTH", "12")
    assert Settings.load().MAX_JSON_DEPTH == 12


# --- environment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("OFF", False),
        (" off ", False),
    ],
)
def test_env_bools(raw: str, expected: bool) -> None:
    assert load(FLASGO_DEBUG=raw).DEBUG is expected


def test_env_bad_values_name_the_variable() -> None:
    with fails("FLASGO_DEBUG must be one of true/false/1/0/yes/no/on/off, got 'maybe'"):
        load(FLASGO_DEBUG="maybe")
    with fails("FLASGO_MAX_JSON_DEPTH must be an integer, got 'deep'"):
        load(FLASGO_MAX_JSON_DEPTH="deep")
    with fails("FLASGO_HEALTH_CHECK_TIMEOUT_SECONDS must be a number"):
        load(FLASGO_HEALTH_CHECK_TIMEOUT_SECONDS="half")
    with fails(r"MAX_JSON_DEPTH must be a positive integer.*\(from .* FLASGO_MAX_JSON_DEPTH\)"):
        load(FLASGO_MAX_JSON_DEPTH="0")
    with fails("FLASGO_SECURITY_HEADERS must be a JSON object"):
        load(FLASGO_SECURITY_HEADERS="x-a: 1")


def test_env_numbers() -> None:
    settings = load(
        FLASGO_MAX_JSON_DEPTH="32",
        FLASGO_MAX_URL_LENGTH=" 1_000 ",
        FLASGO_REQUEST_READ_TIMEOUT_SECONDS="2.5",
        FLASGO_HEALTH_CHECK_TIMEOUT_SECONDS="1",
        FLASGO_SSRF_RESOLUTION_TIMEOUT_SECONDS="null",
    )
    assert (settings.MAX_JSON_DEPTH, settings.MAX_URL_LENGTH) == (32, 1000)
    assert settings.REQUEST_READ_TIMEOUT_SECONDS == 2.5
    assert settings.HEALTH_CHECK_TIMEOUT_SECONDS == 1.0
    assert settings.SSRF_RESOLUTION_TIMEOUT_SECONDS is None
    with fails("must be a number > 0"):
        load(FLASGO_REQUEST_READ_TIMEOUT_SECONDS="NaN")


def test_env_strings_keep_their_text() -> None:
    settings = load(
        FLASGO_API_VERSION="1.0",
        FLASGO_SECRET_KEY="1" * 40,
        FLASGO_API_TITLE='"Quoted"',
        FLASGO_DOCS_AUTH_BACKEND="null",
    )
    assert settings.API_VERSION == "1.0"
    assert settings.SECRET_KEY == "1" * 40
    assert settings.secret_key_is_generated is False
    assert settings.API_TITLE == "Quoted"
    assert settings.DOCS_AUTH_BACKEND is None


def test_env_collections_and_mappings() -> None:
    settings = load(
        FLASGO_ALLOWED_HOSTS="a.test, .b.test,,",
        FLASGO_TRUSTED_PROXIES='["10.0.0.0/8"]',
        FLASGO_API_SERVERS="https://api.test",
        FLASGO_SECURITY_HEADERS='{"X-Frame-Options": "SAMEORIGIN"}',
        FLASGO_CSRF_TRUSTED_ORIGINS="",
    )
    assert {"a.test", ".b.test"} == settings.ALLOWED_HOSTS
    assert {"10.0.0.0/8"} == settings.TRUSTED_PROXIES
    assert settings.API_SERVERS == ("https://api.test",)
    assert dict(settings.SECURITY_HEADERS) == {"x-frame-options": "SAMEORIGIN"}
    assert frozenset() == settings.CSRF_TRUSTED_ORIGINS


def test_env_extra() -> None:
    settings = load(
        FLASGO_EXTRA='{"A": 1, "B": 2}',
        FLASGO_EXTRA__B="[1, 2]",
        FLASGO_EXTRA__plain="some text",
    )
    assert settings.EXTRA == {"A": 1, "B": [1, 2], "plain": "some text"}


def test_env_ignores_cli_and_foreign_variables(caplog: pytest.LogCaptureFixture) -> None:
    settings = load(
        FLASGO_APP="app:app",
        FLASGO_HOST="0.0.0.0",
        FLASGO_PORT="8000",
        FLASGO_RELOAD="1",
        FLASGO_ENV="production",
        FLASGO_SKIP_DOTENV="1",
        DEBUG="true",
        flasgo_debug="true",
    )
    assert settings.DEBUG is False
    assert caplog.records == []


def test_env_workers_is_a_setting() -> None:
    assert load(FLASGO_WORKERS="2").WORKERS == 2
    assert load().WORKERS is None
    with fails(r"WORKERS must be a positive integer or None, got 0 .*FLASGO_WORKERS"):
        load(FLASGO_WORKERS="0")
    with fails("FLASGO_WORKERS must be an integer, got 'many'"):
        load(FLASGO_WORKERS="many")


UNKNOWN_TAIL = " Put your own keys under FLASGO_EXTRA__<NAME>."


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("FLASGO_ALLOWED_HOST", " Did you mean FLASGO_ALLOWED_HOSTS?"),
        ("FLASGO_debug", " Did you mean FLASGO_DEBUG?"),
        ("FLASGO_PORTT", " Did you mean FLASGO_PORT?"),
        ("FLASGO_QWXZ", ""),
    ],
)
def test_env_unknown_variables_warn_and_are_ignored(
    variable: str, hint: str, caplog: pytest.LogCaptureFixture
) -> None:
    message = f"Unknown environment variable {variable} is ignored.{hint}{UNKNOWN_TAIL}"
    settings = Settings.load(
        environ={variable: "secret-looking-value", "FLASGO_MAX_JSON_DEPTH": "9"}
    )
    assert settings.MAX_JSON_DEPTH == 9
    assert [(record.name, record.levelname, record.getMessage()) for record in caplog.records] == [
        ("flasgo.settings", "WARNING", message)
    ]
    assert "secret-looking-value" not in caplog.text


def test_an_unknown_env_variable_does_not_stop_the_app(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from flasgo import Flasgo

    monkeypatch.setenv("FLASGO_ANYTHING", "1")
    app = Flasgo({"SECRET_KEY": KEY})

    @app.get("/")
    async def index() -> str:
        return "up"

    response = app.test_client().get("/")
    assert (response.status_code, response.text) == (200, "up")
    warnings = [r.getMessage() for r in caplog.records if r.name == "flasgo.settings"]
    assert warnings == [f"Unknown environment variable FLASGO_ANYTHING is ignored.{UNKNOWN_TAIL}"]


def test_an_unknown_key_in_code_still_stops_the_app() -> None:
    from flasgo import Flasgo

    with fails(r"^Unknown setting 'ALLOWED_HOST'\. Did you mean 'ALLOWED_HOSTS'\?"):
        Flasgo({"ALLOWED_HOST": ["a.test"]})


def test_precedence_defaults_then_environment_then_code() -> None:
    environ = {"FLASGO_DEBUG": "true", "FLASGO_MAX_JSON_DEPTH": "8", "FLASGO_EXTRA__A": "env"}
    settings = Settings.load({"DEBUG": False, "EXTRA": {"B": "code"}}, environ=environ)
    assert settings.DEBUG is False
    assert settings.MAX_JSON_DEPTH == 8
    assert settings.EXTRA == {"A": "env", "B": "code"}
    code_wins = Settings.load({"EXTRA": {"A": "code"}}, environ=environ)
    assert code_wins.EXTRA == {"A": "code"}
    assert Settings.load(environ=environ).DEBUG is True


def test_cross_field_checks_run_after_every_source() -> None:
    environ = {"FLASGO_METRICS_ENABLED": "true"}
    assert Settings.load({"METRICS_BEARER_TOKEN": TOKEN}, environ=environ).METRICS_ENABLED
    with fails("METRICS_ENABLED=True requires METRICS_BEARER_TOKEN"):
        Settings.load(environ=environ)


# --- assignment, copies -------------------------------------------------------------------------


def test_assignment_is_validated_and_normalised() -> None:
    settings = Settings()
    settings.ALLOWED_HOSTS = ["New.Test"]  # type: ignore[assignment]  # lists are accepted
    assert {"new.test"} == settings.ALLOWED_HOSTS
    with fails("^DEBUG must be True or False, got 'yes'"):
        assign(settings, "DEBUG", "yes")
    assert settings.DEBUG is False


def test_unknown_attribute_assignment_is_refused_with_a_hint() -> None:
    settings = Settings()
    with fails(r"Unknown setting 'ALLOWED_HOST'\. Did you mean 'ALLOWED_HOSTS'\?"):
        assign(settings, "ALLOWED_HOST", ["a.test"])
    with fails("Unknown setting '_secret_key_is_generated'"):
        assign(settings, "_secret_key_is_generated", False)


def test_assignment_breaking_a_cross_field_rule_is_rolled_back() -> None:
    settings = Settings(SESSION_COOKIE_SAME_SITE="None")
    with fails("requires SESSION_COOKIE_SECURE=True"):
        settings.SESSION_COOKIE_SECURE = False
    assert settings.SESSION_COOKIE_SECURE is True


def test_settings_cannot_be_deleted() -> None:
    settings = Settings()
    with pytest.raises(AttributeError, match="assign a new value to DEBUG"):
        del settings.DEBUG


def test_as_dict_returns_copies_that_load_back() -> None:
    settings = Settings(SECRET_KEY=KEY, EXTRA={"A": 1})
    values = settings.as_dict()
    hosts = values["ALLOWED_HOSTS"]
    extra = values["EXTRA"]
    assert isinstance(hosts, set)
    assert isinstance(extra, dict)
    hosts.add("evil.test")
    extra["B"] = 2
    assert "evil.test" not in settings.ALLOWED_HOSTS
    assert settings.EXTRA == {"A": 1}
    assert values["SECRET_KEY"] == KEY
    assert load(settings.as_dict()).as_dict() == settings.as_dict()


def test_copy_validates_overrides() -> None:
    settings = Settings()
    clone = settings.copy(DEBUG=True)
    assert (settings.DEBUG, clone.DEBUG) == (False, True)
    with fails("DEBUG must be True or False"):
        settings.copy(DEBUG=1)


@pytest.mark.parametrize(
    "clone", [copy.copy, copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))]
)
def test_copy_and_pickle_round_trip(clone: object) -> None:
    assert callable(clone)
    settings = Settings(DEBUG=True)
    result = clone(settings)
    assert isinstance(result, Settings)
    assert result.as_dict() == settings.as_dict()
    assert result.secret_key_is_generated


def test_repr_never_shows_the_secret() -> None:
    settings = Settings(SECRET_KEY=KEY)
    assert KEY not in repr(settings)
    assert "configured" in repr(settings)


# --- properties ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["/x", "Lax", "json", "a.test", "10.0.0.0/8", "https://a.test", KEY]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)
ANY_VALUES = JSON_VALUES | st.binary(max_size=8) | st.frozensets(st.text(max_size=8), max_size=3)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([row.name for row in SETTINGS]), ANY_VALUES, max_size=6))
def test_any_mapping_of_known_keys_loads_or_raises_configuration_error(
    values: Mapping[str, object],
) -> None:
    try:
        settings = Settings.load(values, environ=NO_ENV)
    except ConfigurationError:
        return
    assert settings.as_dict().keys() == {row.name for row in SETTINGS}


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([row.env for row in SETTINGS]),
        st.text(max_size=30) | st.sampled_from(["true", "1", "[]", "{}", "null", "1e999", "NaN"]),
        max_size=6,
    )
)
def test_any_environment_loads_or_raises_configuration_error(environ: dict[str, str]) -> None:
    try:
        settings = Settings.load(environ=environ)
    except ConfigurationError:
        return
    assert isinstance(settings.SECRET_KEY, str)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_host_entry_normalises_or_raises_configuration_error(entry: str) -> None:
    try:
        settings = Settings(ALLOWED_HOSTS=[entry], CSRF_TRUSTED_ORIGINS=[entry])
    except ConfigurationError:
        return
    (host,) = settings.ALLOWED_HOSTS
    assert host == host.lower()
    assert {host} == Settings(ALLOWED_HOSTS=[host]).ALLOWED_HOSTS
