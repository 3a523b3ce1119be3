"""The flasgo command: --version, routes, run's options and its error handling."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from flasgo import serving
from flasgo.cli import cli
from flasgo.exceptions import ConfigurationError
from tests.composition.openapi.checks import assert_valid_openapi

ROUTES_APP = """
from flasgo import Blueprint, Flasgo

app = Flasgo()
admin = Blueprint("admin", url_prefix="/admin")

@app.get("/")
def home():
    return "home"

@app.route("/items/<int:item_id>", methods=["GET", "PUT"])
def item(item_id: int):
    return {"id": item_id}

@app.websocket("/ws")
async def feed(websocket):
    await websocket.accept()

@admin.post("/users")
def create_user():
    return "created"

app.register_blueprint(admin)
"""

CLI_VARIABLES = ("FLASGO_APP", "FLASGO_HOST", "FLASGO_PORT", "PORT", "FLASGO_RELOAD")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch):
    for name in (*CLI_VARIABLES, "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    # NOTE: `flasgo run` sets FLASGO_ACCESS_LOG and configures the flasgo loggers; setenv
    # first so that monkeypatch restores the variable's absence.
    monkeypatch.setenv("FLASGO_ACCESS_LOG", "auto")
    monkeypatch.delenv("FLASGO_ACCESS_LOG")
    logger = logging.getLogger("flasgo")
    saved_logging = (list(logger.handlers), logger.propagate, logger.level)
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved_logging
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


@pytest.fixture
def app_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / f"cli_{request.node.name.replace('[', '_').replace(']', '_')}.py"
    path.write_text(textwrap.dedent(ROUTES_APP), encoding="utf-8")
    return path


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, dict[str, Any]]]:
    calls: list[tuple[object, dict[str, Any]]] = []

    def fake_serve(app_or_target: object, **options: Any) -> None:
        calls.append((app_or_target, options))

    monkeypatch.setattr(serving, "serve", fake_serve)
    return calls


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, prog_name="flasgo")


def test_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.output.startswith("flasgo, version ")


def test_help_lists_the_commands() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    assert "run" in result.output
    assert "routes" in result.output
    assert "openapi" in result.output


def test_routes_table_is_sorted_by_rule(app_file: Path) -> None:
    result = invoke("routes", str(app_file))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "METHODS  RULE                  ENDPOINT",
        "GET      /                     home",
        "POST     /admin/users          admin.create_user",
        "GET,PUT  /items/<int:item_id>  item",
        "WS       /ws                   feed",
    ]


def test_routes_all_methods_shows_the_automatic_ones(app_file: Path) -> None:
    result = invoke("routes", str(app_file), "--all-methods")

    assert result.exit_code == 0, result.output
    assert "GET,HEAD,OPTIONS" in result.output.splitlines()[1]


def test_routes_json(app_file: Path) -> None:
    result = invoke("routes", str(app_file), "--json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["rule"] for row in rows] == ["/", "/admin/users", "/items/<int:item_id>", "/ws"]
    assert rows[0] == {
        "rule": "/",
        "methods": ["GET", "HEAD", "OPTIONS"],
        "endpoint": "home",
        "websocket": False,
    }
    assert rows[-1]["websocket"] is True


def test_routes_of_an_app_without_routes(tmp_path: Path) -> None:
    (tmp_path / "cli_bare.py").write_text("from flasgo import Flasgo\napp = Flasgo()\n")

    result = invoke("routes", str(tmp_path / "cli_bare.py"))

    assert result.exit_code == 0
    assert result.output == "No routes.\n"


def test_routes_of_a_raw_asgi_app_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cli_raw.py").write_text("async def app(scope, receive, send):\n    pass\n")

    result = invoke("routes", str(tmp_path / "cli_raw.py"))

    assert result.exit_code == 2
    assert "is not a Flasgo app" in result.output


def test_openapi_prints_the_document(app_file: Path) -> None:
    result = invoke("openapi", str(app_file))

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert_valid_openapi(document)
    assert list(document["paths"]) == ["/", "/items/{item_id}", "/admin/users"]
    assert list(document["paths"]["/items/{item_id}"]) == ["get", "put"]
    assert document["paths"]["/admin/users"]["post"]["operationId"] == "admin_create_user_post"
    assert result.stdout.endswith("}\n")


def test_openapi_writes_a_file_atomically_keeping_its_mode(app_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "spec.json"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)

    result = invoke("openapi", str(app_file), "-o", str(target))

    assert result.exit_code == 0, result.output
    assert f"to {target}" in result.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["openapi"] == "3.1.0"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [path.name for path in target.parent.iterdir()] == ["spec.json"]
    again = invoke("openapi", str(app_file), "--output", str(target))
    assert again.exit_code == 0
    assert target.read_text(encoding="utf-8") == invoke("openapi", str(app_file)).stdout


def test_openapi_new_file_gets_the_umask_mode(app_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "spec.json"
    previous = os.umask(0o027)
    try:
        result = invoke("openapi", str(app_file), "-o", str(target))
    finally:
        os.umask(previous)

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_openapi_write_failure_is_a_message_and_leaves_no_temporary(
    app_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "spec.json"

    def refuse(self: Path, other: Path) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "replace", refuse)
    result = invoke("openapi", str(app_file), "-o", str(target))

    assert result.exit_code == 1
    assert f"Cannot write {target}: Permission denied" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == [app_file.name]


def test_openapi_of_a_raw_asgi_app_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cli_raw.py").write_text("async def app(scope, receive, send):\n    pass\n")

    result = invoke("openapi", str(tmp_path / "cli_raw.py"))

    assert result.exit_code == 2
    assert "has no OpenAPI document" in result.output


@pytest.mark.parametrize("command", ["routes", "run", "openapi"])
def test_unknown_target_exits_2_without_a_traceback(
    command: str, tmp_path: Path, serve_calls: list[Any]
) -> None:
    result = invoke(command, str(tmp_path / "missing.py"))

    assert result.exit_code == 2
    assert result.output.startswith("Error: Could not find")
    assert "Traceback" not in result.output
    assert serve_calls == []


def test_target_without_an_app_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "cli_noapp.py").write_text("x = 1\n")

    result = invoke("routes", str(tmp_path / "cli_noapp.py"))

    assert result.exit_code == 2
    assert "define `app = Flasgo()` or a create_app() factory" in result.output


def test_broken_module_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "cli_broken.py").write_text("raise RuntimeError('boom at import')\n")

    result = invoke("routes", str(tmp_path / "cli_broken.py"))

    assert result.exit_code == 2
    assert "RuntimeError: boom at import" in result.output
    assert "Traceback" not in result.output


def test_run_defaults(app_file: Path, serve_calls: list[tuple[object, dict[str, Any]]]) -> None:
    result = invoke("run", str(app_file))

    assert result.exit_code == 0, result.output
    (loaded, options) = serve_calls[0]
    assert getattr(loaded, "import_string", None) == f"{app_file.stem}:app"
    assert options == {
        "host": "127.0.0.1",
        "port": 8000,
        "reload": None,
        "workers": None,
        "server": "uvicorn",
        "reload_dirs": None,
        "log_level": None,
    }
    assert f"Serving {app_file} on http://127.0.0.1:8000" in result.output


def test_run_options(
    app_file: Path, tmp_path: Path, serve_calls: list[tuple[object, dict[str, Any]]]
) -> None:
    result = invoke(
        "run",
        "--app",
        str(app_file),
        "--host",
        "::1",
        "--port",
        "9000",
        "--reload",
        "--reload-dir",
        str(tmp_path),
        "--server",
        "granian",
        "--log-level",
        "DEBUG",
    )

    assert result.exit_code == 0, result.output
    _, options = serve_calls[0]
    assert options["host"] == "::1"
    assert options["port"] == 9000
    assert options["reload"] is True
    assert options["reload_dirs"] == [str(tmp_path)]
    assert options["server"] == "granian"
    assert options["log_level"] == "debug"
    assert "http://[::1]:9000" in result.output


def test_run_reads_the_environment(
    app_file: Path, serve_calls: list[tuple[object, dict[str, Any]]]
) -> None:
    env = {
        "FLASGO_APP": str(app_file),
        "FLASGO_HOST": "0.0.0.0",
        "PORT": "5000",
        "FLASGO_RELOAD": "false",
    }

    result = invoke("run", env=env)

    assert result.exit_code == 0, result.output
    _, options = serve_calls[0]
    assert (options["host"], options["port"]) == ("0.0.0.0", 5000)
    assert options["reload"] is False


# -- workers: the WORKERS setting, then WEB_CONCURRENCY, the same as app.run() -----------------

SHARED_KEY = "Zq3_vT9xLw2Ry8Pn4Hc6Bd1Mf5Gj7Ks0aXeWuYoIiUtRrEeQqPpLlKkJjHhGgFf"


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, dict[str, Any]]]:
    import uvicorn

    calls: list[tuple[object, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.delenv("FLASGO_WORKERS", raising=False)
    return calls


@pytest.mark.parametrize(
    ("args", "env", "workers"),
    [
        ((), {"FLASGO_WORKERS": "2"}, 2),
        ((), {"WEB_CONCURRENCY": "3"}, 3),
        ((), {"FLASGO_WORKERS": "2", "WEB_CONCURRENCY": "3"}, 2),
        (("--workers", "4"), {"FLASGO_WORKERS": "2", "WEB_CONCURRENCY": "3"}, 4),
    ],
)
def test_run_starts_the_workers_asked_for(
    app_file: Path,
    uvicorn_calls: list[tuple[object, dict[str, Any]]],
    args: tuple[str, ...],
    env: dict[str, str],
    workers: int,
) -> None:
    result = invoke(
        "run", str(app_file), "--no-reload", *args, env={**env, "FLASGO_SECRET_KEY": SHARED_KEY}
    )

    assert result.exit_code == 0, result.output
    (target, options) = uvicorn_calls[0]
    # Worker processes import the app by name.
    assert (target, options["workers"]) == (f"{app_file.stem}:app", workers)


def test_run_with_flasgo_workers_and_no_secret_key_names_secret_key(
    app_file: Path, uvicorn_calls: list[tuple[object, dict[str, Any]]]
) -> None:
    result = invoke("run", str(app_file), "--no-reload", env={"FLASGO_WORKERS": "2"})

    assert result.exit_code == 1
    assert "Error: SECRET_KEY is not set, and 2 workers would each generate" in result.output
    assert "Set FLASGO_SECRET_KEY to the same value for every worker" in result.output
    assert uvicorn_calls == []


def test_run_with_a_bad_web_concurrency_is_a_message(
    app_file: Path, uvicorn_calls: list[tuple[object, dict[str, Any]]]
) -> None:
    result = invoke("run", str(app_file), "--no-reload", env={"WEB_CONCURRENCY": "many"})

    assert result.exit_code == 1
    assert "Error: WEB_CONCURRENCY must be a whole number of worker processes, got 'many'" in (
        result.output
    )
    assert uvicorn_calls == []


def test_flasgo_port_beats_port(
    app_file: Path, serve_calls: list[tuple[object, dict[str, Any]]]
) -> None:
    result = invoke("run", str(app_file), env={"FLASGO_PORT": "7000", "PORT": "5000"})

    assert result.exit_code == 0, result.output
    assert serve_calls[0][1]["port"] == 7000


def test_run_rejects_bad_option_values(app_file: Path, serve_calls: list[Any]) -> None:
    assert invoke("run", str(app_file), "--workers", "0").exit_code == 2
    assert invoke("run", str(app_file), "--port", "70000").exit_code == 2
    assert invoke("run", str(app_file), "--server", "gunicorn").exit_code == 2
    assert serve_calls == []


def test_target_and_app_option_must_agree(app_file: Path, serve_calls: list[Any]) -> None:
    result = invoke("run", str(app_file), "--app", "other:app")

    assert result.exit_code == 2
    assert "Give the app once" in result.output


def test_configuration_error_from_serve_is_a_message(
    app_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_serve(app_or_target: object, **options: Any) -> None:
        raise ConfigurationError("granian is not installed; pip install 'flasgo[granian]'")

    monkeypatch.setattr(serving, "serve", failing_serve)

    result = invoke("run", str(app_file), "--server", "granian")

    assert result.exit_code == 1
    assert "Error: granian is not installed; pip install 'flasgo[granian]'" in result.output
    assert "Traceback" not in result.output


def test_importing_the_cli_does_not_import_a_server() -> None:
    code = (
        "import sys, flasgo.cli; "
        "print(sorted(m for m in ('uvicorn', 'granian', 'flasgo.serving') if m in sys.modules))"
    )

    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout

    assert output.strip() == "[]"


def test_python_dash_m_flasgo(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "flasgo", "routes", "missing.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2
    assert completed.stderr.startswith("Error: Could not find")
    assert "Traceback" not in completed.stderr


def test_load_app_returns_the_app_a_target_names(app_file: Path) -> None:
    from flasgo.cli import load_app
    from flasgo.discovery import AppNotFoundError

    app = load_app(str(app_file))
    assert {route.rule for route in app.url_map} >= {"/", "/items/<int:item_id>"}
    with pytest.raises(AppNotFoundError):
        load_app(str(app_file.parent / "missing.py"))


def test_build_set_cookie_is_importable_from_flasgo_security() -> None:
    from flasgo.security import build_set_cookie

    assert build_set_cookie("id", "1") == "id=1; Path=/; Secure; HttpOnly; SameSite=Lax"


def test_run_turns_on_the_access_log_and_configures_the_flasgo_loggers(
    app_file: Path,
    serve_calls: list[tuple[object, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLASGO_LOG_LEVEL", "warning")
    monkeypatch.setenv("FLASGO_LOG_FORMAT", "json")

    result = invoke("run", str(app_file))

    assert result.exit_code == 0, result.output
    loaded, _ = serve_calls[0]
    assert loaded.app.settings.ACCESS_LOG == "on"  # type: ignore[attr-defined]
    logger = logging.getLogger("flasgo")
    [handler] = [h for h in logger.handlers if getattr(h, "_flasgo", False)]
    assert type(handler.formatter).__name__ == "FlasgoJSONFormatter"
    assert (logger.level, logger.propagate) == (logging.WARNING, False)


def test_run_keeps_an_access_log_setting_from_the_environment(
    app_file: Path,
    serve_calls: list[tuple[object, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLASGO_ACCESS_LOG", "off")
    assert invoke("run", str(app_file)).exit_code == 0
    loaded, _ = serve_calls[0]
    assert loaded.app.settings.ACCESS_LOG == "off"  # type: ignore[attr-defined]
