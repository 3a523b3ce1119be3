"""Policy snapshots: `app.policy_snapshot()` and `flasgo check --against`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from flasgo import ConfigurationError, Flasgo, HasScope, csrf_exempt
from flasgo.cli import cli
from flasgo.policy import weakened
from tests.conftest import TEST_SECRET_KEY

POLICY_APP = """
from flasgo import Flasgo, HasScope, rate_limit

app = Flasgo({{"SECRET_KEY": "{key}", {settings}}})
app.register_auth_backend("token", lambda request: None)


@app.get("/")
def home():
    return "home"


@app.post("/admin")
{auth}
@rate_limit({limit}, per=60)
def admin():
    return "admin"
"""


def write_app(path: Path, *, settings: str = "", auth: str = "", limit: int = 5) -> Path:
    source = POLICY_APP.format(key=TEST_SECRET_KEY, settings=settings, auth=auth, limit=limit)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def snapshot_of(app: Flasgo) -> dict[str, object]:
    return app.policy_snapshot()


def test_the_snapshot_holds_controls_and_route_protections_but_no_secret() -> None:
    app = Flasgo({"SECRET_KEY": TEST_SECRET_KEY, "METRICS_BEARER_TOKEN": None})
    app.register_auth_backend("token", lambda request: None)

    @app.post("/admin")
    @app.authorize(HasScope("admin"), backend="token")
    @app.ratelimit(5, per=60)
    def admin() -> str:
        return "admin"

    @app.post("/hook")
    @csrf_exempt
    def hook() -> str:
        return "hook"

    snapshot = app.policy_snapshot()
    assert snapshot["schema_version"] == 1
    assert snapshot["controls"]["CSRF_ENABLED"] is True
    assert snapshot["controls"]["ALLOWED_HOSTS"] == ["127.0.0.1", "[::1]", "localhost"]
    text = json.dumps(snapshot)  # JSON-ready as it is
    assert TEST_SECRET_KEY not in text
    assert "SECRET_KEY" not in text
    routes = {route["rule"]: route for route in snapshot["routes"]}
    assert routes["/admin"] == {
        "rule": "/admin",
        "methods": ["POST"],
        "endpoint": "admin",
        "websocket": False,
        "auth": {"backend": "token", "permissions": ["HasScope(admin)"]},
        "csrf": True,
        "rate_limits": [{"requests": 5, "window_seconds": 60.0, "scope": None, "keyed": False}],
        "response_model": "str",
    }
    assert routes["/hook"]["csrf"] is False
    assert routes["/hook"]["auth"] is None


def test_weakened_controls_and_routes_are_listed() -> None:
    def build(**settings: object) -> Flasgo:
        app = Flasgo({"SECRET_KEY": TEST_SECRET_KEY, **settings})
        app.register_auth_backend("token", lambda request: None)
        return app

    strict = build()

    @strict.post("/admin")
    @strict.authorize(HasScope("admin"), backend="token")
    @strict.ratelimit(5, per=60)
    def admin() -> str:
        return "admin"

    loose = build(
        CSRF_ENABLED=False,
        ALLOWED_HOSTS={"localhost", "127.0.0.1", "[::1]", "evil.example"},
        MAX_REQUEST_BODY_BYTES=10**8,
        SESSION_COOKIE_SAME_SITE="None",
        SECURITY_FAILURE_RATE_LIMIT=0,
    )

    @loose.post("/admin")
    @loose.ratelimit(50, per=60)
    def admin_loose() -> str:
        return "admin"

    problems = weakened(snapshot_of(strict), snapshot_of(loose))
    assert problems == [
        (
            "ALLOWED_HOSTS weakened: ['127.0.0.1', '[::1]', 'localhost'] -> "
            "['127.0.0.1', '[::1]', 'evil.example', 'localhost']"
        ),
        "CSRF_ENABLED weakened: True -> False",
        "MAX_REQUEST_BODY_BYTES weakened: 1048576 -> 100000000",
        "SECURITY_FAILURE_RATE_LIMIT weakened: 50 -> 0",
        "SESSION_COOKIE_SAME_SITE weakened: 'Lax' -> 'None'",
        "POST /admin: authentication removed",
        "POST /admin: CSRF check removed",
        "POST /admin: rate limit 5/60s removed or loosened",
    ]
    # Stronger is never a problem, nor is the same app.
    assert weakened(snapshot_of(loose), snapshot_of(strict)) == []
    assert weakened(snapshot_of(strict), snapshot_of(strict)) == []
    with pytest.raises(ConfigurationError, match="schema_version 1"):
        weakened({"schema_version": 99}, snapshot_of(strict))


@pytest.mark.usefixtures("isolated_imports")
def test_check_against_fails_on_a_weakened_app(tmp_path: Path) -> None:
    runner = CliRunner()
    app_path = write_app(
        tmp_path / "app.py", auth='@app.authorize(HasScope("admin"), backend="token")'
    )
    saved = runner.invoke(cli, ["routes", str(app_path), "--policy"], prog_name="flasgo")
    assert saved.exit_code == 0, saved.output
    snapshot = tmp_path / "policy.json"
    snapshot.write_text(saved.output, encoding="utf-8")

    same = runner.invoke(cli, ["check", str(app_path), "--against", str(snapshot)])
    assert same.exit_code == 0, same.output
    assert "no control weaker than" in same.output

    # A new file: the CLI process already imported app.py.
    app_path = write_app(tmp_path / "loosened.py", settings='"CSRF_ENABLED": False', limit=500)
    worse = runner.invoke(cli, ["check", str(app_path), "--against", str(snapshot)])
    assert worse.exit_code == 1
    assert worse.output.splitlines()[:4] == [
        "weakened CSRF_ENABLED weakened: True -> False",
        "weakened POST /admin: authentication removed",
        "weakened POST /admin: CSRF check removed",
        "weakened POST /admin: rate limit 5/60s removed or loosened",
    ]
    as_json = runner.invoke(cli, ["check", str(app_path), "--against", str(snapshot), "--json"])
    assert as_json.exit_code == 1
    assert len(json.loads(as_json.output)["weakened"]) == 4

    snapshot.write_text("{}", encoding="utf-8")
    bad = runner.invoke(cli, ["check", str(app_path), "--against", str(snapshot)])
    assert bad.exit_code == 2
    assert "Not a policy snapshot of schema_version 1" in bad.output
