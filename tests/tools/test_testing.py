"""TestClient against small raw ASGI apps: scope, bodies, cookies, redirects, streams, websockets,
lifespan and the validation of every message an app sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

import pytest

from flasgo.exceptions import FlasgoError
from flasgo.testing import (
    TestClient,
    TooManyRedirectsError,
    WebSocketClosed,
    WebSocketDenied,
)
from flasgo.testing.asgi import ASGIApp, Receive, Scope, Send
from flasgo.testing.portal import Portal

# -- small apps -------------------------------------------------------------------------------


async def send_response(
    send: Send,
    status: int = 200,
    body: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the request scope and body as JSON."""
    assert scope["type"] == "http"
    message = await receive()
    echoed = {
        key: scope[key]
        for key in ("type", "asgi", "http_version", "method", "scheme", "path", "root_path")
    }
    echoed |= {
        "raw_path": scope["raw_path"].decode(),
        "query_string": scope["query_string"].decode(),
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "client": list(scope["client"]),
        "server": list(scope["server"]),
        "extensions": scope["extensions"],
        "state": scope.get("state"),
        "body": message["body"].decode("latin-1"),
        "more_body": message["more_body"],
    }
    body = json.dumps(echoed).encode()
    await send_response(send, body=body, headers=[(b"content-type", b"application/json")])


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["headers"] if key == name]


# -- scope ------------------------------------------------------------------------------------


def test_http_scope_has_the_asgi_keys() -> None:
    echoed = TestClient(echo_app).get("/caf%C3%A9/a b?x=1", params={"y": ["2", "3"]}).json()
    assert echoed["type"] == "http"
    assert echoed["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert echoed["http_version"] == "1.1"
    assert echoed["method"] == "GET"
    assert echoed["scheme"] == "http"
    assert echoed["path"] == "/café/a b"
    assert echoed["raw_path"] == "/caf%C3%A9/a%20b"
    assert echoed["query_string"] == "x=1&y=2&y=3"
    assert echoed["root_path"] == ""
    assert echoed["client"] == ["127.0.0.1", 50000]
    assert echoed["server"] == ["localhost", 80]
    assert echoed["extensions"] == {}
    assert echoed["state"] is None
    assert header_values(echoed, "host") == ["localhost"]
    assert header_values(echoed, "user-agent") == ["flasgo-testclient"]
    assert header_values(echoed, "content-length") == []
    assert echoed["body"] == ""
    assert echoed["more_body"] is False


def test_method_is_upper_cased_and_non_ascii_path_is_encoded() -> None:
    client = TestClient(echo_app, client=("10.0.0.1", 1234), root_path="/api")
    echoed = client.request("patch", "/ünï").json()
    assert echoed["method"] == "PATCH"
    assert echoed["path"] == "/ünï"
    assert echoed["raw_path"] == "/%C3%BCn%C3%AF"
    assert echoed["root_path"] == "/api"
    assert echoed["client"] == ["10.0.0.1", 1234]


@pytest.mark.parametrize(
    ("base_url", "scheme", "host", "server"),
    [
        ("http://example.com:8080", None, "example.com:8080", ["example.com", 8080]),
        ("https://example.com", None, "example.com", ["example.com", 443]),
        ("http://example.com", "https", "example.com", ["example.com", 443]),
        ("https://example.com:443", None, "example.com", ["example.com", 443]),
    ],
)
def test_host_header_and_server_follow_the_base_url(
    base_url: str, scheme: str | None, host: str, server: list[object]
) -> None:
    echoed = TestClient(echo_app, base_url=base_url).get("/", scheme=scheme).json()
    assert header_values(echoed, "host") == [host]
    assert echoed["server"] == server
    assert echoed["scheme"] == (scheme or base_url.split(":", maxsplit=1)[0])


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="base_url"):
        TestClient(echo_app, base_url="ftp://x")


def test_absolute_url_is_accepted() -> None:
    response = TestClient(echo_app).get("https://localhost:8443/p?q=1")
    assert response.json()["server"] == ["localhost", 8443]
    assert response.url == "https://localhost:8443/p?q=1"


def test_headers_merge_defaults_and_accept_repeated_pairs() -> None:
    client = TestClient(echo_app, headers={"X-Team": "a", "X-Keep": "k"})
    echoed = client.get(
        "/", headers=[("x-team", "b"), ("X-Team", "c"), ("Host", "evil.test")]
    ).json()
    assert header_values(echoed, "x-team") == ["b", "c"]
    assert header_values(echoed, "x-keep") == ["k"]
    assert header_values(echoed, "host") == ["evil.test"]


