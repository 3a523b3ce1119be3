"""Deployment checks: each FG code, ``flasgo check --deploy``, the startup warning and the
several-workers error."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from flasgo import Flasgo
from flasgo.cli import cli
from flasgo.discovery import LoadedApp
from flasgo.exceptions import ConfigurationError
from flasgo.security.checks import (
    GENERATED_KEY_WARNING,
    Problem,
    check_startup,
    deploy_problems,
    has_errors,
    is_low_entropy,
    require_shared_secret,
)
from flasgo.serving import serve
from flasgo.settings import SETTINGS, Settings

# A random-looking 64-character key: no problem of its own.
GOOD_KEY = "Zq3_vT9xLw2Ry8Pn4Hc6Bd1Mf5Gj7Ks0aXeWuYoIiUtRrEeQqPpLlKkJjHhGgFf"
# Everything a production deployment should set, and nothing else.
PRODUCTION = {"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": ["example.com", ".example.com"]}


def codes(**overrides: object) -> list[str]:
    return [problem.code for problem in deploy_problems(Settings(**{**PRODUCTION, **overrides}))]


def test_production_settings_have_no_problem() -> None:
    assert codes() == []


def test_defaults_fail_on_the_generated_key_and_warn_on_local_hosts() -> None:
    problems = deploy_problems(Settings())
    assert [(p.code, p.level) for p in problems] == [("FG002", "error"), ("FG006", "warning")]
    assert has_errors(problems)


@pytest.mark.parametrize(
    ("overrides", "code", "level"),
    [
        ({"DEBUG": True}, "FG001", "error"),
        ({"SECRET_KEY": GOOD_KEY[:40]}, "FG003", "warning"),
        ({"SECRET_KEY": "ab" * 30}, "FG004", "error"),
        ({"ENFORCE_ALLOWED_HOSTS": False}, "FG005", "error"),
        ({"ALLOWED_HOSTS": ["localhost", "127.0.0.1"]}, "FG006", "warning"),
        ({"SESSION_COOKIE_SECURE": False}, "FG007", "error"),
        ({"CSRF_COOKIE_SECURE": False}, "FG008", "error"),
        ({"SESSION_COOKIE_SAME_SITE": "None"}, "FG009", "warning"),
        ({"HSTS_SECONDS": 0}, "FG010", "warning"),
        ({"HSTS_SECONDS": 3600}, "FG012", "warning"),
        ({"ENABLE_DOCS": True}, "FG013", "error"),
        ({"CSRF_ENABLED": False}, "FG014", "error"),
        ({"LOG_SECURITY_EVENTS": False}, "FG015", "warning"),
        ({"TRUST_INCOMING_REQUEST_ID": True}, "FG016", "warning"),
        ({"SSRF_ENABLED": False}, "FG017", "warning"),
        ({"WORKERS": 2}, "FG018", "warning"),
    ],
)
def test_each_problem_has_its_code_level_and_fix(
    overrides: dict[str, object], code: str, level: str
) -> None:
    problems = deploy_problems(Settings(**{**PRODUCTION, **overrides}))
    assert [(p.code, p.level) for p in problems] == [(code, level)]
    problem = problems[0]
    assert problem.setting in {row.name for row in SETTINGS}
    assert problem.message
    assert "\n" not in problem.fix
    assert has_errors(problems) is (level == "error")


def test_fixes_name_the_variables_and_defaults_of_the_settings_table() -> None:
    fixes = {p.code: p.fix for p in deploy_problems(Settings(DEBUG=True, HSTS_SECONDS=3600))}

    assert fixes["FG001"] == "Set DEBUG=False (FLASGO_DEBUG=false) in production."
    assert fixes["FG002"].startswith("Set FLASGO_SECRET_KEY to a stable random value: python -c")
    assert fixes["FG006"] == "List your domains, e.g. FLASGO_ALLOWED_HOSTS=example.com,.example.com"
    assert fixes["FG012"] == "Set HSTS_SECONDS to at least 31536000 (63072000 is the default)."
    assert GENERATED_KEY_WARNING.endswith("work across workers. Set FLASGO_SECRET_KEY.")


def test_hosts_disabled_hides_the_local_only_warning() -> None:
    settings = Settings(SECRET_KEY=GOOD_KEY, ENFORCE_ALLOWED_HOSTS=False)
    assert [p.code for p in deploy_problems(settings)] == ["FG005"]


def test_docs_with_an_auth_backend_are_not_reported() -> None:
    assert codes(ENABLE_DOCS=True, DOCS_AUTH_BACKEND="staff") == []


def test_problems_are_sorted_by_code_and_never_show_the_key() -> None:
    weak = "changeme" * 5
    problems = deploy_problems(
        Settings(SECRET_KEY=weak, SECRET_KEY_FALLBACKS=["x" * 40], DEBUG=True, HSTS_SECONDS=0)
    )
    assert [p.code for p in problems] == ["FG001", "FG003", "FG004", "FG004", "FG006", "FG010"]
    assert [p.setting for p in problems if p.code == "FG004"] == [
        "SECRET_KEY",
        "SECRET_KEY_FALLBACKS",
    ]
    assert "SECRET_KEY_FALLBACKS[0]" in problems[3].message
    text = json.dumps([p.as_dict() for p in problems])
    assert weak not in text
    assert "x" * 40 not in text


@pytest.mark.parametrize(
    "key",
    [
        "a" * 64,  # one character
        "abcd" * 16,  # four distinct characters
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP",  # a run
        "my-Production-Secret-For-2025-with-some-extra-chars",  # a placeholder word
        "ab" * 20 + "cdefghijkl",  # little entropy for its length
    ],
)
def test_low_entropy_keys(key: str) -> None:
    assert is_low_entropy(key)


@pytest.mark.parametrize(
    "key",
    [
        GOOD_KEY,
        "5525fb4c97619b59694fccc59983278a",  # 128 random bits in hex
        "vVQCCsfUdLZsE6wRuexwlzGFx8tx4izw",  # token_urlsafe(24)
    ],
)
def test_random_keys_are_not_low_entropy(key: str) -> None:
    assert not is_low_entropy(key)


def test_problem_as_dict_is_json_ready() -> None:
    problem = Problem("FG001", "error", "DEBUG", "on", "turn it off")
    assert problem.as_dict() == {
        "code": "FG001",
        "level": "error",
        "setting": "DEBUG",
        "message": "on",
        "fix": "turn it off",
    }


# -- startup -------------------------------------------------------------------------------------


def security_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "flasgo.security"]


def tiny_app(**settings: object) -> Flasgo:
    app = Flasgo(settings)

    @app.get("/")
    def index() -> str:
        return "ok"

    return app


def test_a_generated_key_logs_one_warning_at_lifespan_startup(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    with caplog.at_level(logging.WARNING, logger="flasgo.security"), tiny_app().test_client() as c:
        assert c.get("/").status_code == 200
        assert c.get("/").status_code == 200
    assert security_lines(caplog) == [GENERATED_KEY_WARNING]
    assert next(r for r in caplog.records if r.name == "flasgo.security").levelno == logging.WARNING


def test_a_generated_key_logs_one_warning_on_the_first_request_without_lifespan(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    client = tiny_app().test_client()
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        assert client.get("/").status_code == 200
        assert client.get("/").status_code == 200
    assert security_lines(caplog) == [GENERATED_KEY_WARNING]


def test_a_configured_key_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        assert tiny_app(SECRET_KEY=GOOD_KEY).test_client().get("/").status_code == 200
    assert security_lines(caplog) == []


def test_web_concurrency_without_a_key_fails_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    app = tiny_app()
    # NOTE: the error comes from the lifespan scope itself (uvicorn's lifespan="on" then
    # exits); the test client goes on without lifespan, and every request raises it again.
    with app.test_client() as client:
        for _ in range(2):
            with pytest.raises(ConfigurationError, match="WEB_CONCURRENCY=4") as caught:
                client.get("/")
    assert "Set FLASGO_SECRET_KEY to the same value for every worker" in str(caught.value)


def test_web_concurrency_with_a_key_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    with tiny_app(SECRET_KEY=GOOD_KEY).test_client() as client:
        assert client.get("/").status_code == 200


@pytest.mark.parametrize("value", ["", "1", "many"])
def test_one_worker_or_an_unreadable_count_only_warns(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        check_startup(Settings(), {"WEB_CONCURRENCY": value})
    assert security_lines(caplog) == [GENERATED_KEY_WARNING]


def test_serve_refuses_several_workers_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(app))
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    with pytest.raises(ConfigurationError, match="2 workers would each generate"):
        serve(LoadedApp(Flasgo(), "project:app"), workers=2)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    with pytest.raises(ConfigurationError, match="3 workers"):
        serve(LoadedApp(Flasgo(), "project:app"))
    assert calls == []
    serve(LoadedApp(Flasgo({"SECRET_KEY": GOOD_KEY}), "project:app"), workers=2)
    assert calls == ["project:app"]


def test_require_shared_secret_ignores_one_worker_and_foreign_apps() -> None:
    require_shared_secret(Flasgo(), None)
    require_shared_secret(Flasgo(), 1)
    require_shared_secret(object(), 4)
    # ...while the same app with several workers and a generated key is refused.
    with pytest.raises(ConfigurationError, match="4 workers"):
        require_shared_secret(Flasgo(), 4)


# -- flasgo check --------------------------------------------------------------------------------

APP = """
from flasgo import Flasgo

