"""Tests for flasgo.security.outbound: a real loopback server started by each test.

Loopback is reachable only through ``allowed_networks={"127.0.0.1/32"}`` in these tests; names
resolve through an injected table (``*.test``), never through DNS.
"""

from __future__ import annotations

import ast
import asyncio
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from flasgo import SSRFConfig, SSRFGuard, SSRFViolation
from flasgo.security import outbound as outbound_module
from flasgo.security import ssrf as ssrf_module
from flasgo.security.outbound import Outbound, OutboundError, OutboundResponse, SafeHTTPClient
from flasgo.security.ssrf import SETTING_KEYS
from flasgo.settings import Settings

NAMES = {
    "svc.test": ["127.0.0.1"],
    "other.test": ["127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "internal.test": ["10.0.0.1"],
    "rebind.test": ["127.0.0.1", "10.0.0.7"],
    "localhost": ["127.0.0.1"],
    "a.localhost": ["127.0.0.1"],
}
PUBLIC = "93.184.215.14"

Responder = Callable[[str, dict[str, str], bytes], bytes]


def resolve(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return NAMES[host]


def make_guard(**options: Any) -> SSRFGuard:
    options.setdefault("allowed_hosts", frozenset({".test", "*"}))
    options.setdefault("allowed_networks", frozenset({"127.0.0.1/32"}))
    return SSRFGuard(SSRFConfig(**options), resolver=resolve)


class Server:
    """A loopback HTTP/1.1 server answering each request with `responder`'s raw bytes."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head[:-4].split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((request_line, headers, body))
            writer.write(self.responder(request_line, headers, body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, path: str = "/", host: str = "svc.test", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@asynccontextmanager
async def serving(responder: Responder, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(responder)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


def reply(status: str = "200 OK", body: bytes = b"ok", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def run(
    responder: Responder,
    call: Callable[[Server, SafeHTTPClient], Awaitable[OutboundResponse]],
    **client_options: Any,
) -> tuple[OutboundResponse, Server]:
    guard = client_options.pop("guard", None) or make_guard()

    async def main() -> tuple[OutboundResponse, Server]:
        async with serving(responder) as server:
            client = SafeHTTPClient(guard, **client_options)
            return await call(server, client), server

    return asyncio.run(main())


def fails(
    responder: Responder,
    call: Callable[[Server, SafeHTTPClient], Awaitable[OutboundResponse]],
    error: type[Exception],
    **client_options: Any,
) -> tuple[Exception, Server]:
    guard = client_options.pop("guard", None) or make_guard()

    async def main() -> tuple[Exception, Server]:
        async with serving(responder) as server:
            client = SafeHTTPClient(guard, **client_options)
            with pytest.raises(error) as info:
                await call(server, client)
            return info.value, server

    return asyncio.run(main())


# -- requests and responses ----------------------------------------------------------------------


def test_get_connects_to_the_pinned_address_with_the_original_host() -> None:
    response, server = run(
        lambda *_: reply("200 OK", b"hello", "X-Thing: a", "x-thing: b"),
        lambda s, c: c.get(s.url("/path/é?q=1#frag")),
    )
    assert response.status == 200
    assert response.body == b"hello"
    assert response.headers.getlist("x-thing") == ["a", "b"]
    assert response.url.startswith("http://svc.test:")
    request_line, headers, _ = server.requests[0]
    assert request_line == "GET /path/%C3%A9?q=1 HTTP/1.1"
    assert headers["host"] == f"svc.test:{server.port}"
    assert headers["connection"] == "close"
    assert headers["user-agent"] == "flasgo"
    assert headers["accept-encoding"] == "identity"
    assert "content-length" not in headers


def test_caller_user_agent_and_accept_encoding_win() -> None:
    headers = {"User-Agent": "me/1", "Accept-Encoding": "gzip"}
    _, server = run(lambda *_: reply(), lambda s, c: c.get(s.url(), headers=headers))
    sent = server.requests[0][1]
    assert (sent["user-agent"], sent["accept-encoding"]) == ("me/1", "gzip")


def test_a_reset_connection_is_an_outbound_error() -> None:
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

        listener = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            with pytest.raises(OutboundError):
                await SafeHTTPClient(make_guard()).get(f"http://svc.test:{port}/")
        finally:
            listener.close()
            await listener.wait_closed()

    asyncio.run(main())


def test_post_sends_the_body_and_custom_headers() -> None:
    response, server = run(
        lambda line, headers, body: reply("201 Created", body[::-1]),
        lambda s, c: c.post(
            s.url("/items"), headers={"Content-Type": "application/json"}, body=b'{"a":1}'
        ),
    )
    assert (response.status, response.body) == (201, b'}1:"a"{')
    _, headers, sent = server.requests[0]
    assert sent == b'{"a":1}'
    assert headers["content-length"] == "7"
    assert headers["content-type"] == "application/json"
    _, server = run(lambda *_: reply(), lambda s, c: c.request("PUT", s.url("/x")))
    assert server.requests[0][1]["content-length"] == "0"


def test_chunked_bodies_with_extensions_and_trailers() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    response, _ = run(lambda *_: raw, lambda s, c: c.get(s.url()))
    assert response.body == b"hello world"


def test_body_without_framing_is_read_to_the_end() -> None:
    response, _ = run(
        lambda *_: b"HTTP/1.0 200 OK\nServer: old\n\nall of it", lambda s, c: c.get(s.url())
    )
    assert (response.status, response.body) == (200, b"all of it")


def test_interim_responses_are_skipped_and_head_or_204_has_no_body() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + reply()
    response, _ = run(lambda *_: raw, lambda s, c: c.get(s.url()))
    assert (response.status, response.body) == (200, b"ok")
    response, _ = run(lambda *_: reply(), lambda s, c: c.request("HEAD", s.url()))
    assert response.body == b""
    response, _ = run(lambda *_: b"HTTP/1.1 204 No Content\r\n\r\n", lambda s, c: c.get(s.url()))
    assert response.status == 204


# -- redirects -----------------------------------------------------------------------------------


def routes(
    table: dict[str, bytes | Callable[[Server], bytes]], server_ref: list[Server]
) -> Responder:
    def respond(line: str, headers: dict[str, str], body: bytes) -> bytes:
        path = line.split(" ")[1]
        found = table[path]
        return found(server_ref[0]) if callable(found) else found

    return respond


def run_routes(
    table: dict[str, bytes | Callable[[Server], bytes]],
    call: Callable[[Server, SafeHTTPClient], Awaitable[OutboundResponse]],
    error: type[Exception] | None = None,
    **client_options: Any,
) -> tuple[OutboundResponse | Exception, Server]:
    guard = client_options.pop("guard", None) or make_guard()
    ref: list[Server] = []

    async def main() -> tuple[OutboundResponse | Exception, Server]:
        async with serving(routes(table, ref)) as server:
            ref.append(server)
            client = SafeHTTPClient(guard, **client_options)
            if error is None:
                return await call(server, client), server
            with pytest.raises(error) as info:
                await call(server, client)
            return info.value, server

    return asyncio.run(main())


def redirect(status: str, location: str) -> bytes:
    return reply(status, b"", f"Location: {location}")


def test_redirects_are_followed_and_re_resolved() -> None:
    table: dict[str, bytes | Callable[[Server], bytes]] = {
        "/a": redirect("301 Moved Permanently", "/b"),
        "/b": lambda s: redirect("302 Found", s.url("/c", host="other.test")),
        "/c": reply("200 OK", b"done"),
    }
    response, server = run_routes(table, lambda s, c: c.get(s.url("/a")))
    assert isinstance(response, OutboundResponse)
    assert (response.status, response.body) == (200, b"done")
    assert response.url == server.url("/c", host="other.test")
    hosts = [headers["host"].split(":")[0] for _, headers, _ in server.requests]
    assert hosts == ["svc.test", "svc.test", "other.test"]


def test_303_and_post_301_become_get_while_307_and_308_keep_the_body() -> None:
    table: dict[str, bytes | Callable[[Server], bytes]] = {
        "/see-other": redirect("303 See Other", "/done"),
        "/moved": redirect("301 Moved Permanently", "/done"),
        "/temp": redirect("307 Temporary Redirect", "/done"),
        "/perm": redirect("308 Permanent Redirect", "/done"),
        "/done": reply(),
    }
    for path, method, body in [
        ("/see-other", "GET", b""),
        ("/moved", "GET", b""),
        ("/temp", "POST", b"data"),
        ("/perm", "POST", b"data"),
    ]:

        def call(server: Server, client: SafeHTTPClient, path: str = path) -> Any:
            return client.post(server.url(path), body=b"data", headers={"Content-Type": "x/y"})

        _, server = run_routes(table, call)
        line, headers, sent = server.requests[1]
        assert line.startswith(f"{method} /done ")
        assert sent == body
        assert ("content-type" in headers) is (method == "POST")


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin() -> None:
    table: dict[str, bytes | Callable[[Server], bytes]] = {
        "/same": redirect("302 Found", "/there"),
        "/cross": lambda s: redirect("302 Found", s.url("/there", host="other.test")),
        "/there": reply(),
    }
    secrets = {"Authorization": "Bearer t", "Cookie": "a=b", "X-Keep": "1"}
    _, server = run_routes(table, lambda s, c: c.get(s.url("/same"), headers=secrets))
    assert server.requests[1][1]["authorization"] == "Bearer t"
    _, server = run_routes(table, lambda s, c: c.get(s.url("/cross"), headers=secrets))
    kept = server.requests[1][1]
    assert "authorization" not in kept
    assert "cookie" not in kept
    assert kept["x-keep"] == "1"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "address"),
        ("http://10.0.0.1/admin", "address"),
        ("http://[::ffff:a9fe:a9fe]/", "address"),
        ("http://0xa9fea9fe/", "address"),
        ("http://metadata.test/latest/meta-data/", "address"),
        ("http://internal.test/", "address"),
        ("http://rebind.test/", "address"),
        ("http://127.0.0.2:1/", "address"),
        ("http://127.0.0.1\\@svc.test/", "syntax"),
        ("/\\evil.example/", "syntax"),
        ("http://svc.test#@127.0.0.1/", "syntax"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://svc.test:70/_x", "scheme"),
        ("http://missing.test/", "unresolvable"),
        ("http://localhost/", "localhost"),
        ("http://A.LOCALHOST./admin", "localhost"),
    ],
)
def test_a_redirect_into_the_internal_network_is_refused(location: str, reason: str) -> None:
    table: dict[str, bytes | Callable[[Server], bytes]] = {"/go": redirect("302 Found", location)}
    error, server = run_routes(table, lambda s, c: c.get(s.url("/go")), SSRFViolation)
    assert isinstance(error, SSRFViolation)
    assert error.reason == reason
    assert len(server.requests) == 1


def test_redirect_to_a_host_outside_the_allowlist_is_refused() -> None:
    guard = make_guard(allowed_hosts=frozenset({"svc.test"}))
    table: dict[str, bytes | Callable[[Server], bytes]] = {
        "/go": lambda s: redirect("302 Found", s.url("/", host="other.test"))
    }
    error, _ = run_routes(table, lambda s, c: c.get(s.url("/go")), SSRFViolation, guard=guard)
    assert isinstance(error, SSRFViolation)
    assert error.reason == "host_not_allowed"


def test_redirect_limits() -> None:
    table: dict[str, bytes | Callable[[Server], bytes]] = {"/loop": redirect("302 Found", "/loop")}
    error, server = run_routes(
        table, lambda s, c: c.get(s.url("/loop")), OutboundError, max_redirects=3
    )
    assert "redirects" in str(error)
    assert len(server.requests) == 4
    response, server = run_routes(table, lambda s, c: c.get(s.url("/loop")), max_redirects=0)
    assert isinstance(response, OutboundResponse)
    assert response.status == 302
    assert len(server.requests) == 1
    response, _ = run_routes(
        {"/x": reply("302 Found", b"no location")}, lambda s, c: c.get(s.url("/x"))
    )
    assert isinstance(response, OutboundResponse)
    assert response.body == b"no location"


# -- refusals before any connection --------------------------------------------------------------


def test_the_first_url_is_checked_before_connecting() -> None:
    strict = SSRFGuard(resolver=resolve)
    error, server = fails(
        lambda *_: reply(), lambda s, c: c.get(s.url(host="127.0.0.1")), SSRFViolation, guard=strict
    )
    assert server.requests == []
    assert isinstance(error, SSRFViolation)
    assert error.reason == "address"
    _, server = fails(
        lambda *_: reply(), lambda s, c: c.get(s.url(host="svc.test")), SSRFViolation, guard=strict
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("localhost", "localhost"),
        ("a.localhost", "localhost"),
        ("LOCALHOST.", "localhost"),
        ("missing.test", "unresolvable"),
        ("rebind.test", "address"),
        ("metadata.test", "address"),
    ],
)
def test_refused_names_are_never_connected_to(host: str, reason: str) -> None:
    # The resolver answers 127.0.0.1 (exempt here) for the localhost names: refused by name.
    error, server = fails(lambda *_: reply(), lambda s, c: c.get(s.url(host=host)), SSRFViolation)
    assert isinstance(error, SSRFViolation)
    assert error.reason == reason
    assert server.requests == []


def test_dns_rebinding_cannot_make_the_client_connect_to_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[str] = []
    connected: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return [PUBLIC] if len(lookups) == 1 else ["127.0.0.1"]

    real_open_connection = asyncio.open_connection

    async def main() -> tuple[OutboundResponse, SSRFViolation, Server]:
        async with serving(lambda *_: reply("200 OK", b"public")) as server:

            async def open_connection(host: str, port: int, **options: Any) -> Any:
                connected.append(host)
                if host != PUBLIC:
                    raise AssertionError(f"the client connected to {host}")
                # The loopback test server stands in for the public host.
                return await real_open_connection("127.0.0.1", server.port, **options)

            monkeypatch.setattr(asyncio, "open_connection", open_connection)
            client = SafeHTTPClient(SSRFGuard(resolver=rebinding))
            response = await client.get(f"http://rebind.example:{server.port}/")
            with pytest.raises(SSRFViolation) as info:
                await client.get(f"http://rebind.example:{server.port}/")
            return response, info.value, server

    response, error, server = asyncio.run(main())
    assert (response.status, response.body) == (200, b"public")
    assert server.requests[0][1]["host"] == f"rebind.example:{server.port}"
    # One lookup per request: the first connection went to the address that was checked, and
    # the rebound answer was judged (and refused) before any connection.
    assert lookups == ["rebind.example", "rebind.example"]
    assert connected == [PUBLIC]
    assert error.reason == "address"


def test_an_unpinned_result_is_never_fetched() -> None:
    guard = make_guard(allow_unresolvable_hosts=True)
    error, _ = fails(
        lambda *_: reply(),
        lambda s, c: c.get(s.url(host="missing.test")),
        SSRFViolation,
        guard=guard,
    )
    assert isinstance(error, SSRFViolation)
    assert error.reason == "unresolvable"


def test_a_disabled_guard_lets_the_client_connect_by_name() -> None:
    guard = SSRFGuard(SSRFConfig(enabled=False))
    response, _ = run(lambda *_: reply(), lambda s, c: c.get(s.url(host="127.0.0.1")), guard=guard)
    assert response.status == 200
    fails(
        lambda *_: reply(),
        lambda s, c: c.get(s.url("/a b", host="127.0.0.1")),
        OutboundError,
        guard=guard,
    )
    fails(
        lambda *_: reply(),
        lambda s, c: c.get(f"ftp://127.0.0.1:{s.port}/"),
        OutboundError,
        guard=guard,
    )


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GE T", {}),
        ("CONNECT", {}),
        ("", {}),
        ("GET", {"Host": "evil.test"}),
        ("GET", {"Content-Length": "5"}),
        ("GET", {"Transfer-Encoding": "chunked"}),
        ("GET", {"X-A": "b\r\nInjected: 1"}),
        ("GET", {"Bad Name": "x"}),
        ("GET", {"X-A": "é"}),
    ],
)
def test_bad_methods_and_headers_are_value_errors(method: str, headers: dict[str, str]) -> None:
    fails(lambda *_: reply(), lambda s, c: c.request(method, s.url(), headers=headers), ValueError)


def test_client_options_are_validated() -> None:
    with pytest.raises(ValueError):
        SafeHTTPClient(make_guard(), timeout=0)
    with pytest.raises(ValueError):
        SafeHTTPClient(make_guard(), max_redirects=-1)
    with pytest.raises(ValueError):
        SafeHTTPClient(make_guard(), max_response_bytes=-1)


# -- malformed and oversized responses -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 20_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-A: a\r\n" * 101 + b"\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 15_000) for i in range(5)),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloEXTRA\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n" * 9,
    ],
    ids=lambda raw: repr(raw[:40]),
)
def test_malformed_responses_are_outbound_errors(raw: bytes) -> None:
    fails(lambda *_: raw, lambda s, c: c.get(s.url()), OutboundError)


@pytest.mark.parametrize(
    "raw",
    [
        reply("200 OK", b"x" * 101),
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"x" * 64 + b"\r\n40\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 200_000,
    ],
    ids=["content-length", "huge-content-length", "chunked", "until-close"],
)
def test_response_size_is_capped(raw: bytes) -> None:
    error, _ = fails(
        lambda *_: raw, lambda s, c: c.get(s.url()), OutboundError, max_response_bytes=100
    )
    assert "exceeds 100 bytes" in str(error)


def test_a_silent_server_times_out() -> None:
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await asyncio.sleep(5)
            finally:
                writer.close()

        listener = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        client = SafeHTTPClient(make_guard(), timeout=0.2)
        try:
            with pytest.raises(OutboundError, match="did not finish"):
                await client.get(f"http://svc.test:{port}/")
        finally:
            listener.close()

    asyncio.run(main())


def test_a_refused_connection_is_an_outbound_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SafeHTTPClient(make_guard())
    with pytest.raises(OutboundError, match=r"svc\.test"):
        asyncio.run(client.get(f"http://svc.test:{port}/"))


# -- TLS: certificate checked against the original name, connection to the pinned address ------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=svc.test", "-addext", "subjectAltName=DNS:svc.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_verifies_the_original_host_name(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))

    async def main() -> tuple[OutboundResponse, Exception]:
        async with serving(lambda *_: reply("200 OK", b"secure"), tls=server_tls) as server:
            client = SafeHTTPClient(make_guard(), ssl_context=client_tls)
            response = await client.get(server.url(scheme="https"))
            with pytest.raises(OutboundError, match="TLS") as info:
                await client.get(server.url(host="other.test", scheme="https"))
            untrusted = SafeHTTPClient(make_guard())
            with pytest.raises(OutboundError):
                await untrusted.get(server.url(scheme="https"))
            return response, info.value

    response, _ = asyncio.run(main())
    assert (response.status, response.body) == (200, b"secure")


# -- the app facade: Outbound(settings) ----------------------------------------------------------

SETTING_CHANGES: dict[str, object] = {
    "SSRF_ENABLED": False,
    "SSRF_ALLOWED_SCHEMES": {"https"},
    "SSRF_ALLOWED_HOSTS": {"api.example"},
    "SSRF_ALLOW_PRIVATE_NETWORKS": True,
    "SSRF_ALLOW_USERINFO": True,
    "SSRF_ALLOW_UNRESOLVABLE_HOSTS": True,
    "SSRF_RESOLUTION_TIMEOUT_SECONDS": 1.5,
}


def test_setting_keys_are_every_ssrf_setting() -> None:
    ssrf_keys = {key for key in Settings().as_dict() if key.startswith("SSRF_")}
    assert set(SETTING_KEYS) == ssrf_keys == set(SETTING_CHANGES)


def test_outbound_caches_its_guard_while_the_settings_stay() -> None:
    settings = Settings()
    outbound = Outbound(settings)
    guard = outbound.guard
    assert outbound.guard is guard
    assert guard.config == SSRFConfig()
    settings.DEBUG = True  # not an SSRF setting
    assert outbound.guard is guard


@pytest.mark.parametrize(("key", "value"), SETTING_CHANGES.items())
def test_outbound_rebuilds_its_guard_when_any_ssrf_setting_changes(key: str, value: object) -> None:
    settings = Settings()
    outbound = Outbound(settings)
    before = outbound.guard
    setattr(settings, key, value)
    after = outbound.guard
    assert after is not before
    assert after.config == SSRFConfig.from_settings(settings)
    assert outbound.guard is after


def test_outbound_delegates_to_its_guard_and_resolver() -> None:
    outbound = Outbound(Settings(SSRF_ALLOWED_HOSTS={".test"}), resolver=resolve)
    assert outbound.validate_url("HTTP://Svc.Test./x") == "http://svc.test/x"
    with pytest.raises(SSRFViolation) as info:
        outbound.validate_url("http://localhost/admin")
    assert info.value.reason == "localhost"
    with pytest.raises(SSRFViolation) as info:
        outbound.resolve_url("http://internal.test/")  # 10.0.0.1
    assert info.value.reason == "address"
    with pytest.raises(SSRFViolation) as info:
        asyncio.run(outbound.aresolve_url("http://missing.test/"))
    assert info.value.reason == "unresolvable"
    client = outbound.client(timeout=3.0, max_redirects=0, max_response_bytes=10)
    assert client.guard is outbound.guard
    assert (client.timeout, client.max_redirects, client.max_response_bytes) == (3.0, 0, 10)


def test_the_outbound_modules_import_no_upper_layer() -> None:
    allowed = {
        "flasgo.datastructures",
        "flasgo.exceptions",
        "flasgo.settings",
        "flasgo.security.ssrf",
        "flasgo.security.outbound",
    }
    for module in (ssrf_module, outbound_module):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert {name for name in imported if name.split(".")[0] == "flasgo"} <= allowed