# -- bodies -----------------------------------------------------------------------------------


def test_json_body_sets_content_type_and_length() -> None:
    echoed = TestClient(echo_app).post("/", json={"a": [1, 2]}).json()
    assert json.loads(echoed["body"]) == {"a": [1, 2]}
    assert header_values(echoed, "content-type") == ["application/json"]
    assert header_values(echoed, "content-length") == [str(len(echoed["body"]))]


def test_json_none_sends_null() -> None:
    assert TestClient(echo_app).post("/", json=None).json()["body"] == "null"


def test_raw_and_text_bodies() -> None:
    client = TestClient(echo_app)
    echoed = client.put("/", body=b"\x00\xff")
    assert echoed.json()["body"] == "\x00\xff"
    text = client.post("/", body="héllo", headers={"content-type": "text/plain"}).json()
    assert text["body"] == "héllo".encode().decode("latin-1")
    assert header_values(text, "content-type") == ["text/plain"]
    assert header_values(text, "content-length") == ["6"]


def test_form_data_is_urlencoded() -> None:
    echoed = TestClient(echo_app).post("/", data={"a": "1 2", "b": ["x", "y"]}).json()
    assert echoed["body"] == "a=1+2&b=x&b=y"
    assert header_values(echoed, "content-type") == ["application/x-www-form-urlencoded"]


def parse_multipart(echoed: dict[str, Any]) -> list[EmailMessage]:
    content_type = header_values(echoed, "content-type")[0]
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + echoed["body"].encode("latin-1")
    message = message_from_bytes(raw)
    assert message.is_multipart()
    return [part for part in message.walk() if part is not message]


def test_files_and_data_share_one_multipart_body() -> None:
    files: dict[str, tuple[str, bytes] | tuple[str, bytes, str]] = {
        "doc": ("a.txt", b"hello"),
        "blob": ('we"ird.bin', b"\x00\x01", "application/x-y"),
    }
    echoed = TestClient(echo_app).post("/", data={"title": "T"}, files=files).json()
    assert header_values(echoed, "content-type")[0].startswith("multipart/form-data; boundary=")
    title, doc, blob = parse_multipart(echoed)
    assert title.get_param("name", header="content-disposition") == "title"
    assert title.get_payload(decode=True) == b"T"
    assert doc.get_filename() == "a.txt"
    assert doc.get_content_type() == "text/plain"
    assert doc.get_payload(decode=True) == b"hello"
    assert blob.get_filename() == "we%22ird.bin"
    assert blob.get_content_type() == "application/x-y"
    assert blob.get_payload(decode=True) == b"\x00\x01"


def test_conflicting_body_arguments_are_rejected() -> None:
    with pytest.raises(TypeError, match="only one"):
        TestClient(echo_app).post("/", json={}, data={"a": "b"})


# -- responses --------------------------------------------------------------------------------


async def headers_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send_response(
        send,
        body="é".encode("latin-1"),
        headers=[
            (b"Content-Type", b"text/plain; charset=latin-1"),
            (b"X-Many", b"1"),
            (b"x-many", b"2"),
            (b"set-cookie", b"a=1; Expires=Wed, 21 Oct 2099 07:28:00 GMT"),
            (b"set-cookie", b"b=2"),
            (b"location", b"/elsewhere"),
        ],
    )


def test_response_headers_are_case_insensitive_and_join_repeats() -> None:
    response = TestClient(headers_app).get("/")
    assert response.status_code == 200
    assert response.headers["x-MANY"] == "1, 2"
    assert response.headers.get_list("X-Many") == ["1", "2"]
    assert response.headers["set-cookie"] == "a=1; Expires=Wed, 21 Oct 2099 07:28:00 GMT\nb=2"
    assert response.headers.get_list("absent") == []
    assert "CONTENT-TYPE" in response.headers
    assert object() not in response.headers
    assert len(response.headers) == 4
    assert next(iter(response.headers)) == "content-type"
    assert response.raw_headers[0] == ("Content-Type", "text/plain; charset=latin-1")
    assert response.text == "é"
    assert response.body == response.content == b"\xe9"
    assert response.location == "/elsewhere"
    assert response.request_method == "GET"
    assert response.url == "http://localhost/"
    assert response.cookies == {"a": "1", "b": "2"}
    assert "ResponseHeaders" in repr(response.headers)
    assert repr(response) == "<TestResponse 200 GET http://localhost/>"