app = Flasgo({settings})
"""


@pytest.fixture
def write_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("FLASGO_APP", "FLASGO_SECRET_KEY", "FLASGO_DEBUG", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    yield tmp_path
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


def app_at(folder: Path, name: str, settings: dict[str, object]) -> str:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(APP.format(settings=repr(settings))), encoding="utf-8")
    return str(path)


def run_check(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", *args], env=env)
    return result.exit_code, result.output


def test_check_deploy_lists_problems_with_fixes_and_exits_1(write_app: Path) -> None:
    target = app_at(write_app, "debug_app", {"DEBUG": True})
    status, output = run_check(target, "--deploy")
    assert status == 1
    assert "FG001 error   DEBUG: DEBUG is on" in output
    assert "fix: Set DEBUG=False" in output
    assert "FG002 error   SECRET_KEY" in output
    assert "FG006 warning ALLOWED_HOSTS" in output
    assert output.rstrip().endswith("2 error(s), 1 warning(s).")


def test_check_deploy_json(write_app: Path) -> None:
    target = app_at(write_app, "json_app", {"ENABLE_DOCS": True})
    status, output = run_check(target, "--deploy", "--json")
    assert status == 1
    report = json.loads(output)
    assert report["deploy"] is True
    assert (report["errors"], report["warnings"]) == (2, 1)
    assert [p["code"] for p in report["problems"]] == ["FG002", "FG006", "FG013"]
    assert set(report["problems"][0]) == {"code", "level", "setting", "message", "fix"}


def test_check_deploy_passes_with_warnings_only(write_app: Path) -> None:
    target = app_at(write_app, "warn_app", {"SECRET_KEY": GOOD_KEY})
    status, output = run_check(target, "--deploy")
    assert status == 0
    assert "FG006 warning" in output
    assert output.rstrip().endswith("0 error(s), 1 warning(s).")


def test_check_deploy_reads_the_environment(write_app: Path) -> None:
    target = app_at(write_app, "env_app", {})
    env = {"FLASGO_SECRET_KEY": GOOD_KEY, "FLASGO_ALLOWED_HOSTS": "example.com"}
    status, output = run_check(target, "--deploy", "--json", env=env)
    assert status == 0
    assert json.loads(output)["problems"] == []
    status, output = run_check(target, "--deploy", env=env)
    assert status == 0
    assert "no deployment problems found" in output


def test_check_without_deploy_only_loads_the_app(write_app: Path) -> None:
    target = app_at(write_app, "plain_app", {"DEBUG": True})
    status, output = run_check(target)
    assert status == 0
    assert "Pass --deploy" in output
    status, output = run_check(target, "--json")
    assert status == 0
    assert json.loads(output)["problems"] == []


def test_check_refuses_a_foreign_app(write_app: Path) -> None:
    path = write_app / "foreign.py"
    path.write_text("async def app(scope, receive, send):\n    pass\n", encoding="utf-8")
    status, output = run_check(str(path), "--deploy")
    assert status == 2
    assert "not a Flasgo app" in output
