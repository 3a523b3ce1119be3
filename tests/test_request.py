"""Request parsing through real requests: query, headers, cookies, body, JSON, forms, limits."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flasgo import Flasgo, request
from flasgo.jsonenc import MALFORMED_JSON
from tests.asgi import acall, call, http_scope

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory


@pytest.fixture(scope="session")
def echo_app(make_app: AppFactory) -> AppBuilder:
    def build(**settings_: Any) -> Flasgo:
        # NOTE: these tests drive body parsing with raw scopes; CSRF is tested in
        # tests/security/test_csrf.py, so it is off here.
        app = make_app(**{"CSRF_ENABLED": False, **settings_})

        @app.route("/echo", methods=["GET", "POST"])
        async def echo() -> dict[str, Any]:
            return {
                "args": request.args.to_dict(flat=False),
                "body": (await request.body()).decode("latin-1"),
            }

        @app.post("/json")
        async def json_body() -> dict[str, Any]:
            return {"json": await request.json()}

        @app.post("/form")
        async def form() -> dict[str, Any]:
            return (await request.form()).to_dict(flat=False)

        @app.post("/stream")
        async def stream() -> dict[str, int]:
            sizes = [len(chunk) async for chunk in request.stream()]
            return {"chunks": len(sizes), "total": sum(sizes)}

        @app.get("/meta")
        def meta() -> dict[str, Any]:
            return {
                "headers": request.headers.getlist("x-dup"),
                "cookies": request.cookies,
                "url": request.url,
                "client": list(request.client or ()),
                "content_type": request.content_type,
                "host": request.host,
                "scheme": request.scheme,
            }

        return app

    return build


def test_query_multidict_and_headers_keep_duplicates(echo_app: AppBuilder) -> None:
    client = echo_app().test_client()
    assert client.get("/echo?a=1&a=2&b=&c").json()["args"] == {
        "a": ["1", "2"],
        "b": [""],
        "c": [""],
    }
    meta = client.get(
        "/meta?x=1", headers=[("X-Dup", "one"), ("X-Dup", "two"), ("Cookie", "a=1; b=2; a=3")]
    ).json()
    assert meta["headers"] == ["one", "two"]
    assert meta["cookies"] == {"a": "1", "b": "2"}
    assert meta["url"] == "http://localhost/meta?x=1"
    assert meta["client"] == ["127.0.0.1", 50000]


def test_too_many_query_fields_is_413(echo_app: AppBuilder) -> None:
    client = echo_app(MAX_FORM_FIELDS=10).test_client()
    assert client.get("/echo?" + "&".join(f"k{i}=v" for i in range(11))).status_code == 413
    assert client.get("/echo?" + "&".join(f"k{i}=v" for i in range(10))).status_code == 200


def test_hostile_query_and_cookies_never_500(echo_app: AppBuilder) -> None:
    client = echo_app().test_client()
    assert client.get("/echo?%ZZ=%&&&=%FF%FE").status_code == 200
    hostile_cookie = ",a=1;" * 2000 + 'b="' + "\\" * 4000 + '"'
    assert client.get("/meta", headers={"Cookie": hostile_cookie}).status_code == 200
    # Past MAX_REQUEST_HEAD_BYTES (16 KiB) the whole head is refused before any parsing.
    too_big = ",a=1;" * 5000
    assert client.get("/meta", headers={"Cookie": too_big}).status_code == 431


def test_json_body_bad_json_and_wrong_media_type(echo_app: AppBuilder) -> None:
    client = echo_app().test_client()
    assert client.post("/json", json={"a": [1, 2]}).json() == {"json": {"a": [1, 2]}}
    bad = client.post("/json", body=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    assert "Malformed JSON" in bad.text
    # SECURITY: JSON sent as text/plain (a CSRF "simple request") is not parsed.
    assert (
        client.post("/json", body=b'{"a":1}', headers={"Content-Type": "text/plain"}).status_code
        == 415
    )
    nan = client.post("/json", body=b'{"a": NaN}', headers={"Content-Type": "application/json"})
    assert nan.status_code == 400


def test_deep_and_huge_json_is_400(echo_app: AppBuilder) -> None:
    client = echo_app().test_client()
    headers = {"Content-Type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000  # under the body limit: the parser refuses it
    refused = client.post("/json", body=deep, headers=headers)
    assert (refused.status_code, refused.text) == (400, MALFORMED_JSON)
    just_over = b"[" * 65 + b"]" * 65
    refused = client.post("/json", body=just_over, headers=headers)
    assert (refused.status_code, refused.text) == (400, "JSON nesting is deeper than 64 levels.")
    at_limit = b"[" * 64 + b"]" * 64
    assert client.post("/json", body=at_limit, headers=headers).status_code == 200
    huge_int = b'{"n": ' + b"1" * 5000 + b"}"
    refused = client.post("/json", body=huge_int, headers=headers)
    assert (refused.status_code, refused.text) == (400, MALFORMED_JSON)


def test_urlencoded_form_and_multipart_not_yet(echo_app: AppBuilder) -> None:
    client = echo_app().test_client()
    assert client.post("/form", data={"a": "1", "b": ["x", "y"]}).json() == {
        "a": ["1"],
        "b": ["x", "y"],
    }
    assert client.post("/form", json={"a": 1}).status_code == 415


def test_body_limit_from_declared_length_is_413(echo_app: AppBuilder) -> None:
    client = echo_app(MAX_REQUEST_BODY_BYTES=10).test_client()
    response = client.post("/echo", body=b"x" * 11)
    assert response.status_code == 413
    assert "MAX_REQUEST_BODY_BYTES (10 bytes)" in response.text
    assert client.post("/echo", body=b"x" * 10).status_code == 200


def test_body_limit_counts_received_bytes_across_chunks(echo_app: AppBuilder) -> None:
    app = echo_app(MAX_REQUEST_BODY_BYTES=100)
    # SECURITY: understated Content-Length, then more bytes in many small chunks.
    chunks = [{"type": "http.request", "body": b"x" * 10, "more_body": True} for _ in range(20)]
    chunks.append({"type": "http.request", "body": b"", "more_body": False})
    scope = http_scope("/echo", "POST", headers=[(b"content-length", b"10")])
    assert call(app, scope, chunks).status == 413
    no_length = http_scope("/stream", "POST")
    assert call(app, no_length, chunks).status == 413


def test_streaming_body_arrives_in_chunks(echo_app: AppBuilder) -> None:
    app = echo_app()
    chunks = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cde", "more_body": False},
    ]
    result = call(app, http_scope("/stream", "POST"), chunks)
    assert result.status == 200
    assert result.body == b'{"chunks":2,"total":5}'


@pytest.mark.parametrize("value", [b"-1", b" 12", b"1_0", b"+5", "١٠".encode(), b"0x10", b"abc"])
def test_malformed_content_length_is_400(echo_app: AppBuilder, value: bytes) -> None:
    app = echo_app()
    scope = http_scope("/echo", "POST", headers=[(b"content-length", value)])
    assert call(app, scope).status == 400


def test_slow_body_times_out_with_408(echo_app: AppBuilder) -> None:
    app = echo_app(REQUEST_READ_TIMEOUT_SECONDS=0.05)
    first = [{"type": "http.request", "body": b"x", "more_body": True}]

    async def run() -> int:
        result = await asyncio.wait_for(
            acall(app, http_scope("/echo", "POST"), first, hang_after=True), 5
        )
        return result.status

    assert asyncio.run(run()) == 408


def test_client_disconnect_while_reading_is_not_a_500(echo_app: AppBuilder) -> None:
    app = echo_app()
    first = [{"type": "http.request", "body": b"x", "more_body": True}]
    # the driver answers http.disconnect once the queue is empty
    assert call(app, http_scope("/echo", "POST"), first).status == 400


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _not_json(constant: str) -> None:
    raise ValueError(constant)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def reference_json(body: bytes) -> tuple[int, Any]:
    """What the stdlib makes of `body` under RFC 8259 (no NaN, no Infinity) and the depth limit."""
    try:
        value = json.loads(body.decode(), parse_constant=_not_json, parse_float=_finite)
    except ValueError:
        return 400, MALFORMED_JSON
    if _depth(value) > 64:
        return 400, "JSON nesting is deeper than 64 levels."
    return 200, value


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=200))
def test_arbitrary_query_strings_and_bodies_get_the_reference_answer(
    echo_app: AppBuilder, query: bytes, body: bytes
) -> None:
    app = echo_app()
    scope = http_scope(
        "/echo", "POST", query_string=query, headers=[(b"content-type", b"application/json")]
    )
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    # Any query string parses and the raw body comes back unchanged.
    echoed = call(app, scope, messages)
    assert echoed.status == 200
    assert json.loads(echoed.body)["body"] == body.decode("latin-1")
    json_scope = http_scope("/json", "POST", headers=[(b"content-type", b"application/json")])
    answer = call(app, json_scope, messages)
    status, expected = reference_json(body)
    assert answer.status == status, (body, answer.body)
    if status == 200:
        assert json.loads(answer.body) == {"json": expected}
    else:
        assert answer.body.decode() == expected


def test_bad_input_is_logged_without_control_characters(
    echo_app: AppBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    client = echo_app(MAX_REQUEST_BODY_BYTES=4).test_client()
    with caplog.at_level(logging.INFO, logger="flasgo.request"):
        assert client.post("/echo", body=b"x" * 5).status_code == 413
        assert client.post("/json%0d%0aX:1", json={}).status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "flasgo.request"]
    assert len(lines) == 1
    assert lines[0].startswith("client-error status=413 method='POST' path='/echo'")
    assert "\n" not in lines[0]