def test_text_defaults_to_utf8_for_unknown_charsets() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(
            send, body="ü".encode(), headers=[(b"content-type", b"text/x; charset=nope")]
        )

    response = TestClient(app).get("/")
    assert response.text == "ü"
    assert response.location is None


# -- cookies ----------------------------------------------------------------------------------


async def cookie_app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = dict(scope["headers"])
    path = scope["path"]
    if path == "/login":
        cookies = [b"session=abc; Path=/; Secure; HttpOnly", b"theme=dark"]
    elif path == "/logout":
        cookies = [b"session=; Max-Age=0", b"theme=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
    else:
        cookies = [b"broken", b"=novalue", b"odd=1; Max-Age=soon; Expires=garbage"]
    set_cookies = [(b"set-cookie", value) for value in cookies]
    await send_response(send, body=headers.get(b"cookie", b""), headers=set_cookies)


def test_cookie_jar_stores_sends_and_deletes_cookies() -> None:
    client = TestClient(cookie_app)
    assert client.get("/login").content == b""
    assert client.cookies == {"session": "abc", "theme": "dark"}
    assert client.get("/").content == b"session=abc; theme=dark"
    assert client.cookies == {"session": "abc", "theme": "dark", "odd": "1"}
    assert client.get("/", cookies={"theme": "light", "x": "y"}).content == (
        b"session=abc; theme=light; odd=1; x=y"
    )
    response = client.get("/logout")
    assert response.cookies == {"session": "", "theme": ""}
    assert client.cookies == {"odd": "1"}
    client.clear_cookies()
    assert client.get("/login").content == b""


def test_explicit_cookie_header_wins_over_the_jar() -> None:
    client = TestClient(cookie_app)
    client.cookies["jar"] = "1"
    assert client.get("/", headers={"Cookie": "mine=2"}).content == b"mine=2"


# -- redirects --------------------------------------------------------------------------------


async def redirect_app(scope: Scope, receive: Receive, send: Send) -> None:
    body = (await receive())["body"]
    path = scope["path"]
    targets = {
        "/302": (302, b"/target"),
        "/303": (303, b"http://localhost/target"),
        "/307": (307, b"/target"),
        "/308": (308, b"target"),
        "/away": (302, b"https://other.example/target"),
        "/other-scheme": (301, b"https://localhost/target"),
        "/loop": (302, b"/loop"),
    }
    if path in targets:
        status, location = targets[path]
        await send_response(
            send, status, headers=[(b"location", location), (b"set-cookie", b"r=1")]
        )
        return
    headers = dict(scope["headers"])
    answer = {
        "method": scope["method"],
        "body": body.decode(),
        "content_type": headers.get(b"content-type", b"").decode(),
        "cookie": headers.get(b"cookie", b"").decode(),
    }
    await send_response(send, body=json.dumps(answer).encode())


def test_redirects_are_not_followed_by_default() -> None:
    response = TestClient(redirect_app).post("/302", json={"a": 1})
    assert response.status_code == 302
    assert response.is_redirect
    assert response.location == "/target"
    assert response.history == []


@pytest.mark.parametrize("path", ["/302", "/303"])
def test_302_and_303_become_get_without_body(path: str) -> None:
    response = TestClient(redirect_app).post(path, json={"a": 1}, follow_redirects=True)
    assert response.status_code == 200
    assert response.json() == {"method": "GET", "body": "", "content_type": "", "cookie": "r=1"}
    assert [r.status_code for r in response.history] == [int(path[1:])]
    assert response.history[0].request_method == "POST"
    assert response.url == "http://localhost/target"


@pytest.mark.parametrize("path", ["/307", "/308"])
def test_307_and_308_keep_method_and_body(path: str) -> None:
    client = TestClient(redirect_app, follow_redirects=True)
    response = client.put(path, json={"a": 1})
    assert response.json()["method"] == "PUT"
    assert response.json()["body"] == '{"a":1}'
    assert response.json()["content_type"] == "application/json"


def test_head_stays_head_on_a_302() -> None:
    response = TestClient(redirect_app).head("/302", follow_redirects=True)
    assert response.request_method == "HEAD"
    assert response.status_code == 200


@pytest.mark.parametrize(("path", "status"), [("/away", 302), ("/other-scheme", 301)])
def test_cross_origin_redirects_are_not_followed(path: str, status: int) -> None:
    response = TestClient(redirect_app).get(path, follow_redirects=True)
    assert response.status_code == status
    assert response.history == []


def test_redirect_loop_raises_after_ten() -> None:
    client = TestClient(redirect_app, follow_redirects=True)
    with pytest.raises(TooManyRedirectsError, match="more than 10 redirects") as info:
        client.get("/loop")
    assert isinstance(info.value, FlasgoError)
    assert client.get("/loop", follow_redirects=False).status_code == 302


# -- streaming --------------------------------------------------------------------------------


async def stream_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-s", b"1")]})
    count = int(scope["query_string"] or b"0")
    index = 0
    while count == 0 or index < count:  # count 0: stream forever
        await send({"type": "http.response.body", "body": b"chunk%d" % index, "more_body": True})
        index += 1
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    assert await receive() == {"type": "http.disconnect"}


def test_stream_yields_chunks_as_sent() -> None:
    client = TestClient(stream_app)
    with client.stream("GET", "/?3") as response:
        assert response.status_code == 200
        assert response.headers["x-s"] == "1"
        assert list(response.iter_bytes()) == [b"chunk0", b"chunk1", b"chunk2", b""]
        assert response.read() == b""
    assert client.get("/?2").content == b"chunk0chunk1"


def test_leaving_an_endless_stream_early_cancels_the_app() -> None:
    with TestClient(stream_app) as client, client.stream("POST", "/", body=b"x") as response:
        chunks = response.iter_bytes()
        assert next(chunks) == b"chunk0"
        assert next(chunks) == b"chunk1"


def test_astream_reads_chunks_on_the_running_loop() -> None:
    async def main() -> list[bytes]:
        client = TestClient(stream_app)
        async with client.astream("GET", "/?2") as response:
            assert response.status_code == 200
            first = [chunk async for chunk in response.iter_bytes()]
        async with client.astream("GET", "/?1") as response:
            return [*first, await response.read()]

    assert asyncio.run(main()) == [b"chunk0", b"chunk1", b"", b"chunk0"]


def test_disconnect_is_only_reported_after_the_response() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def watch() -> None:
            events.append((await receive())["type"])

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0)
        events.append("responding")
        await send_response(send, body=b"ok")
        await watcher

    assert TestClient(app).get("/").content == b"ok"
    assert events == ["responding", "http.disconnect"]


