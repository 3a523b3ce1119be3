"""``flasgo new``, ``flasgo shell`` and ``flasgo settings``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flasgo.cli import cli
from flasgo.provenance import MASK

SETTINGS_APP = """
from flasgo import Flasgo

app = Flasgo({"SECRET_KEY": "code-secret-" + "c" * 40, "MAX_JSON_DEPTH": 12})
"""


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, prog_name="flasgo")


@pytest.fixture(autouse=True)
def clean_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("FLASGO_")]:
        monkeypatch.delenv(name)
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


@pytest.mark.parametrize("template", ["api", "web", "realtime"])
def test_new_writes_a_project_whose_own_tests_pass(tmp_path: Path, template: str) -> None:
    result = invoke("new", "demo_service", "--template", template, "--directory", str(tmp_path))

    assert result.exit_code == 0, result.output
    project = tmp_path / "demo_service"
    assert f"Created {project} from the {template} template." in result.output
    assert (project / "demo_service" / "app.py").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASGO_")}
    done = subprocess.run(
        ["make", "test"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout


@pytest.mark.parametrize(
    "name", ["1st", "my-service", "class", "with space", "caf\u00e9", "../escape", ""]
)
def test_new_refuses_a_name_that_is_not_an_identifier(tmp_path: Path, name: str) -> None:
    result = invoke("new", name, "--directory", str(tmp_path))

    assert result.exit_code == 2
    assert f"{name!r} is not a valid project name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_new_never_overwrites_an_existing_folder(tmp_path: Path) -> None:
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    empty = tmp_path / "empty"
    empty.mkdir()

    first = invoke("new", "taken", "--directory", str(tmp_path))
    second = invoke("new", "empty", "--directory", str(tmp_path))

    assert (first.exit_code, second.exit_code) == (2, 2)
    assert f"{existing} already exists" in first.output
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert list(empty.iterdir()) == []


def test_new_refuses_an_unknown_template(tmp_path: Path) -> None:
    result = invoke("new", "demo", "--template", "desktop", "--directory", str(tmp_path))
    assert result.exit_code == 2
    assert "'desktop' is not one of 'api', 'web', 'realtime'" in result.output


def test_shell_has_the_app_and_its_context(tmp_path: Path) -> None:
    app_file = tmp_path / "shell_app.py"
    app_file.write_text(textwrap.dedent(SETTINGS_APP))
    lines = (
        "print('max depth', app.settings.MAX_JSON_DEPTH)\n"
        "print('same', current_app.settings is app.settings)\n"
    )

    result = invoke("shell", str(app_file), "--plain", input=lines)

    assert result.exit_code == 0, result.output
    assert f"Flasgo shell for {app_file}" in result.output
    assert "max depth 12" in result.output
    assert "same True" in result.output


def test_settings_shows_values_sources_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_file = tmp_path / "settings_app.py"
    app_file.write_text(textwrap.dedent(SETTINGS_APP))
    monkeypatch.setenv("FLASGO_MAX_URL_LENGTH", "4000")
    monkeypatch.setenv("FLASGO_METRICS_BEARER_TOKEN", "env-token-" + "t" * 40)

    result = invoke("settings", str(app_file), "--json")

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["MAX_JSON_DEPTH"] == {"name": "MAX_JSON_DEPTH", "value": "12", "source": "code"}
    assert rows["MAX_URL_LENGTH"]["source"] == "environment (FLASGO_MAX_URL_LENGTH)"
    assert rows["MAX_URL_LENGTH"]["value"] == "4000"
    assert rows["DEBUG"] == {"name": "DEBUG", "value": "False", "source": "default"}
    assert rows["SECRET_KEY"] == {"name": "SECRET_KEY", "value": MASK, "source": "code"}
    assert rows["METRICS_BEARER_TOKEN"]["value"] == MASK
    assert "c" * 40 not in result.output
    assert "t" * 40 not in result.output


def test_settings_text_and_a_generated_key(tmp_path: Path) -> None:
    app_file = tmp_path / "bare_app.py"
    app_file.write_text("from flasgo import Flasgo\napp = Flasgo()\n")

    result = invoke("settings", str(app_file))

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["SECRET_KEY"].endswith(f"{MASK}  [generated]")
    assert lines["DEBUG"].endswith("False  [default]")


def test_settings_of_something_that_is_not_an_app(tmp_path: Path) -> None:
    app_file = tmp_path / "not_app.py"
    app_file.write_text("async def app(scope, receive, send):\n    pass\n")
    result = invoke("settings", str(app_file))
    assert result.exit_code == 2
    assert "is not a Flasgo app" in result.output
