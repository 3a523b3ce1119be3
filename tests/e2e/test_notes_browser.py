"""End to end: the notes example (``examples/notes``) used by a person in headless Chromium.

The site runs under ``flasgo run`` (uvicorn) on a loopback port. In one browser session we
log in through the ``?next=`` redirect, create a note, see the flash, upload a file, check
that the stylesheet and the image load, reload and see the stylesheet revalidated with a
304, and watch a cross-site form post be refused. Every page must leave the console clean
(no CSP violation, no failed load).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.devtools import Chromium, Page
from tests.e2e.test_docs_browser import (
    APT_SECONDS,
    ARTIFACTS,
    INHERITED,
    STARTUP_SECONDS,
    artifacts_on_failure,
    console_problems,
    find_chromium,
    free_port,
    wait_until_listening,
)

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "examples" / "notes" / "app.py"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(APT_SECONDS + 60)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chromium = Chromium(find_chromium(), tmp_path_factory.mktemp("chromium-notes"))
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The notes site under ``flasgo run``; yields its base URL and its log file."""
    folder = tmp_path_factory.mktemp("notes")
    log = folder / "server.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    env["NOTES_UPLOADS"] = str(folder / "uploads")
    (folder / "uploads").mkdir()
    args = [sys.executable, "-m", "flasgo", "run", str(NOTES), "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            args, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(process, port, log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def text(page: Page) -> str:
    return str(page.evaluate("document.body.innerText"))


def submit(page: Page, form: str, ready: str, **fields: str) -> None:
    for name, value in fields.items():
        page.evaluate(f"document.querySelector({f'#{name}'!r}).value = {value!r}")
    page.evaluate(f"document.querySelector({form!r}).submit()")
    assert page.wait_for(ready, 20), text(page)


def test_a_person_uses_the_notes_site(
    browser: Chromium, site: tuple[str, Path], request: pytest.FixtureRequest
) -> None:
    base, log = site
    page = browser.open(f"{base}/", ready="!!document.querySelector('#login')")
    with artifacts_on_failure(page, ARTIFACTS, request.node.name):
        # Not logged in: redirected to the login page, which keeps where we were going.
        assert page.evaluate("location.pathname + location.search") == "/login?next=%2F"
        assert "Please log in first." in text(page)

        submit(page, "#login", "location.pathname === '/'", name="ada", password="lovelace")
        assert "Welcome, ada!" in text(page)
        assert page.evaluate("document.querySelector('#who').innerText") == "ada"

        submit(
            page,
            "#new-note",
            "document.querySelectorAll('#notes li').length === 1",
            text="First <b>note</b>",
        )
        assert "Note saved." in text(page)
        assert page.evaluate("document.querySelector('#notes li').innerText") == (
            "ada: First <b>note</b>"
        )

        page.evaluate(
            "(() => { const data = new DataTransfer();"
            " data.items.add(new File(['hello from chromium'], 'hello.txt', {type: 'text/plain'}));"
            " document.querySelector('#file').files = data.files; })()"
        )
        submit(page, "#upload", "document.querySelectorAll('#files li').length === 1")
        assert "Uploaded hello.txt." in text(page)
        assert (Path(log.parent) / "uploads" / "hello.txt").read_text() == "hello from chromium"

        # The stylesheet applied and the image loaded (same-origin, under the page's CSP).
        assert "system-ui" in page.evaluate("getComputedStyle(document.body).fontFamily")
        assert page.evaluate("document.querySelector('header img').naturalWidth") > 0

        # A reload revalidates the stylesheet: unchanged, the server answers 304.
        page.evaluate("location.reload()")
        page.settle(1.0)
        assert page.wait_for("!!document.querySelector('#new-note')", 20)
        css = [status for url, status in page.responses() if url.endswith("/static/site.css")]
        assert css[0] == 200
        assert css[-1] == 304
        assert console_problems(page) == []

    # Another site's form posting to ours is refused (Origin: null, no CSRF token).
    attack = (
        "data:text/html,<form method=post action='" + base + "/notes'>"
        "<input name=text value=pwned></form><script>document.forms[0].submit()</script>"
    )
    evil = browser.open(attack, ready="document.body && /CSRF/.test(document.body.innerText)")
    with artifacts_on_failure(evil, ARTIFACTS, request.node.name + "-attack"):
        assert "CSRF validation failed" in text(evil)
    assert page.wait_for("true", 1)
    check = browser.open(f"{base}/", ready="!!document.querySelector('#notes')")
    assert check.evaluate("document.querySelectorAll('#notes li').length") == 1