# -- message validation -----------------------------------------------------------------------


def make_app(*messages: Any) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    return app


START = {"type": "http.response.start", "status": 200, "headers": []}
BODY = {"type": "http.response.body", "body": b"ok"}


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{**START, "status": "200"}], "'status' must be an int"),
        ([{**START, "status": True}], "'status' must be an int"),
        ([{**START, "status": 600}], "within 100-599"),
        ([{**START, "headers": [("x", "y")]}], "must be a pair of bytes"),
        ([{**START, "headers": [(b"x",)]}], "is not a (name, value) pair"),
        ([{**START, "headers": {b"x": b"y"}}], "must be an iterable of pairs"),
        ([{**START, "headers": [(b"x y", b"1")]}], "forbidden character"),
        ([{**START, "headers": [(b"x", b"1\r\nset-cookie: a=b")]}], "CR, LF or NUL"),
        ([{**START, "trailers": "yes"}], "'trailers' must be a bool"),
        ([{**START, "trailers": True}], "trailers extension"),
        ([BODY], "before http.response.start"),
        ([START, START], "sent twice"),
        ([START, {**BODY, "body": "text"}], "'body' must be bytes"),
        ([START, {**BODY, "more_body": 1}], "'more_body' must be a bool"),
        ([START, BODY, BODY], "after the response was complete"),
        ([{"type": "http.response.push"}], "unexpected message type"),
        (["nope"], "must be a dict"),
        ([{"status": 200}], "needs a str 'type'"),
        ([START, {**BODY, "more_body": True}], "app returned without sending a complete response"),
        ([], "app returned without sending a complete response"),
    ],
)
def test_invalid_messages_fail_the_test(messages: list[Any], error: str) -> None:
    with pytest.raises(AssertionError) as info:
        TestClient(make_app(*messages)).get("/")
    assert error in str(info.value)


def test_violation_is_reported_even_when_the_app_swallows_it() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send)
        with contextlib.suppress(AssertionError):
            await send(BODY)

    with pytest.raises(AssertionError, match="after the response was complete"):
        TestClient(app).get("/")


def test_app_exception_propagates_unchanged() -> None:
    class Boom(Exception):
        pass

    async def before(scope: Scope, receive: Receive, send: Send) -> None:
        raise Boom

    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send)
        raise Boom

    for app in (before, after):
        with pytest.raises(Boom):
            TestClient(app).get("/")


