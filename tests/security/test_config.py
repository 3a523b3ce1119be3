"""`SecurityConfig`: upstream's lower-case security settings, mirrored onto the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flasgo import ConfigurationError, Flasgo, SecurityConfig, is_safe_redirect_target
from flasgo.security.config import SECURITY_KEYS
from flasgo.settings import find_setting
from tests.conftest import TEST_SECRET_KEY

if TYPE_CHECKING:
    from tests.conftest import AppFactory


def test_a_security_config_is_written_onto_the_settings(security_events: list[str]) -> None:
    app = Flasgo(
        {"SECRET_KEY": TEST_SECRET_KEY, "CSRF_ENABLED": True, "MAX_FORM_FIELDS": 7},
        security=SecurityConfig(csrf_enabled=False, allowed_hosts={"api.example"}),
    )
    assert app.settings.CSRF_ENABLED is False
    assert frozenset({"api.example"}) == app.settings.ALLOWED_HOSTS
    # Keys the config does not name keep their configured values.
    assert app.settings.MAX_FORM_FIELDS == 7
    assert app.security.max_form_fields == 7

    @app.post("/submit")
    def submit() -> str:
        return "ok"

    client = app.test_client()
    assert client.post("/submit", headers={"Host": "api.example"}).text == "ok"
    refused = client.post("/submit")
    assert refused.status_code == 400
    assert security_events == ["host-check-failed"]


def test_app_security_is_a_live_view_of_the_settings(make_app: AppFactory) -> None:
    app = make_app()
    assert app.security.csrf_enabled is True
    assert app.security.csrf_safe_methods == frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
    app.security.csrf_enabled = False
    assert app.settings.CSRF_ENABLED is False

    @app.post("/")
    def index() -> str:
        return "no csrf"

    assert app.test_client().post("/").text == "no csrf"
    # Assignments are validated like any setting.
    with pytest.raises(ConfigurationError):
        app.security.max_request_body_bytes = -1
    assert app.security.as_dict()["csrf_enabled"] is False


def test_unknown_names_and_invalid_values_are_refused() -> None:
    with pytest.raises(TypeError, match="'csrf_enable' is not a security setting"):
        SecurityConfig(csrf_enable=False)
    with pytest.raises(ConfigurationError):
        Flasgo(security=SecurityConfig(session_cookie_same_site="Sometimes"))
    with pytest.raises(AttributeError):
        _ = SecurityConfig().debug
    unbound = SecurityConfig(csrf_enabled=False)
    assert (unbound.csrf_enabled, unbound.enforce_allowed_hosts) == (False, True)


def test_every_mirrored_name_is_a_setting() -> None:
    for key in SECURITY_KEYS:
        assert find_setting(key).name == key


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/account", True),
        ("/search?q=a%20b#top", True),
        ("page", True),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("\\\\evil.example", False),
        ("https://evil.example/", False),
        ("javascript:alert(1)", False),
        ("/a\nb", False),
        (" /a", False),
        ("/\tevil", False),
        ("", False),
        ("/" + "a" * 3000, False),
        ("http://[::1", False),
    ],
)
def test_safe_redirect_targets_are_relative_paths_only(target: str, safe: bool) -> None:
    assert is_safe_redirect_target(target) is safe
