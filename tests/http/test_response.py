"""Responses: constructors, headers, cookies, streaming, coercion edge cases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from flasgo import (
    Flasgo,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
    make_response,
)
from flasgo.response import ResponseHeaders, to_response


def test_response_constructors_set_content_types() -> None:
    assert Response.text("x").headers["content-type"] == "text/plain; charset=utf-8"
    assert Response.html("<b>").headers["content-type"] == "text/html; charset=utf-8"
    assert Response.json({"a": 1}).body == b'{"a":1}'
    assert HTMLResponse("<i>").content_type == "text/html; charset=utf-8"
    assert PlainTextResponse("p").content_type == "text/plain; charset=utf-8"
    assert JSONResponse([1], status_code=201).status_code == 201
    assert Response.redirect("/x", 303).headers["location"] == "/x"


@pytest.mark.parametrize("status", [99, 600, "200", True])
def test_invalid_status_is_refused(status: object) -> None:
    with pytest.raises(ValueError):
        Response(b"", status)  # type: ignore[arg-type]


def test_bodyless_statuses_refuse_a_body() -> None:
    with pytest.raises(ValueError):
        Response(b"x", 204)
    with pytest.raises(ValueError):
        to_response(("x", 304))
    assert "content-type" not in Response(b"", 204).headers


def test_headers_are_case_insensitive_and_support_repeats() -> None:
    headers = ResponseHeaders({"X-A": "1"})
    assert headers["x-a"] == "1"
    headers.add("Link", "</a>")
    headers.add("link", "</b>")
    assert headers.getlist("LINK") == ["</a>", "</b>"]
    del headers["link"]
    assert "link" not in headers
    with pytest.raises(ValueError):
        headers["Bad Name"] = "x"
    with pytest.raises(ValueError):
        headers["X-Uni"] = "snowman \u2603"


def test_tuple_headers_cannot_inject() -> None:
    with pytest.raises(ValueError):
        to_response(("x", 200, {"X-A": "a\nSet-Cookie: x=1"}))
    with pytest.raises(ValueError):
        to_response(("x", {"Set-Cookie": "a=1\r\nX: y"}))
    with pytest.raises(TypeError):
        to_response(("x", 200, {}, "extra"))
    with pytest.raises(TypeError):
        to_response(object())
    assert to_response(("x", "201")).status_code == 201


def test_cookies_set_and_delete() -> None:
    response = Response("x")
    response.set_cookie("sid", "abc", same_site="Strict", http_only=False)
    response.delete_cookie("old")
    assert response.cookies[0] == "sid=abc; Path=/; Secure; SameSite=Strict"
    assert response.cookies[1].startswith("old=; Path=/; Max-Age=0")
    raw = {k.decode(): v.decode() for k, v in response.raw_headers() if k != b"set-cookie"}
    assert raw["content-length"] == "1"


def test_make_response_variants() -> None:
    assert make_response().status_code == 200
    assert make_response({"a": 1}, 201).status_code == 201
    assert make_response("x", {"X-H": "1"}).headers["x-h"] == "1"


def build_streaming_app() -> Flasgo:
    app = Flasgo()

    @app.get("/async")
    async def async_stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            for part in ("a", "b", "c"):
                await asyncio.sleep(0)
                yield part

        return StreamingResponse(chunks(), content_type="text/plain")

    @app.get("/sync")
    def sync_stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield b"1"
            yield b""
            yield b"2"

        return StreamingResponse(chunks())

    return app


def test_streaming_responses_async_and_sync() -> None:
    client = build_streaming_app().test_client()
    async_response = client.get("/async")
    assert (async_response.text, async_response.headers["content-type"]) == ("abc", "text/plain")
    assert "content-length" not in async_response.headers
    sync_response = client.get("/sync")
    assert sync_response.body == b"12"
    assert sync_response.headers["content-type"] == "application/octet-stream"
    assert client.head("/async").body == b""


def test_background_callable_runs_after_the_response() -> None:
    app = Flasgo()
    done: list[str] = []

    @app.get("/")
    def index() -> Response:
        return Response("sent", background=lambda: done.append("background"))

    assert app.test_client().get("/").text == "sent"
    assert done == ["background"]