def test_a_hung_app_fails_with_timeout() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError, match="did not finish within"):
        TestClient(app, timeout=0.05).get("/")


def test_the_apps_own_timeout_error_is_not_relabelled() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise TimeoutError("upstream")

    with pytest.raises(TimeoutError, match="upstream"):
        TestClient(app).get("/")


# -- lifespan ---------------------------------------------------------------------------------


def lifespan_app(events: list[str], *, fail: str | None = None) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        loop_id = id(asyncio.get_running_loop())
        if scope["type"] == "lifespan":
            message = await receive()
            events.append(message["type"])
            scope["state"]["db"] = "connected"
            scope["state"]["loop"] = loop_id
            if fail == "startup":
                await send({"type": "lifespan.startup.failed", "message": "no database"})
                return
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            events.append(message["type"])
            if fail == "shutdown":
                await send({"type": "lifespan.shutdown.failed", "message": "stuck"})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        state = scope["state"]
        same_loop = state["loop"] == loop_id
        state["db"] = "changed by a request"
        await send_response(send, body=json.dumps({"same_loop": same_loop}).encode())

    return app


def test_with_block_runs_lifespan_and_shares_state_and_loop() -> None:
    events: list[str] = []
    client = TestClient(lifespan_app(events))
    with client:
        assert events == ["lifespan.startup"]
        assert client.get("/").json() == {"same_loop": True}
        echoed = client.get("/").json()
        assert echoed == {"same_loop": True}
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_request_state_is_a_shallow_copy() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["n"] = "start"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(scope["state"]["n"])
        scope["state"]["n"] = "changed"
        await send_response(send)

    with TestClient(app) as client:
        client.get("/")
        client.get("/")
    assert seen == ["start", "start"]


def test_startup_failure_raises_with_the_apps_message() -> None:
    events: list[str] = []
    with (
        pytest.raises(RuntimeError, match="lifespan startup failed: no database"),
        TestClient(lifespan_app(events, fail="startup")),
    ):
        pass  # pragma: no cover
    assert events == ["lifespan.startup"]


def test_shutdown_failure_raises() -> None:
    with (
        pytest.raises(RuntimeError, match="lifespan shutdown failed: stuck"),
        TestClient(lifespan_app([], fail="shutdown")),
    ):
        pass


