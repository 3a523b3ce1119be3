"""End to end: `flasgo run` and `app.run()` under uvicorn on a loopback port, over real TCP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 15.0
SHUTDOWN_SECONDS = 15.0
# Variables the CLI or the settings read; the server must not inherit the test run's values.
INHERITED = ("FLASGO_", "WEB_CONCURRENCY", "PORT")

SLOW_APP = """
import threading
from flasgo import Flasgo

app = Flasgo()
# Opens only when five handlers are inside at once; the bound keeps a broken build from hanging.
together = threading.Barrier(5, timeout=5)

@app.get("/ping")
def ping():
    return {"ok": True}

@app.get("/slow")
def slow():
    try:
        together.wait()
    except threading.BrokenBarrierError:
        return {"together": False}
    return {"together": True, "thread": threading.get_ident()}
"""

SCRIPT_APP = """
import sys
from flasgo import Flasgo

app = Flasgo()

@app.get("/")
def home():
    return "served by app.run()"

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


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


@contextmanager
def running(
    args: Sequence[str],
    port: int,
    log: Path,
    cwd: Path = ROOT,
    stop: signal.Signals = signal.SIGINT,
    expected_returncode: int = 0,
) -> Iterator[None]:
    """Start the server, wait for its port, and always stop it; it must shut down cleanly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(process, port, log)
        yield
    finally:
        process.send_signal(stop)
        try:
            returncode = process.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"server ignored {stop.name}:\n{log.read_text()}")
    assert returncode == expected_returncode, log.read_text()
    assert "Application shutdown complete" in log.read_text()
    assert "Traceback" not in log.read_text()


def fetch(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_flasgo_run_serves_the_example_app(tmp_path: Path) -> None:
    port = free_port()
    args = ["-m", "flasgo", "run", "examples/app.py", "--port", str(port)]

    with running(args, port, tmp_path / "server.log"):
        status, headers, body = fetch(port, "GET", "/")
        assert status == 200
        assert headers["content-type"].startswith("application/json")
        assert json.loads(body) == {"framework": "flasgo", "status": "ok"}
        assert "server" not in headers
        assert "date" in headers

        status, headers, body = fetch(port, "GET", "/inspect")
        assert status == 200
        assert json.loads(body) == {"method": "GET", "path": "/inspect"}

        # CSRF: refused without a token; a non-browser client (no Origin) that echoes the
        # cookie it was given in the header gets through.
        assert "set-cookie" not in headers  # API responses carry no CSRF cookie
        status, headers, _ = fetch(port, "POST", "/notes/?note_id=7")
        assert status == 403  # ...and the refusal hands the client a fresh token
        token = headers["set-cookie"].partition(";")[0].partition("=")[2]
        csrf = {"cookie": f"flasgo-csrf={token}", "x-csrf-token": token}
        status, _, body = fetch(port, "POST", "/notes/?note_id=7", csrf)
        assert status == 200
        assert json.loads(body) == {"updated": 7}

        status, _, _ = fetch(port, "GET", "/does-not-exist")
        assert status == 404


def test_sync_handlers_run_in_threads_concurrently(tmp_path: Path) -> None:
    (tmp_path / "slow_app.py").write_text(textwrap.dedent(SLOW_APP), encoding="utf-8")
    port = free_port()
    args = ["-m", "flasgo", "run", str(tmp_path / "slow_app.py"), "--port", str(port)]

    with running(args, port, tmp_path / "server.log"):
        assert fetch(port, "GET", "/ping")[0] == 200  # warm up: first request compiles the app
        with ThreadPoolExecutor(5) as pool:
            replies = list(pool.map(lambda _: fetch(port, "GET", "/slow"), range(5)))

    assert [status for status, _, _ in replies] == [200] * 5
    answers = [json.loads(body) for _, _, body in replies]
    # The barrier opened: all five sync handlers were running at once, each in its own thread.
    assert [answer["together"] for answer in answers] == [True] * 5
    assert len({answer["thread"] for answer in answers}) == 5


def test_app_run_in_a_script(tmp_path: Path) -> None:
    (tmp_path / "script_app.py").write_text(textwrap.dedent(SCRIPT_APP), encoding="utf-8")
    port = free_port()

    with running(["script_app.py", str(port)], port, tmp_path / "server.log", cwd=tmp_path):
        status, _, body = fetch(port, "GET", "/")

    assert status == 200
    assert body == b"served by app.run()"


def test_sigterm_shuts_down_gracefully(tmp_path: Path) -> None:
    port = free_port()
    args = ["-m", "flasgo", "run", "examples/app.py", "--port", str(port)]
    # NOTE: uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status tells a
    # supervisor the process ended on the signal it sent.
    with running(
        args,
        port,
        tmp_path / "server.log",
        stop=signal.SIGTERM,
        expected_returncode=-signal.SIGTERM,
    ):
        assert fetch(port, "GET", "/")[0] == 200


def test_reload_serves_the_edited_code(tmp_path: Path) -> None:
    source = tmp_path / "reload_app.py"
    source.write_text(textwrap.dedent(SCRIPT_APP), encoding="utf-8")
    port = free_port()
    args = ["-m", "flasgo", "run", "reload_app.py", "--port", str(port), "--reload"]

    with running(args, port, tmp_path / "server.log", cwd=tmp_path):
        assert fetch(port, "GET", "/")[2] == b"served by app.run()"
        source.write_text(source.read_text().replace("by app.run()", "after an edit"))
        deadline = time.monotonic() + STARTUP_SECONDS
        body = b""
        while time.monotonic() < deadline and body != b"served after an edit":
            time.sleep(0.1)
            try:
                body = fetch(port, "GET", "/")[2]
            except OSError:
                continue  # the worker is restarting

    assert body == b"served after an edit"
