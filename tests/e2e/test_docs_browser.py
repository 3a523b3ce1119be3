"""End to end: what a person sees on the docs pages, in headless Chromium, with no internet.

The app runs under ``flasgo run`` (uvicorn) on a loopback port; Chromium (Debian package
``chromium``), driven over the DevTools protocol (`tests.e2e.devtools`), loads Swagger UI and
ReDoc with every host name but 127.0.0.1 unresolvable. A page passes when the app's operations
and its ``info`` are rendered, no warning or error box is visible, and the console shows no
error or warning at all (a Content-Security-Policy violation, a failed load, an uncaught
exception, a ``console.error``). When a check fails, a screenshot, the DOM and the console are
saved under ``artifacts/e2e/`` (git-ignored) and the failure names the files.
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
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.devtools import Chromium, ConsoleEntry, Page

CHROMIUM_PACKAGE = "chromium"
APT_SECONDS = 600.0
STARTUP_SECONDS = 15.0
# Swagger UI shows its warnings once the document is parsed, a moment after the operations.
SETTLE_SECONDS = 1.5
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
# Variables the CLI or the settings read; the server must not inherit the test run's values.
INHERITED = ("FLASGO_", "WEB_CONCURRENCY", "PORT")

pytestmark = [
    pytest.mark.e2e,
    # Installing chromium the first time can take minutes; each step has its own limit.
    pytest.mark.timeout(APT_SECONDS + 60),
]

DOCS_APP = '''
import msgspec

from flasgo import Flasgo
from flasgo.response import HTMLResponse, Response

app = Flasgo({"ENABLE_DOCS": True, "API_TITLE": "Browser Test API"})


class Order(msgspec.Struct):
    item_id: int
    quantity: int = 1


@app.get("/items/<int:item_id>")
async def fetch_item(item_id: int) -> dict[str, int]:
    """Fetch one item by its number."""
    return {"id": item_id}


@app.post("/orders", status_code=201)
async def place_order(order: Order) -> Order:
    """Place an order."""
    return order


# Probes: pages with known problems, proving that the checks below see each kind.

@app.get("/console-probe", include_in_schema=False)
async def console_probe() -> HTMLResponse:
    # Under the app's default policy the inline script and the remote image are refused;
    # the script from the app runs, logs an error and throws.
    return HTMLResponse(
        "<p>probe</p><script>console.log('ran')</script>"
        "<script src='/console-probe.js'></script>"
        "<img src='https://images.example.com/x.png'>"
    )


@app.get("/console-probe.js", include_in_schema=False)
async def console_probe_script() -> Response:
    body = "console.error('probe: console.error'); throw new Error('probe: uncaught');"
    return Response(body, content_type="text/javascript; charset=utf-8")


@app.get("/old-dialect.json", include_in_schema=False)
async def old_dialect() -> dict[str, object]:
    # The document as it was before: Swagger UI answers with a Warning box.
    return {**app.openapi(), "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema"}


@app.get("/swagger-probe", include_in_schema=False)
async def swagger_probe() -> HTMLResponse:
    return HTMLResponse(
        "<link rel='stylesheet' href='/docs/static/swagger-ui.css'><div id='swagger-ui'></div>"
        "<script src='/docs/static/swagger-ui-bundle.js'></script>"
        "<script src='/swagger-probe.js'></script>"
    )


@app.get("/swagger-probe.js", include_in_schema=False)
async def swagger_probe_script() -> Response:
    body = "SwaggerUIBundle({url: '/old-dialect.json', dom_id: '#swagger-ui', validatorUrl: null});"
    return Response(body, content_type="text/javascript; charset=utf-8")
'''

# Visible boxes and headings that report a problem: Swagger UI's error/warning panel and its
# "unable to render this definition" notice, alerts, and headings such as ReDoc's
# "Something went wrong...". Text of each, shortened.
PROBLEM_ELEMENTS = r"""
(() => {
  const visible = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const boxes = document.querySelectorAll(".errors-wrapper, .version-pragma, [role=alert]");
  const headings = Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6")).filter(
    (el) => /^\s*(warning|errors?\b|something went wrong|failed|unable)/i.test(el.textContent)
  );
  const found = [...new Set([...boxes, ...headings])].filter(visible);
  // One entry per box: a heading inside a reported box is part of it.
  return found
    .filter((el) => !found.some((other) => other !== el && other.contains(el)))
    .map((el) => el.innerText.replace(/\s+/g, " ").trim().slice(0, 300));
})()
"""
SWAGGER_READY = "!!document.querySelector('.opblock, .errors-wrapper, .version-pragma')"
REDOC_READY = (
    "!!document.querySelector('[id^=\"operation/\"]')"
    " || /Something went wrong/.test(document.body ? document.body.innerText : '')"
)


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
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One offline headless Chromium for the module."""
    chromium = Chromium(find_chromium(), tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.close()


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


def problem_elements(page: Page) -> list[str]:
    """The text of every visible warning or error box on the page."""
    found = page.evaluate(PROBLEM_ELEMENTS)
    assert isinstance(found, list)
    return [str(text) for text in found]


def console_problems(page: Page) -> list[ConsoleEntry]:
    """Every console error or warning, whatever its source."""
    return [entry for entry in page.console if entry.level in ("error", "warning")]


def save_artifacts(page: Page, folder: Path, name: str) -> list[Path]:
    """Save a screenshot, the DOM and the console of `page`; return the files."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    folder.mkdir(parents=True, exist_ok=True)
    dom = folder / f"{stem}.html"
    dom.write_text(str(page.evaluate("document.documentElement.outerHTML")), encoding="utf-8")
    console = folder / f"{stem}.console.txt"
    console.write_text("".join(f"{entry}\n" for entry in page.console), encoding="utf-8")
    return [page.screenshot(folder / f"{stem}.png"), dom, console]


@contextmanager
def artifacts_on_failure(page: Page, folder: Path, name: str) -> Iterator[None]:
    """On a failed assertion inside the block, save the page's artifacts and name them."""
    try:
        yield
    except AssertionError as exc:
        files = save_artifacts(page, folder, name)
        exc.add_note(f"{page.url}: saved " + ", ".join(str(path) for path in files))
        raise


def open_settled(browser: Chromium, url: str, ready: str) -> Page:
    page = browser.open(url, ready=ready)
    page.settle(SETTLE_SECONDS)
    return page


def test_swagger_ui_shows_the_api_and_no_warning(
    browser: Chromium, server: str, request: pytest.FixtureRequest
) -> None:
    page = open_settled(browser, f"{server}/docs", SWAGGER_READY)

    with artifacts_on_failure(page, ARTIFACTS, request.node.name):
        assert page.evaluate("document.querySelector('.info .title').innerText").startswith(
            "Browser Test API"
        )
        assert page.evaluate("document.querySelector('.info .version').innerText.trim()") == "0.1.0"
        assert page.evaluate("document.querySelectorAll('.opblock').length") == 2
        for operation_id in ("fetch_item_get", "place_order_post"):
            assert page.evaluate(f"!!document.querySelector('[id$=\"-{operation_id}\"]')")
        assert "Fetch one item by its number." in page.evaluate("document.body.innerText")
        assert problem_elements(page) == []
        assert console_problems(page) == []


def test_redoc_shows_the_api_and_no_warning(
    browser: Chromium, server: str, request: pytest.FixtureRequest
) -> None:
    page = open_settled(browser, f"{server}/docs/redoc", REDOC_READY)

    with artifacts_on_failure(page, ARTIFACTS, request.node.name):
        heading = page.evaluate("document.querySelector('h1').innerText")
        assert heading == "Browser Test API (0.1.0)"
        for operation_id in ("fetch_item_get", "place_order_post"):
            assert page.evaluate(f"!!document.getElementById('operation/{operation_id}')")
        text = page.evaluate("document.body.innerText")
        assert "/items/{item_id}" in text
        assert "Place an order." in text
        # Redocly's logo is the one thing ReDoc would fetch from another origin.
        assert page.evaluate("document.images.length") == 0
        assert problem_elements(page) == []
        assert console_problems(page) == []


def test_the_checks_see_swagger_ui_warning_and_save_a_screenshot(
    browser: Chromium, server: str, tmp_path: Path
) -> None:
    # The document as it was before the fix, in the same Swagger UI: the check must fail.
    page = open_settled(browser, f"{server}/swagger-probe", SWAGGER_READY)

    [warning] = problem_elements(page)
    assert warning.startswith("Warning OpenAPI.jsonSchemaDialect field contains a value different")
    with (
        pytest.raises(AssertionError) as failure,
        artifacts_on_failure(page, tmp_path, "docs[old dialect]"),
    ):
        assert problem_elements(page) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "docs_old_dialect_.console.txt",
        "docs_old_dialect_.html",
        "docs_old_dialect_.png",
    ]
    png = tmp_path / "docs_old_dialect_.png"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "OpenAPI.jsonSchemaDialect" in (tmp_path / "docs_old_dialect_.html").read_text()
    assert str(png) in "".join(failure.value.__notes__)


def test_the_console_capture_sees_every_kind_of_error(browser: Chromium, server: str) -> None:
    # Without this, a broken capture would make the page tests above pass vacuously.
    page = open_settled(browser, f"{server}/console-probe", "!!document.querySelector('p')")

    problems = [(entry.level, entry.source) for entry in console_problems(page)]
    texts = [entry.text for entry in console_problems(page)]
    assert problems == [
        ("error", "security"),
        ("error", "console-api"),
        ("error", "exception"),
        ("error", "security"),
    ], texts
    assert "inline script" in texts[0]
    assert texts[1] == "probe: console.error"
    assert "probe: uncaught" in texts[2]
    assert "https://images.example.com/x.png" in texts[3]
    assert all(entry.text != "ran" for entry in page.console)