def test_app_without_lifespan_support_is_tolerated() -> None:
    async def returns(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await echo_app(scope, receive, send)

    for app in (echo_app, returns):
        with TestClient(app) as client:
            assert client.get("/").json()["state"] is None


def test_bad_lifespan_answers_are_assertion_errors() -> None:
    async def wrong_startup(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        await asyncio.Event().wait()

    with (
        pytest.raises(AssertionError, match=r"in answer to lifespan\.startup"),
        TestClient(wrong_startup),
    ):
        pass  # pragma: no cover

    async def bad_message(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": 3})

    with pytest.raises(AssertionError, match="'message' must be a str"), TestClient(bad_message):
        pass  # pragma: no cover

    async def no_shutdown_answer(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()

    with (
        pytest.raises(AssertionError, match=r"without answering lifespan\.shutdown"),
        TestClient(no_shutdown_answer),
    ):
        pass


def test_lifespan_crash_at_shutdown_propagates() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise KeyError("cleanup")

    with pytest.raises(KeyError, match="cleanup"), TestClient(app):
        pass


def test_client_cannot_be_entered_twice() -> None:
    client = TestClient(echo_app)
    with client, pytest.raises(RuntimeError, match="already inside"):
        client.__enter__()


def test_async_with_runs_lifespan_on_the_running_loop() -> None:
    events: list[str] = []

    async def main() -> None:
        client = TestClient(lifespan_app(events))
        async with client:
            assert (await client.aget("/")).json() == {"same_loop": True}
            with pytest.raises(RuntimeError, match="use the async methods"):
                client.get("/")
        assert events == ["lifespan.startup", "lifespan.shutdown"]

    asyncio.run(main())


def test_async_methods_inside_a_sync_with_block_use_its_loop() -> None:
    client = TestClient(lifespan_app([]))

    async def call() -> Any:
        results = [await client.arequest(m, "/") for m in ("GET", "HEAD", "OPTIONS", "DELETE")]
        results += [await client.apost("/"), await client.aput("/"), await client.apatch("/")]
        results += [await client.aget("/"), await client.ahead("/"), await client.aoptions("/")]
        results.append(await client.adelete("/"))
        return {r.text for r in results}

    with client:
        assert asyncio.run(call()) == {'{"same_loop": true}'}


def test_every_sync_verb_sends_its_method() -> None:
    client = TestClient(echo_app)
    verbs = [client.get, client.head, client.options, client.delete, client.post, client.put]
    methods = [verb("/").json()["method"] for verb in [*verbs, client.patch]]
    assert methods == ["GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH"]


def test_async_methods_without_with_run_on_the_current_loop() -> None:
    async def main() -> dict[str, Any]:
        response = await TestClient(echo_app).apost("/", json=[1])
        echoed: dict[str, Any] = response.json()
        return echoed

    assert asyncio.run(main())["body"] == "[1]"


def test_sync_calls_from_a_coroutine_without_with_work() -> None:
    async def main() -> int:
        return TestClient(echo_app).get("/").status_code

    assert asyncio.run(main()) == 200


# -- websockets -------------------------------------------------------------------------------


async def ws_echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "websocket"
    message = await receive()
    assert message == {"type": "websocket.connect"}
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send(
        {"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-ws", b"yes")]}
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text == "scope":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            info = {
                "scheme": scope["scheme"],
                "path": scope["path"],
                "query_string": scope["query_string"].decode(),
                "subprotocols": scope["subprotocols"],
                "extensions": scope["extensions"],
                "headers": headers,
                "asgi": scope["asgi"],
            }
            await send({"type": "websocket.send", "text": json.dumps(info)})
        elif text == "close":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
        elif text == "return":
            return
        elif text is not None:
            await send({"type": "websocket.send", "text": "echo:" + text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})


def test_websocket_accept_echo_and_scope() -> None:
    client = TestClient(ws_echo_app)
    client.cookies["sid"] = "1"
    with client.websocket_connect("/ws?room=1", subprotocols=["chat", "v2"]) as websocket:
        assert websocket.accepted_subprotocol == "chat"
        assert websocket.response_headers == [("x-ws", "yes")]
        websocket.send_text("hi")
        assert websocket.receive_text() == "echo:hi"
        websocket.send_bytes(b"abc")
        assert websocket.receive_bytes() == b"cba"
        websocket.send_json({"a": 1})
        assert websocket.receive_text() == 'echo:{"a":1}'
        websocket.send_text("scope")
        info = websocket.receive_json()
    assert info["scheme"] == "ws"
    assert info["path"] == "/ws"
    assert info["query_string"] == "room=1"
    assert info["subprotocols"] == ["chat", "v2"]
    assert info["extensions"] == {"websocket.http.response": {}}
    assert info["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    headers = info["headers"]
    assert headers["host"] == "localhost"
    assert headers["origin"] == "http://localhost"
    assert headers["sec-websocket-version"] == "13"
    assert headers["sec-websocket-protocol"] == "chat, v2"
    assert headers["cookie"] == "sid=1"
    assert headers["upgrade"] == "websocket"


def test_websocket_without_origin_and_with_wss() -> None:
    client = TestClient(ws_echo_app, headers={"x-team": "t"})
    with client.websocket_connect("/", origin=None, scheme="wss", headers={"x-a": "b"}) as ws:
        assert ws.accepted_subprotocol is None
        ws.send_text("scope")
        info = ws.receive_json()
    assert info["scheme"] == "wss"
    assert "origin" not in info["headers"]
    assert "sec-websocket-protocol" not in info["headers"]
    assert info["headers"]["x-a"] == "b"
    assert info["headers"]["x-team"] == "t"


def test_websocket_closed_by_the_app() -> None:
    with TestClient(ws_echo_app) as client, client.websocket_connect("/") as websocket:
        websocket.send_text("close")
        with pytest.raises(WebSocketClosed) as info:
            websocket.receive_text()
        assert (info.value.code, info.value.reason) == (4001, "bye")
        with pytest.raises(WebSocketClosed):
            websocket.receive()
        with pytest.raises(WebSocketClosed):
            websocket.send_text("again")


def test_websocket_app_returning_reports_abnormal_closure() -> None:
    with TestClient(ws_echo_app).websocket_connect("/") as websocket:
        websocket.send_text("return")
        with pytest.raises(WebSocketClosed) as info:
            websocket.receive()
        assert info.value.code == 1006


def test_websocket_receive_timeout() -> None:
    with TestClient(ws_echo_app).websocket_connect("/") as websocket:
        with pytest.raises(TimeoutError, match="receiving a websocket message"):
            websocket.receive(timeout=0.01)
        websocket.send_text("still alive")
        assert websocket.receive_text() == "echo:still alive"


def test_websocket_wrong_frame_kind_is_an_assertion_error() -> None:
    with TestClient(ws_echo_app).websocket_connect("/") as websocket:
        websocket.send_bytes(b"x")
        with pytest.raises(AssertionError, match="expected a text message"):
            websocket.receive_text()
        websocket.send_text("x")
        with pytest.raises(AssertionError, match="expected a bytes message"):
            websocket.receive_bytes()


def test_websocket_client_close_sends_disconnect_code() -> None:
    codes: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        codes.append((await receive())["code"])

    with TestClient(app).websocket_connect("/") as websocket:
        websocket.close(code=4000, reason="done")
        websocket.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            websocket.send_text("late")
    assert codes == [4000]


def test_websocket_close_before_accept_is_a_403_denial() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    with pytest.raises(WebSocketDenied) as info, TestClient(app).websocket_connect("/"):
        pass  # pragma: no cover
    assert (info.value.status_code, info.value.headers, info.value.body) == (403, [], b"")
    assert isinstance(info.value, FlasgoError)


def test_websocket_denial_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        start = {"type": "websocket.http.response.start", "status": 401}
        await send({**start, "headers": [(b"www-authenticate", b"Bearer")]})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"token"})

    with pytest.raises(WebSocketDenied) as info, TestClient(app).websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.headers == [("www-authenticate", "Bearer")]
    assert info.value.body == b"no token"


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "websocket.send", "text": "x"}], "before websocket.accept"),
        ([{"type": "websocket.accept", "subprotocol": "nope"}], "was not offered"),
        ([{"type": "websocket.http.response.start", "status": 200}], "without completing"),
        ([], "app returned without accepting or denying"),
    ],
)
def test_websocket_handshake_violations(messages: list[Any], error: str) -> None:
    with (
        pytest.raises(AssertionError, match=error),
        TestClient(make_app(*messages)).websocket_connect("/"),
    ):
        pass  # pragma: no cover


