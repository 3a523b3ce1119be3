"""``flasgo new``: write a new project from one of three templates (api, web, realtime).

A project is a package with the app, its tests, a ``Makefile`` whose ``make test`` runs them
with the Python that has Flasgo installed, a ``pyproject.toml`` and a ``.gitignore``. The
name must be a Python identifier (it is the package's name) and the folder must not exist:
nothing is ever overwritten. Files are written to a temporary folder beside the target and
moved into place at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import keyword
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Final, Literal

__all__ = ["TEMPLATES", "ProjectError", "create_project"]

Template = Literal["api", "web", "realtime"]
TEMPLATES: Final[tuple[Template, ...]] = ("api", "web", "realtime")


class ProjectError(Exception):
    """The project cannot be created (a bad name, an existing folder, an unknown template)."""


_PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["flasgo"]

[tool.flasgo]
app = "{name}.app:app"

[tool.pytest.ini_options]
testpaths = ["tests"]
filterwarnings = ["error"]
"""

_MAKEFILE = """\
# The Python that has Flasgo installed (the one that ran `flasgo new`), unless you say otherwise.
PYTHON ?= {python}

.PHONY: test run

test:
\t$(PYTHON) -m pytest -q

run:
\t$(PYTHON) -m flasgo run {name}/app.py --reload
"""

_GITIGNORE = "__pycache__/\n*.pyc\n.venv/\n.pytest_cache/\n.env\n"

_README = """\
# {name}

A Flasgo {template} project.

    make test    # run the tests
    make run     # serve it on http://127.0.0.1:8000 with reload

Settings come from `FLASGO_*` environment variables (see the Flasgo settings reference);
set `FLASGO_SECRET_KEY` before deploying, and run `flasgo check --deploy {name}/app.py`.
"""

_API_APP = '''\
"""The {name} API."""

import msgspec

from flasgo import Flasgo

app = Flasgo({{"HEALTH_ENABLED": True}})

ITEMS: dict[int, str] = {{}}


class NewItem(msgspec.Struct):
    name: str


@app.get("/items/<int:item_id>")
async def get_item(item_id: int) -> dict[str, object]:
    return {{"id": item_id, "name": ITEMS.get(item_id)}}


@app.post("/items")
async def create_item(item: NewItem) -> dict[str, object]:
    item_id = len(ITEMS) + 1
    ITEMS[item_id] = item.name
    return {{"id": item_id, "name": item.name}}
'''

_API_TESTS = """\
from {name}.app import app


def test_create_then_read_an_item() -> None:
    client = app.test_client(csrf=True)
    created = client.post("/items", json={{"name": "first"}})
    assert created.status_code == 200
    item_id = created.json()["id"]
    assert client.get(f"/items/{{item_id}}").json() == {{"id": item_id, "name": "first"}}


def test_a_bad_body_is_a_422() -> None:
    client = app.test_client(csrf=True)
    assert client.post("/items", json={{"title": 1}}).status_code == 422


def test_health() -> None:
    assert app.test_client().get("/healthz").status_code == 200
"""

_WEB_APP = '''\
"""The {name} site."""

from html import escape

from flasgo import Flasgo, Form, Response, csrf_token
from typing import Annotated

app = Flasgo()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}</title></head>
<body><h1>{{greeting}}</h1>
<form method="post" action="/greet">
<input type="hidden" name="csrf_token" value="{{token}}">
<input name="who" placeholder="Your name"><button>Greet</button>
</form></body></html>"""


def page(greeting: str) -> Response:
    html = PAGE.format(greeting=escape(greeting), token=escape(csrf_token()))
    return Response(html, content_type="text/html; charset=utf-8")


@app.get("/")
async def home() -> Response:
    return page("Hello from {name}")


@app.post("/greet")
async def greet(who: Annotated[str, Form()]) -> Response:
    return page(f"Hello, {{who}}!")
'''

_WEB_TESTS = """\
from {name}.app import app


def test_home_page_is_html_with_a_form() -> None:
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'name="csrf_token"' in response.text


def test_greeting_escapes_what_it_echoes() -> None:
    client = app.test_client(csrf=True)
    response = client.post("/greet", data={{"who": "<b>Ada</b>"}})
    assert response.status_code == 200
    assert "Hello, &lt;b&gt;Ada&lt;/b&gt;!" in response.text


def test_a_post_without_the_token_is_refused() -> None:
    assert app.test_client().post("/greet", data={{"who": "x"}}).status_code == 403
"""

_REALTIME_APP = '''\
"""The {name} realtime service: a WebSocket that echoes, and an HTTP status route."""

from flasgo import Flasgo, WebSocket

app = Flasgo()


@app.get("/")
async def status() -> dict[str, str]:
    return {{"service": "{name}", "websocket": "/ws"}}


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_json({{"echo": text}})
'''

_REALTIME_TESTS = """\
from {name}.app import app


def test_status() -> None:
    assert app.test_client().get("/").json() == {{"service": "{name}", "websocket": "/ws"}}


def test_the_websocket_echoes() -> None:
    with app.test_client() as client, client.websocket_connect("/ws") as ws:
        ws.send_text("ping")
        assert ws.receive_json() == {{"echo": "ping"}}
"""

_SOURCES: Final[dict[Template, tuple[str, str]]] = {
    "api": (_API_APP, _API_TESTS),
    "web": (_WEB_APP, _WEB_TESTS),
    "realtime": (_REALTIME_APP, _REALTIME_TESTS),
}


def check_name(name: str) -> None:
    """Raise `ProjectError` unless `name` can be a package name."""
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ProjectError(
            f"{name!r} is not a valid project name: use a Python identifier such as "
            "'my_service' (letters, digits and underscores, not starting with a digit)"
        )


def create_project(name: str, parent: Path, template: str = "api") -> Path:
    """Write the project `name` into ``parent / name`` from `template`.

    Returns:
        The new project's folder.

    Raises:
        ProjectError: The name is not an identifier, the folder exists, or the template is
            unknown.
    """
    check_name(name)
    if template not in _SOURCES:
        raise ProjectError(f"Unknown template {template!r}; use one of {', '.join(TEMPLATES)}")
    target = parent / name
    if target.exists():
        raise ProjectError(f"{target} already exists; pick another name or remove it first")
    app_source, test_source = _SOURCES[template]
    files = {
        "pyproject.toml": _PYPROJECT.format(name=name),
        "Makefile": _MAKEFILE.format(name=name, python=sys.executable),
        ".gitignore": _GITIGNORE,
        "README.md": _README.format(name=name, template=template),
        f"{name}/__init__.py": "",
        f"{name}/app.py": app_source.format(name=name),
        "tests/__init__.py": "",
        f"tests/test_{name}.py": test_source.format(name=name),
        "conftest.py": "",  # NOTE: puts the project folder on sys.path for the tests
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=parent))
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        # NOTE: rename fails if the folder appeared meanwhile, so nothing is overwritten.
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
