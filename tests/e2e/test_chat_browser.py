"""End to end: examples/chat in headless Chromium, on one uvicorn worker and on two.

Two pages in room ``a`` see each other's messages and a page in room ``b`` does not. With two
``flasgo run`` processes sharing a real redis-server (``REDIS_URL``), the pages of one room sit
on different processes, which proves delivery across workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.e2e.devtools import Chromium, Page
from tests.e2e.test_docs_browser import (
    APT_SECONDS,
    INHERITED,
    find_chromium,
    free_port,
    wait_until_listening,
)
from tests.redis_server import start_redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(APT_SECONDS + 60)]

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat" / "app.py"
JOINED = "!!document.body && document.body.dataset.state === 'joined'"
SECONDS = 15.0


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One offline headless Chromium for the module."""
    chromium = Chromium(find_chromium(), tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.close()


@contextmanager
def chat_server(folder: Path, redis_url: str | None = None) -> Iterator[str]:
    """examples/chat under ``flasgo run`` (uvicorn); yields its base URL."""
    port = free_port()
    log = folder / f"server-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    if redis_url is not None:
        env["FLASGO_REDIS_URL"] = redis_url
        # Processes sharing Redis must share the signing key (else the app refuses to start).
        env["FLASGO_SECRET_KEY"] = TEST_SECRET_KEY
    args = [sys.executable, "-m", "flasgo", "run", str(CHAT), "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(args, cwd=folder, env=env, stdout=output, stderr=output)
    try:
        wait_until_listening(process, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def lines(page: Page) -> list[str]:
    found: list[str] = page.evaluate(
        "Array.from(document.querySelectorAll('#log li')).map((li) => li.textContent)"
    )
    return found


def say(page: Page, text: str) -> None:
    page.evaluate(f"window.chat.send({json.dumps(text)})")


def shows(page: Page, text: str) -> bool:
    expression = (
        "Array.from(document.querySelectorAll('#log li'))"
        f".some((li) => li.textContent === {json.dumps(text)})"
    )
    return page.wait_for(expression, SECONDS)


def converse(browser: Chromium, first: str, second: str) -> None:
    """Pages a1 (on `first`), a2 and b (on `second`): rooms reach their members only."""
    pages = [
        browser.open(f"{first}/rooms/a", ready=JOINED),
        browser.open(f"{second}/rooms/a", ready=JOINED),
        browser.open(f"{second}/rooms/b", ready=JOINED),
    ]
    try:
        a1, a2, b = pages
        assert [page.evaluate(JOINED) for page in pages] == [True] * 3
        say(a1, "hello from a1")
        assert shows(a2, "hello from a1")
        assert shows(a1, "hello from a1")
        say(a2, "<b>a2 answers</b>")
        assert shows(a1, "<b>a2 answers</b>")  # shown as text, not markup
        assert a1.evaluate("document.querySelector('#log b')") is None
        say(b, "b only")
        assert shows(b, "b only")
        assert lines(b) == ["b only"]
        assert lines(a1) == lines(a2) == ["hello from a1", "<b>a2 answers</b>"]
    finally:
        for page in pages:
            page.close()


def test_rooms_in_one_worker(browser: Chromium, tmp_path: Path) -> None:
    with chat_server(tmp_path) as server:
        converse(browser, server, server)


def test_rooms_across_two_workers_through_redis(browser: Chromium, tmp_path: Path) -> None:
    redis = start_redis_server()
    try:
        with ExitStack() as stack:
            first = stack.enter_context(chat_server(tmp_path, redis.url))
            second = stack.enter_context(chat_server(tmp_path, redis.url))
            converse(browser, first, second)
    finally:
        redis.stop()
