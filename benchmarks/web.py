"""Server-rendered site numbers: `python -m benchmarks.web [--upload-mb 100] [--seconds 2]`.

In-process, each ASGI app called directly on one event loop:

* static files: µs per GET of a 4 KiB and a 1 MiB file, Flasgo's static folder against
  Starlette's ``StaticFiles`` (when the ``bench`` group is installed);
* templates: µs per render of a 50-row page, ``render_template`` inside a request against
  the same template rendered by a plain Jinja2 environment;
* a large upload (``--upload-mb``, 100 by default): the event loop's worst lag while the
  multipart body is streamed to disk, and the process's RSS growth.

Prints a markdown table. Numbers depend on the machine and its load; compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2

from flasgo import Flasgo, Request, render_template

Scope = dict[str, Any]
ROWS = 50
PAGE = """<!doctype html><title>{{ title }}</title><table>
{% for row in rows %}<tr><td>{{ row.id }}</td><td>{{ row.name }}</td><td>{{ row.email }}</td></tr>
{% endfor %}</table>"""


def _scope(
    path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *(headers or [])],
        "client": ("127.0.0.1", 5000),
        "server": ("localhost", 80),
    }


async def _call(app: Any, scope: Scope, body: Callable[[], Awaitable[dict[str, Any]]]) -> int:
    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, body, send)
    return status


class _Empty:
    """An empty request body, then a client that waits (as a connection does)."""

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self) -> dict[str, Any]:
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # NOTE: cancelled by the app when the response is done
        return {"type": "http.disconnect"}


async def _per_request(app: Any, scope: Scope, seconds: float) -> float:
    status = await _call(app, dict(scope), _Empty())
    if status != 200:
        raise RuntimeError(f"{scope['path']} answered {status}")
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            await _call(app, dict(scope), _Empty())
        count += 50
    return (time.perf_counter() - start) / count * 1e6


def _static_apps(folder: Path) -> dict[str, Any]:
    ours = Flasgo(settings={"SECRET_KEY": "b" * 40})
    ours.configure_static(folder, url_path="/static")
    apps: dict[str, Any] = {"Flasgo": ours}
    try:
        from starlette.applications import Starlette
        from starlette.routing import Mount
        from starlette.staticfiles import StaticFiles
    except ImportError:
        return apps
    apps["Starlette"] = Starlette(routes=[Mount("/static", StaticFiles(directory=folder))])
    return apps


async def static_files(seconds: float) -> list[tuple[str, str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "small.css").write_bytes(os.urandom(4096))
        (folder / "large.bin").write_bytes(os.urandom(1024 * 1024))
        for label, app in _static_apps(folder).items():
            rows.extend(
                [
                    (label, path, await _per_request(app, _scope(path), seconds))
                    for path in ("/static/small.css", "/static/large.bin")
                ]
            )
    return rows


async def templates(seconds: float) -> tuple[float, float]:
    rows = [{"id": i, "name": f"user {i}", "email": f"user{i}@example.com"} for i in range(ROWS)]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "page.html").write_text(PAGE)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder), autoescape=jinja2.select_autoescape()
        )
        plain = env.get_template("page.html")
        app = Flasgo(settings={"SECRET_KEY": "b" * 40})
        app.configure_templates(folder)
        timings: dict[str, float] = {}

        @app.get("/")
        async def measure() -> str:
            def loop(render: Callable[[], str]) -> float:
                count, start = 0, time.perf_counter()
                while time.perf_counter() - start < seconds:
                    for _ in range(20):
                        render()
                    count += 20
                return (time.perf_counter() - start) / count * 1e6

            timings["plain"] = loop(lambda: plain.render(title="Users", rows=rows))
            timings["flasgo"] = loop(lambda: render_template("page.html", title="Users", rows=rows))
            return "ok"

        await _call(app, _scope("/"), _Empty())
    return timings["flasgo"], timings["plain"]


async def upload(megabytes: int) -> tuple[float, float]:
    """(worst event-loop lag in ms, RSS growth in MiB) while a multipart upload streams in."""
    app = Flasgo(
        settings={
            "SECRET_KEY": "b" * 40,
            "CSRF_ENABLED": False,
            "MAX_REQUEST_BODY_BYTES": (megabytes + 1) * 1024 * 1024,
            "REQUEST_READ_TIMEOUT_SECONDS": 600.0,
        }
    )

    @app.post("/upload")
    async def receive(request: Request) -> dict[str, int]:
        files = await request.files()
        return {"size": files["file"].size}

    boundary = b"benchboundary"
    chunk = os.urandom(1024 * 1024)
    head = (
        b"--" + boundary + b'\r\ncontent-disposition: form-data; name="file"; filename="b.bin"'
        b"\r\ncontent-type: application/octet-stream\r\n\r\n"
    )
    tail = b"\r\n--" + boundary + b"--\r\n"
    length = len(head) + megabytes * len(chunk) + len(tail)
    parts = [head, *([chunk] * megabytes), tail]
    sent = 0

    async def body() -> dict[str, Any]:
        nonlocal sent
        data = parts[sent]
        sent += 1
        await asyncio.sleep(0)
        return {"type": "http.request", "body": data, "more_body": sent < len(parts)}

    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append((time.perf_counter() - start - 0.005) * 1000)

    headers = [
        (b"content-type", b"multipart/form-data; boundary=" + boundary),
        (b"content-length", str(length).encode()),
    ]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tick = asyncio.create_task(ticker())
    status = await _call(app, _scope("/upload", "POST", headers), body)
    done.set()
    await tick
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if status != 200:
        raise RuntimeError(f"upload answered {status}")
    return max(lags), (after - before) / 1024


async def main(seconds: float, upload_mb: int) -> None:
    print("## Server-rendered sites (in-process)\n")
    print("| what | Flasgo µs | peer µs | Flasgo / peer |")
    print("|---|---:|---:|---:|")
    rows = await static_files(seconds)
    by_path: dict[str, dict[str, float]] = {}
    for label, path, micros in rows:
        by_path.setdefault(path, {})[label] = micros
    for path, timings in by_path.items():
        peer = timings.get("Starlette")
        ratio = f"{timings['Flasgo'] / peer:.2f}" if peer else "n/a"
        shown = f"{peer:.1f}" if peer else "n/a (no starlette)"
        print(
            f"| GET {path} vs Starlette StaticFiles | {timings['Flasgo']:.1f} | {shown} | {ratio} |"
        )
    ours, plain = await templates(seconds)
    print(
        f"| render_template, {ROWS}-row page vs plain Jinja2 | {ours:.1f} | {plain:.1f} | "
        f"{ours / plain:.2f} |"
    )
    lag, rss = await upload(upload_mb)
    print(
        f"\n{upload_mb} MB upload: worst event-loop lag {lag:.1f} ms, RSS growth {rss:.1f} MiB "
        "(targets: under 50 ms and 64 MiB)."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--upload-mb", type=int, default=100, help="size of the upload")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.upload_mb))