ACCEPT = {"type": "websocket.accept"}


def connect_and_receive_twice(client: TestClient) -> None:
    with client.websocket_connect("/") as websocket:
        websocket.receive()
        websocket.receive()  # pragma: no cover


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([ACCEPT, {"type": "websocket.send"}], "exactly one of 'bytes' and 'text'"),
        ([ACCEPT, {"type": "websocket.send", "text": "a", "bytes": b"b"}], "exactly one"),
        ([ACCEPT, {"type": "websocket.send", "bytes": "b"}], "'bytes' must be bytes"),
        ([ACCEPT, {"type": "websocket.send", "text": b"t"}], "'text' must be a str"),
        ([ACCEPT, {"type": "websocket.close", "code": "1000"}], "'code' must be an int"),
        ([ACCEPT, {"type": "websocket.close", "reason": 1}], "'reason' must be a str"),
        ([ACCEPT, ACCEPT], "unexpected message type 'websocket.accept'"),
        ([ACCEPT, {"type": "websocket.close"}, ACCEPT], "after the websocket was closed"),
    ],
)
def test_websocket_message_violations(messages: list[Any], error: str) -> None:
    # NOTE: the app may send its bad message before the handshake call returns; either way the
    # violation reaches the test.
    with pytest.raises(AssertionError, match=error):
        connect_and_receive_twice(TestClient(make_app(*messages)))


