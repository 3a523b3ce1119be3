"""The README's installation commands, run for real, so the README cannot drift from them.

``pip install flasgo`` fetches another project from PyPI, so the README installs Flasgo from a
checkout of the repository or from a wheel built from it. These tests read the ```bash blocks of
the README's "Installation" section and run each one in a copy of the checkout's files (the
tracked ones and new ones not ignored), in its own fresh ``python -m venv``; then they import
Flasgo in that environment and serve a request with it. ``pip`` runs as ``uv pip`` (it takes the
same arguments): uv takes the dependencies from the cache that ``make setup`` filled, and from
PyPI for anything missing. ``uv`` is the one on ``PATH`` or the one ``make`` bootstraps.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("**/*.md"))]
SECTION = re.compile(r"^## Installation\n(.*?)(?=^## )", re.S | re.M)
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
# `pip install "flasgo[...]"` (or `'flasgo[...]'`, or no quotes) installs the PyPI project.
PYPI_INSTALL = re.compile(r"pip install\s+[\"']?flasgo\b.*")
# The one place that names that command: the README's warning against it.
WARNING = "`pip install flasgo` fetches a different project"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
COMMAND_TIMEOUT = 100

# Run inside the new environment: where Flasgo was imported from, and that it serves requests
# (the docs UI bundle too, so the package data made it into the install).
PROBE = """
import importlib.util, json, sys, sysconfig
import flasgo
from flasgo import Flasgo

app = Flasgo({"ENABLE_DOCS": True})


@app.get("/")
async def home():
    return {"installed": True}


client = app.test_client()
print(json.dumps({
    "file": flasgo.__file__,
    "version": flasgo.__version__,
    "purelib": sysconfig.get_paths()["purelib"],
    "prefix": sys.prefix,
    "home": [client.get("/").status_code, client.get("/").json()],
    "bundle": client.get("/docs/static/swagger-ui-bundle.js").status_code,
    "uvicorn": importlib.util.find_spec("uvicorn") is not None,
}))
"""


def _install_blocks() -> list[list[str]]:
    """The commands of each ```bash block in the README's Installation section."""
    section = SECTION.search(README.read_text(encoding="utf-8"))
    if section is None:
        return []
    blocks = []
    for block in BASH_BLOCK.finditer(section.group(1)):
        lines = [line.partition(" #")[0].strip() for line in block.group(1).splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


BLOCKS = _install_blocks()


def _argv(command: str, uv: str) -> list[str]:
    words = shlex.split(command)
    if words[:2] == ["pip", "install"]:
        return [uv, *words]
    if words[:2] == ["uv", "build"]:
        return [uv, *words[1:]]
    raise AssertionError(f"tests/project/test_install.py does not know how to run {command!r}")


def _run(argv: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    completed = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{shlex.join(argv)} exited with {completed.returncode}:\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def _activated(venv: Path) -> dict[str, str]:
    """The environment of a shell that activated `venv` (and no other Python settings)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "UV_PYTHON", "UV_SYSTEM_PYTHON"}
        and not name.startswith("UV_PROJECT")
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(_scripts(venv)), env.get("PATH", "")])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def _scripts(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


@pytest.fixture(scope="module")
def uv() -> str:
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(ROOT / ".tools/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("uv is not installed (`make setup` bootstraps it into .tools/)")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's files, so nothing is built or written inside the real one."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout of Flasgo to copy its files from")
    listed = subprocess.run(
        [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=COMMAND_TIMEOUT,
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("checkout")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def test_the_readme_installs_from_a_checkout_editable_or_from_a_wheel() -> None:
    # The wheel's name carries the version: bumping it in pyproject.toml fails here first.
    commands = [" ".join(shlex.split(line)) for block in BLOCKS for line in block]

    assert commands == [
        "pip install .[standard]",
        "pip install -e .[standard]",
        "uv build --wheel",
        f"pip install dist/flasgo-{VERSION}-py3-none-any.whl[standard]",
    ]


def test_no_install_command_fetches_the_pypi_project_of_the_same_name() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert text.count(WARNING) == (1 if path == README else 0)
        assert PYPI_INSTALL.findall(text.replace(WARNING, "")) == [], path.relative_to(ROOT)


@pytest.mark.install
@pytest.mark.parametrize("commands", BLOCKS, ids=[" && ".join(block) for block in BLOCKS])
def test_readme_install_block_works_in_a_fresh_venv(
    commands: list[str], checkout: Path, uv: str, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    env = _activated(venv)
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)

    for command in commands:
        _run(_argv(command, uv), cwd=checkout, env=env)
    python = _scripts(venv) / "python"
    # Run from elsewhere: neither the checkout nor its copy may be on the path by accident.
    found = json.loads(_run([str(python), "-c", PROBE], cwd=tmp_path, env=env))
    version = _run([str(_scripts(venv) / "flasgo"), "--version"], cwd=tmp_path, env=env)

    words = {word for command in commands for word in shlex.split(command)}
    editable = bool(words & {"-e", "--editable"})
    package = (checkout / "src" if editable else Path(found["purelib"])) / "flasgo"
    assert Path(found["prefix"]).resolve() == venv.resolve()
    assert Path(found["file"]).resolve() == (package / "__init__.py").resolve()
    assert Path(found["purelib"]).resolve().is_relative_to(venv.resolve())
    assert found["version"] == VERSION
    assert version.strip() == f"flasgo, version {VERSION}"
    assert found["home"] == [200, {"installed": True}]
    assert found["bundle"] == 200
    assert found["uvicorn"] is any("[standard]" in command for command in commands)
