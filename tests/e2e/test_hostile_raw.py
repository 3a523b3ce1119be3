"""End to end: hostile requests as raw bytes to an app under uvicorn (``flasgo run``).

The in-process catalogue (``tests/security/test_catalogue.py``) proves what the app answers; this
module proves the same over a real socket, where the server parses the bytes first (uvicorn with
httptools, as ``flasgo run`` picks it). Each case asserts the status line and that the server
still serves a normal request afterwards. One server serves the whole module.
"""

from __future__ import annotations

import contextlib
import socket
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.e2e.test_uvicorn import free_port, running

pytestmark = pytest.mark.e2e

KEY = "Zq3_vT9xLw2Ry8Pn4Hc6Bd1Mf5Gj7Ks0aXeWuYoIiUtRrEeQqPpLlKkJjHhGgFf"
READ_TIMEOUT = 0.5
SOCKET_TIMEOUT = 5.0

APP = f"""
from flasgo import Flasgo, request

# NOTE: CSRF is off so the parsers and limits answer the POSTs; CSRF has its own tests.
app = Flasgo({{
    "SECRET_KEY": {KEY!r},
    "CSRF_ENABLED": False,
    "MAX_REQUEST_BODY_BYTES": 1024,
    "REQUEST_READ_TIMEOUT_SECONDS": {READ_TIMEOUT},
}})

@app.get("/")
def index():
    return "ok"

@app.post("/echo")
async def echo():
    return {{"size": len(await request.body())}}

@app.get("/users/<name>")
def user(name):
    return name

@app.post("/json")
async def as_json():
    return await request.json()

@app.post("/form")
async def form():
    return dict(await request.form())
"""


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile_app.py").write_text(textwrap.dedent(APP), encoding="utf-8")
    number = free_port()
    args = ["-m", "flasgo", "run", "hostile_app.py", "--port", str(number), "--no-reload"]
    with running(args, number, folder / "server.log", cwd=folder):
        yield number