def test_websocket_denial_validation() -> None:
    start = {"type": "websocket.http.response.start", "status": 403}
    app = make_app(start, {"type": "websocket.close"})
    with (
        pytest.raises(AssertionError, match="during a denial response"),
        TestClient(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover


def test_websocket_app_exception_propagates() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise LookupError("handler bug")

    with TestClient(app).websocket_connect("/") as websocket:
        websocket.send_text("boom")
        with pytest.raises(LookupError, match="handler bug"):
            websocket.receive()

    def send_and_leave() -> None:
        with TestClient(app).websocket_connect("/") as websocket:
            websocket.send_text("boom")

    with pytest.raises(LookupError, match="handler bug"):
        send_and_leave()


def test_websocket_app_that_keeps_sending_is_stopped_by_close() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            await send({"type": "websocket.send", "text": "tick"})

    with TestClient(app).websocket_connect("/") as websocket:
        assert websocket.receive_text() == "tick"


def test_async_websocket_session() -> None:
    async def main() -> list[Any]:
        client = TestClient(ws_echo_app)
        async with client, client.awebsocket_connect("/", subprotocols=["v1"]) as websocket:
            assert websocket.accepted_subprotocol == "v1"
            assert websocket.response_headers == [("x-ws", "yes")]
            await websocket.send_text("a")
            await websocket.send_bytes(b"12")
            await websocket.send_json([1])
            results = [
                await websocket.receive_text(),
                await websocket.receive_bytes(),
                await websocket.receive_text(timeout=1),
            ]
            with pytest.raises(TimeoutError):
                await websocket.receive(timeout=0.01)
            await websocket.send({"type": "websocket.receive", "text": "close"})
            with pytest.raises(WebSocketClosed):
                await websocket.receive_text()
            await websocket.close()
            return results

    assert asyncio.run(main()) == ["echo:a", b"21", "echo:[1]"]


def test_async_websocket_inside_a_sync_with_block() -> None:
    client = TestClient(ws_echo_app)

    async def main() -> str:
        async with client.awebsocket_connect("/") as websocket:
            await websocket.send_text("x")
            return await websocket.receive_text()

    with client:
        assert asyncio.run(main()) == "echo:x"


def test_websocket_handshake_timeout() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.Event().wait()

    with (
        pytest.raises(TimeoutError, match="websocket handshake"),
        TestClient(app, timeout=0.05).websocket_connect("/"),
    ):
        pass  # pragma: no cover


# -- edge cases -------------------------------------------------------------------------------


def test_header_values_outside_latin1_are_sent_as_utf8() -> None:
    echoed = TestClient(echo_app).get("/", headers={"x-name": "名前"}).json()
    assert header_values(echoed, "x-name") == ["名前"]


def test_sending_after_the_disconnect_is_a_violation() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send_response(send)
        await receive()
        await send(BODY)

    with pytest.raises(AssertionError, match="after the response was complete"):
        TestClient(app).get("/")


def test_a_swallowed_violation_keeps_failing_later_sends() -> None:
    failures: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in ({**START, "status": "x"}, START):
            try:
                await send(message)
            except AssertionError as exc:
                failures.append(str(exc))

    with pytest.raises(AssertionError, match="'status' must be an int"):
        TestClient(app).get("/")
    assert len(failures) == 2


def test_stream_surfaces_an_app_error_before_the_response_starts() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ArithmeticError("early")

    with pytest.raises(ArithmeticError, match="early"), TestClient(app).stream("GET", "/"):
        pass  # pragma: no cover


def test_exit_without_enter_does_nothing() -> None:
    TestClient(echo_app).__exit__(None, None, None)


def test_sync_call_from_the_apps_own_loop_is_refused() -> None:
    client: TestClient

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"  # no lifespan support
        client.get("/")  # blocking on the loop the app runs on could never finish

    client = TestClient(app)
    with client, pytest.raises(RuntimeError, match="own loop"):
        client.get("/")


def test_portal_guards_its_lifecycle() -> None:
    portal = Portal()
    with pytest.raises(RuntimeError, match="not running"):
        _ = portal.loop
    portal.stop()  # stopping a portal that never started is fine
    portal.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            portal.start()

        async def call_back_into_the_portal() -> None:
            with pytest.raises(RuntimeError, match="own loop"):
                portal.call(asyncio.sleep(0))

        portal.call(call_back_into_the_portal())
    finally:
        portal.stop()


def test_websocket_violation_found_while_closing() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        await send({"type": "websocket.send"})

    def send_and_leave() -> None:
        with TestClient(app).websocket_connect("/") as websocket:
            websocket.send_text("x")

    with pytest.raises(AssertionError, match="exactly one"):
        send_and_leave()


def test_async_websocket_receive_json() -> None:
    async def main() -> Any:
        async with TestClient(ws_echo_app).awebsocket_connect("/") as websocket:
            await websocket.send_text("scope")
            return await websocket.receive_json()

    assert asyncio.run(main())["path"] == "/"


def test_violation_after_the_body_was_read_is_reported_on_close() -> None:
    async def main() -> None:
        proceed = asyncio.Event()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await receive()
            await send_response(send)
            await proceed.wait()
            await send(BODY)

        async def read_then_leave() -> None:
            async with TestClient(app).astream("GET", "/") as response:
                assert await response.read() == b""
                proceed.set()

        with pytest.raises(AssertionError, match="after the response was complete"):
            await read_then_leave()

    asyncio.run(main())


def test_websocket_swallowed_violation_keeps_failing() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        for message in ({"type": "websocket.send"}, ACCEPT):
            with contextlib.suppress(AssertionError):
                await send(message)

    with pytest.raises(AssertionError, match=r"before websocket\.accept"):
        connect_and_receive_twice(TestClient(app))
