"""`.env` files for the command line: the format, precedence, skipping, clear errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from flasgo.cli import cli
from flasgo.envfile import EnvFileError, load_env_file, parse_env_file

SAMPLE = """
# a comment
FLASGO_DEBUG=true
export FLASGO_MAX_JSON_DEPTH = 12
PLAIN=value with spaces # trailing comment
SINGLE='raw \\n $HOME # kept'
DOUBLE="line\\nbreak \\"quoted\\" back\\\\slash"  # comment
EMPTY=
"""


def test_the_format() -> None:
    assert parse_env_file(SAMPLE) == {
        "FLASGO_DEBUG": "true",
        "FLASGO_MAX_JSON_DEPTH": "12",
        "PLAIN": "value with spaces",
        "SINGLE": "raw \\n $HOME # kept",
        "DOUBLE": 'line\nbreak "quoted" back\\slash',
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("no equals sign", "expected KEY=value"),
        ("1KEY=x", "expected KEY=value"),
        ("BAD-KEY=x", "expected KEY=value"),
        ("=x", "expected KEY=value"),
        ("KEY='open", "unterminated single quote"),
        ('KEY="open', "unterminated double quote"),
        ('KEY="a" b', "text after the closing quote"),
    ],
)
def test_malformed_lines_name_the_line_not_the_value(line: str, problem: str) -> None:
    with pytest.raises(EnvFileError) as info:
        parse_env_file(f"OK=1\n{line}-secret-value\n", "app/.env")
    assert str(info.value) == f"app/.env:2: {problem}"


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_env_file_error(text: str) -> None:
    values: dict[str, str] = {}
    problem = ".env:"
    try:
        values = parse_env_file(text)
    except EnvFileError as exc:
        problem = str(exc)
    assert problem.startswith(".env:")
    assert all(key.isidentifier() for key in values)
    assert all(isinstance(value, str) for value in values.values())


def test_the_environment_wins_and_skip_skips(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=from-file\nB=from-file\n")
    environ = {"A": "real"}
    assert load_env_file(path, environ) == ["B"]
    assert environ == {"A": "real", "B": "from-file"}

    skipped = {"FLASGO_SKIP_DOTENV": "1"}
    assert load_env_file(path, skipped) == []
    assert load_env_file(tmp_path / "missing", {}) == []


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("FLASGO_")]:
        monkeypatch.delenv(name)
    # NOTE: setenv first so that monkeypatch restores the variables' absence afterwards.
    for name in ("FLASGO_MAX_JSON_DEPTH", "FLASGO_MAX_URL_LENGTH"):
        monkeypatch.setenv(name, "1")
        monkeypatch.delenv(name)
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    yield tmp_path
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


def test_commands_read_dot_env_before_loading_the_app(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_folder / "app.py").write_text("from flasgo import Flasgo\napp = Flasgo()\n")
    (in_folder / ".env").write_text("FLASGO_MAX_JSON_DEPTH=9\nFLASGO_MAX_URL_LENGTH=3000\n")
    monkeypatch.setenv("FLASGO_MAX_URL_LENGTH", "5000")

    result = CliRunner().invoke(cli, ["settings", "app.py", "--json"])

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["MAX_JSON_DEPTH"]["value"] == "9"
    assert rows["MAX_URL_LENGTH"]["value"] == "5000"  # the real environment wins


def test_a_malformed_dot_env_is_a_clear_error(in_folder: Path) -> None:
    (in_folder / "app.py").write_text("from flasgo import Flasgo\napp = Flasgo()\n")
    (in_folder / ".env").write_text("SECRET_KEY hunter2\n")

    result = CliRunner().invoke(cli, ["routes", "app.py"])

    assert result.exit_code == 2
    assert "Error: .env:1: expected KEY=value" in result.output
    assert "hunter2" not in result.output