def exchange(port: int, data: bytes, *, responses: int = 1, pause: float = 0.0) -> bytes:
    """Send `data` and read until `responses` whole responses arrived or the server closed.

    With `pause`, the last byte of `data` is held back that long first (a slow client).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        if pause:
            sock.sendall(data[:-1])
            time.sleep(pause)
            data = data[-1:]
        # NOTE: the server may answer and close before it read everything.
        with contextlib.suppress(OSError):
            sock.sendall(data)
        reply = b""
        try:
            while len(complete(reply)) < responses and (chunk := sock.recv(65536)):
                reply += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return reply


def complete(reply: bytes) -> list[int]:
    """The statuses of the whole responses (head and Content-Length body) in `reply`."""
    found: list[int] = []
    while (end := reply.find(b"\r\n\r\n")) != -1:
        head = reply[:end].split(b"\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(reply) < end + 4 + length:
            break
        found.append(int(head[0].split(b" ")[1]))
        reply = reply[end + 4 + length :]
    return found


def statuses(reply: bytes) -> list[int]:
    return [
        int(line.split(b" ")[1]) for line in reply.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")
    ]


def assert_still_serving(port: int) -> None:
    reply = exchange(port, b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert statuses(reply) == [200], reply[:200]
    assert reply.endswith(b"ok")


POST = b"POST /echo HTTP/1.1\r\nHost: localhost\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n"

# name: (raw request, status, answered by the app (True) or refused by the server (False))
CASES: dict[str, tuple[bytes, int, bool]] = {
    "bad host": (b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400, True),
    "duplicate host": (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
        400,
        True,
    ),
    "missing host": (b"GET / HTTP/1.1\r\n\r\n", 400, True),
    "host with a path": (b"GET / HTTP/1.1\r\nHost: localhost/admin?x=\r\n\r\n", 400, True),
    "host with userinfo": (b"GET / HTTP/1.1\r\nHost: localhost@evil.tld\r\n\r\n", 400, True),
    "oversized head": (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        431,
        True,
    ),
    "too many headers": (
        b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"X-A: 1\r\n" * 150 + b"\r\n",
        431,
        True,
    ),
    "long url": (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, True),
    "huge url": (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, False),
    "declared body over the limit": (POST + b"Content-Length: 2000\r\n\r\n", 413, True),
    "chunked body over the limit": (
        # five 256-byte chunks: 1280 bytes received against a 1024-byte limit
        CHUNKED + b"\r\n" + (b"100\r\n" + b"x" * 256 + b"\r\n") * 5 + b"0\r\n\r\n",
        413,
        True,
    ),
    "negative length": (POST + b"Content-Length: -1\r\n\r\n", 400, False),
    "signed length": (POST + b"Content-Length: +5\r\n\r\nhello", 400, False),
    "underscore length": (POST + b"Content-Length: 1_0\r\n\r\n", 400, False),
    "two lengths": (POST + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello", 400, False),
    "length and chunked": (
        CHUNKED + b"Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
        False,
    ),
    "chunked then identity": (
        CHUNKED + b"Transfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
        False,
    ),
    "hex chunk size": (CHUNKED + b"\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, False),
    "chunk without crlf": (CHUNKED + b"\r\n5\r\nhelloXX0\r\n\r\n", 400, False),
    "obs-fold header": (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n Set-Cookie: s=evil\r\n\r\n",
        400,
        False,
    ),
    "bare cr in a value": (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\rSet-Cookie: s=evil\r\n\r\n",
        400,
        False,
    ),
    "space in a header name": (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX A: a\r\n\r\n",
        400,
        False,
    ),
    "nul in the path": (b"GET /\x00 HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, False),
    "trace": (b"TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n", 405, True),
    "encoded nul in a path parameter": (
        b"GET /users/a%00b HTTP/1.1\r\nHost: localhost\r\n\r\n",
        400,
        True,
    ),
    "encoded newline in a path parameter": (
        b"GET /users/a%0d%0aX:1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        400,
        True,
    ),
    "two authorization headers": (
        (
            b"GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer a\r\n"
            b"Authorization: Bearer b\r\n\r\n"
        ),
        400,
        True,
    ),
    "gzip-coded json body": (
        (
            b"POST /json HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}"
        ),
        415,
        True,
    ),
    "repeated boundary": (
        (
            b"POST /form HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: multipart/form-data; boundary=a; boundary=b\r\n"
            b"Content-Length: 0\r\n\r\n"
        ),
        400,
        True,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request_gets_its_status_and_the_server_goes_on(port: int, name: str) -> None:
    raw, status, by_app = CASES[name]
    reply = exchange(port, raw)
    assert complete(reply)[:1] == [status], reply[:300]
    assert b"Traceback" not in reply
    # The app's answers carry its security headers; the server's own refusals do not.
    assert (b"x-content-type-options: nosniff" in reply) is by_app
    assert_still_serving(port)


def test_understated_length_reads_only_the_declared_bytes(port: int) -> None:
    # SECURITY: bytes past Content-Length are never part of the body; they are read as the
    # next request, which is garbage, so the server refuses it and closes the connection.
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(POST + b"Content-Length: 5\r\n\r\nhello")
        reply = b""
        while not complete(reply):
            reply += sock.recv(65536)
        assert complete(reply) == [200]
        assert reply.endswith(b'{"size":5}')
        sock.sendall(b"x" * 5000 + b"\r\n\r\n")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    assert complete(rest) == [400]
    assert_still_serving(port)


def test_slow_body_is_408(port: int) -> None:
    raw = POST + b"Content-Length: 10\r\n\r\n0123456789"
    # NOTE: the client is silent while it waits, so any reply comes from the read deadline.
    reply = exchange(port, raw, pause=READ_TIMEOUT * 4)
    assert complete(reply) == [408], reply[:300]
    assert b"x-content-type-options: nosniff" in reply
    assert reply.endswith(b"Request body was not received in time.")
    assert_still_serving(port)


def test_pipelined_requests_after_a_refusal_are_not_served(port: int) -> None:
    # A refused Host ends the exchange for that request only; the next one is judged on its own.
    raw = (
        b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    assert complete(exchange(port, raw, responses=2)) == [400, 200]
