"""The notes example in-process (the browser test in tests/e2e drives it in Chromium)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ClientFactory

APP = Path(__file__).resolve().parents[2] / "examples" / "notes" / "app.py"


@pytest.fixture
def notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("NOTES_UPLOADS", str(tmp_path))
    spec = importlib.util.spec_from_file_location("notes_example", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "notes_example", module)
    spec.loader.exec_module(module)
    return module


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_log_in_write_upload_download_log_out(
    notes: ModuleType, make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(notes.app)
    origin = {"origin": "http://localhost"}
    login = client.get("/", follow_redirects=True)
    assert login.url.endswith("/login?next=%2F")
    assert "Please log in first." in login.text
    wrong = client.post(
        "/login?next=%2F",
        data={"csrf_token": token(login.text), "name": "ada", "password": "nope"},
        headers=origin,
        follow_redirects=True,
    )
    assert "Wrong name or password." in wrong.text
    home = client.post(
        "/login?next=%2F",
        data={"csrf_token": token(wrong.text), "name": "ada", "password": "lovelace"},
        headers=origin,
        follow_redirects=True,
    )
    assert home.url == "http://localhost/"
    assert "Welcome, ada!" in home.text
    saved = client.post(
        "/notes",
        data={"csrf_token": token(home.text), "text": "<i>hi</i>"},
        headers=origin,
        follow_redirects=True,
    )
    assert "<b>ada</b>: &lt;i&gt;hi&lt;/i&gt;" in saved.text
    uploaded = client.post(
        "/upload",
        data={"csrf_token": token(saved.text)},
        files={"file": ("report.txt", b"numbers", "text/plain")},
        headers=origin,
        follow_redirects=True,
    )
    assert "Uploaded report.txt." in uploaded.text
    assert (tmp_path / "report.txt").read_bytes() == b"numbers"
    download = client.get("/files/report.txt")
    assert download.content == b"numbers"
    assert download.headers["content-disposition"] == 'attachment; filename="report.txt"'
    assert client.get("/files/..%2fapp.py").status_code == 404
    out = client.post(
        "/logout", data={"csrf_token": token(uploaded.text)}, headers=origin, follow_redirects=True
    )
    assert "Logged out." in out.text
    assert client.get("/files/report.txt").status_code == 302


def test_an_offsite_next_is_not_followed(notes: ModuleType, make_client: ClientFactory) -> None:
    client = make_client(notes.app)
    page = client.get("/login")
    response = client.post(
        "/login?next=//evil.example",
        data={"csrf_token": token(page.text), "name": "ada", "password": "lovelace"},
        headers={"origin": "http://localhost"},
    )
    assert response.headers["location"] == "/"
