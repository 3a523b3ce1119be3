"""End to end: headless Chromium renders the docs pages served by uvicorn, with no internet.

The app runs under ``flasgo run`` on a loopback port; Chromium (Debian package ``chromium``)
loads Swagger UI and ReDoc with every host name but 127.0.0.1 unresolvable, runs their scripts,
and dumps the DOM. The operations of the app must be rendered, and the console must show no
Content-Security-Policy violation other than a blocked attempt to reach another origin: that
proves the policy allows everything the UIs need from the app and nothing from outside.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_PACKAGE = "chromium"
APT_SECONDS = 600.0
BROWSER_SECONDS = 45.0
STARTUP_SECONDS = 15.0
# Variables the CLI or the settings read; the server must not inherit the test run's values.
INHERITED = ("FLASGO_", "WEB_CONCURRENCY", "PORT")

pytestmark = [
    pytest.mark.e2e,
    # Installing chromium the first time can take minutes; each step has its own limit.
    pytest.mark.timeout(APT_SECONDS + 60),
]

DOCS_APP = '''
from flasgo import Flasgo
from flasgo.response import HTMLResponse

app = Flasgo({"ENABLE_DOCS": True, "API_TITLE": "Browser Test API"})


@app.get("/items/<int:item_id>")
async def fetch_item(item_id: int) -> dict[str, int]:
    """Fetch one item by its number."""
    return {"id": item_id}


@app.post("/orders")
async def place_order() -> dict[str, str]:
    """Place an order."""
    return {"status": "placed"}


@app.get("/csp-probe", include_in_schema=False)
async def csp_probe() -> HTMLResponse:
    # Under the app's default policy: the inline script and the remote image are refused.
    return HTMLResponse(
        "<p>probe</p><script>console.log('ran')</script>"
        "<img src='https://images.example.com/x.png'>"
    )
'''

CONSOLE = re.compile(r":INFO:CONSOLE[^\]]*\] \"(.*)\", source: (\S*)")
FIRST_URL = re.compile(r"'((?:https?|wss?)://[^/'\s]+)")


@dataclass(frozen=True, slots=True)
class Rendered:
    """What Chromium produced for one page."""

    dom: str
    console: list[str]


def find_chromium() -> str:
    """The chromium binary, installed with apt-get when missing and possible; else skip."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            f"headless browser test needs the Debian package {CHROMIUM_PACKAGE!r}: "
            f"install it with `apt-get install {CHROMIUM_PACKAGE}` (needs root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", CHROMIUM_PACKAGE],
    ):
        try:
            result = subprocess.run(
                command, env=env, capture_output=True, timeout=APT_SECONDS / 2, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"`{' '.join(command)}` took over {APT_SECONDS / 2:.0f} s")
        if result.returncode != 0:
            pytest.skip(
                f"could not install {CHROMIUM_PACKAGE!r} (`{' '.join(command)}` failed): "
                f"{result.stderr.decode(errors='replace')[-500:]}"
            )
    found = shutil.which("chromium")
    if not found:
        pytest.skip(f"apt-get installed {CHROMIUM_PACKAGE!r} but no `chromium` is on PATH")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"server did not listen on {port} within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The docs app under ``flasgo run`` (uvicorn); yields its base URL."""
    folder = tmp_path_factory.mktemp("docs-app")
    (folder / "docs_app.py").write_text(textwrap.dedent(DOCS_APP), encoding="utf-8")
    log = folder / "server.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    args = [sys.executable, "-m", "flasgo", "run", "docs_app.py", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            args, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(process, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def render(chromium: str, url: str, profile: Path) -> Rendered:
    """Load `url` offline in headless Chromium; return the DOM after the scripts ran."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",
        # No internet: every host name but the loopback server's fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, timeout=BROWSER_SECONDS, check=False)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr[-3000:]
    console = [match[1] for match in CONSOLE.finditer(stderr)]
    return Rendered(result.stdout.decode(errors="replace"), console)


def policy_problems(console: list[str], origin: str) -> list[str]:
    """CSP violations other than blocked requests to another origin (those are the point)."""
    problems = []
    for message in console:
        if "Content Security Policy" not in message:
            continue
        url = FIRST_URL.search(message)
        if url is not None and url[1] != origin:
            continue
        problems.append(message)
    return problems


def script_errors(console: list[str]) -> list[str]:
    return [message for message in console if message.startswith("Uncaught")]


def test_swagger_ui_renders_the_operations_offline(
    chromium: str, server: str, tmp_path: Path
) -> None:
    page = render(chromium, f"{server}/docs", tmp_path / "profile")

    assert 'class="swagger-ui"' in page.dom
    assert "Browser Test API" in page.dom
    for operation_id in ("fetch_item_get", "place_order_post"):
        assert f"-{operation_id}" in page.dom  # the operation block's element id
    assert 'data-path="/items/{item_id}"' in page.dom
    assert 'data-path="/orders"' in page.dom
    assert "Fetch one item by its number." in page.dom
    assert policy_problems(page.console, server) == []
    assert script_errors(page.console) == []


def test_redoc_renders_the_operations_offline(chromium: str, server: str, tmp_path: Path) -> None:
    page = render(chromium, f"{server}/docs/redoc", tmp_path / "profile")

    assert "Browser Test API" in page.dom
    for operation_id in ("fetch_item_get", "place_order_post"):
        assert f'id="operation/{operation_id}"' in page.dom
    assert "/items/{item_id}" in page.dom
    assert "Place an order." in page.dom
    assert policy_problems(page.console, server) == []
    assert script_errors(page.console) == []


def test_the_console_capture_sees_violations(chromium: str, server: str, tmp_path: Path) -> None:
    # Without this, a broken capture would make the two tests above pass vacuously.
    page = render(chromium, f"{server}/csp-probe", tmp_path / "profile")

    assert "<p>probe</p>" in page.dom
    assert len(page.console) == 2, page.console
    [problem] = policy_problems(page.console, server)
    assert "inline script" in problem
