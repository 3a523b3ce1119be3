"""End to end: SIGTERM under uvicorn drains in-flight requests and streams, drops none.

The size knob ``DRAIN_TEST_REQUESTS`` (default 20) sets how many plain requests are in flight
when the signal arrives (a fifth as many streams ride along); the issue's proof is
``DRAIN_TEST_REQUESTS=200``. Nothing here waits on a clock: handlers hold until the test
creates a release file, which it does only after it saw the server refuse new connections.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.test_uvicorn import (
    INHERITED,
    ROOT,
    SHUTDOWN_SECONDS,
    fetch,
    free_port,
    wait_until_listening,
)

pytestmark = pytest.mark.e2e

REQUESTS = int(os.environ.get("DRAIN_TEST_REQUESTS", "20"))
STREAMS = max(1, REQUESTS // 5)
WAIT_SECONDS = 30.0

DRAIN_APP = """
import asyncio
from collections.abc import Callable
from pathlib import Path

from flasgo import BackgroundTasks, Flasgo, StreamingResponse

RELEASE = Path({release!r})
app = Flasgo({{
    "SECRET_KEY": "drain-test-secret-key-" + "d" * 32,
    "SHUTDOWN_TIMEOUT_SECONDS": 60,
    "SERVER_LIMIT_CONCURRENCY": 5000,
}})
inside = 0
background_done = Path({background!r})


async def released():
    # NOTE: polls a file, so the test decides when in-flight work may finish.
    while not RELEASE.exists():
        await asyncio.sleep(0.02)


@app.get("/inside")
async def count():
    return {{"inside": inside}}


@app.get("/slow/<int:number>")
async def slow(number: int, tasks: BackgroundTasks):
    global inside
    inside += 1
    await released()
    tasks.add_task(background_done.joinpath(str(number)).touch)
    return {{"number": number}}


@app.get("/stream/<int:number>")
async def stream(number: int):
    async def chunks():
        global inside
        inside += 1
        yield b"first;"
        await released()
        for index in range(3):
            yield f"{{number}}-{{index}};".encode()

    return StreamingResponse(chunks(), content_type="text/plain")
"""


def send_request(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def decode_chunked(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out, body = out + rest[:size], rest[size + 2 :]


def wait_for(condition: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()}")


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_sigterm_finishes_every_request_and_stream_in_flight(tmp_path: Path) -> None:
    release, background = tmp_path / "release", tmp_path / "background"
    background.mkdir()
    app_file = tmp_path / "drain_app.py"
    app_file.write_text(
        textwrap.dedent(DRAIN_APP.format(release=str(release), background=str(background)))
    )
    port, log = free_port(), tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    command = [sys.executable, "-m", "flasgo", "run", str(app_file), "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--no-reload"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(process, port, log)
        slow = [send_request(port, f"/slow/{number}") for number in range(REQUESTS)]
        streams = [send_request(port, f"/stream/{number}") for number in range(STREAMS)]
        total = REQUESTS + STREAMS
        wait_for(
            lambda: fetch(port, "GET", "/inside")[2] == f'{{"inside":{total}}}'.encode(),
            f"{total} handlers in flight",
            log,
        )

        process.send_signal(signal.SIGTERM)
        wait_for(lambda: refuses_connections(port), "the listener to close", log)
        release.touch()
        replies = [read_all(sock) for sock in slow]
        stream_replies = [read_all(sock) for sock in streams]
        returncode = process.wait(timeout=SHUTDOWN_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    completed = [
        reply
        for number, reply in enumerate(replies)
        if reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(f'{{"number":{number}}}'.encode())
    ]
    streamed = [
        reply
        for number, reply in enumerate(stream_replies)
        if reply.startswith(b"HTTP/1.1 200 ")
        and decode_chunked(reply.partition(b"\r\n\r\n")[2])
        == f"first;{number}-0;{number}-1;{number}-2;".encode()
    ]
    dropped = total - len(completed) - len(streamed)
    assert dropped == 0, log.read_text()
    # After-response tasks ran before the process exited.
    assert sorted(int(path.name) for path in background.iterdir()) == list(range(REQUESTS))
    # NOTE: uvicorn re-raises SIGTERM after its graceful shutdown.
    assert returncode == -signal.SIGTERM, log.read_text()
    assert "Application shutdown complete" in log.read_text()
    assert "Traceback" not in log.read_text()
