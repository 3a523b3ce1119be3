"""Compression: what is compressed, for whom, and what never is."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import brotli
import pytest
import zstandard

from flasgo import Flasgo, Response, StreamingResponse, render_template_string
from flasgo.compression import Compressor, available_codings
from flasgo.security.csrf import unmask_token
from tests.asgi import call, http_scope
from tests.conftest import AppFactory, ClientFactory

TEXT = "Flasgo compresses text. " * 200  # 4800 bytes
DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


@pytest.fixture
def app(make_app: AppFactory, tmp_path: Path) -> Flasgo:
    app = make_app()
    (tmp_path / "big.txt").write_text(TEXT)

    @app.get("/text")
    def text() -> str:
        return TEXT

    @app.get("/small")
    def small() -> str:
        return "tiny"

    @app.get("/json")
    def json() -> list[str]:
        return [TEXT]

    @app.get("/png")
    def png() -> Response:
        return Response(b"\x89PNG" + b"\0" * 5000, content_type="image/png")

    @app.get("/encoded")
    def encoded() -> Response:
        return Response(gzip.compress(b"x" * 5000), headers={"content-encoding": "gzip"})

    @app.get("/no-transform")
    def no_transform() -> Response:
        return Response(TEXT, headers={"cache-control": "no-transform"})

    @app.get("/events")
    def events() -> StreamingResponse:
        return StreamingResponse(iter(["data: x\n\n"] * 300), content_type="text/event-stream")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            for index in range(50):
                yield f"line {index} " * 10 + "\n"

        return StreamingResponse(parts(), content_type="text/plain")

    @app.get("/sync-stream")
    def sync_stream() -> StreamingResponse:
        def parts() -> Iterator[bytes]:
            yield from (b"abc" * 100 for _ in range(20))

        return StreamingResponse(parts(), content_type="text/csv")

    @app.get("/huge")
    def huge() -> str:
        return TEXT * 40  # compressed in the thread pool

    @app.get("/page")
    def page() -> str:
        return render_template_string(
            "<p>{{ pad }}</p><input name=csrf_token value='{{ csrf_token() }}'>", pad=TEXT
        )

    app.configure_static(tmp_path)
    return app


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("*", "zstd"),
        ("*;q=0.1, gzip;q=0.2", "gzip"),
        ("zstd;q=0, br;q=0, *", "gzip"),
    ],
)
def test_the_best_accepted_coding_is_used(
    app: Flasgo, make_client: ClientFactory, accept: str, coding: str
) -> None:
    response = make_client(app).get("/text", headers={"accept-encoding": accept})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == coding
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(response.content)
    assert DECODE[coding](response.content).decode() == TEXT


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "deflate", "gzip;q=abc"])
def test_no_accepted_coding_sends_it_plain_with_vary(
    app: Flasgo, make_client: ClientFactory, accept: str | None
) -> None:
    headers = {} if accept is None else {"accept-encoding": accept}
    response = make_client(app).get("/text", headers=headers)
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.text == TEXT


def test_json_goes_off_the_fast_path_to_be_compressed(
    app: Flasgo, make_client: ClientFactory
) -> None:
    response = make_client(app).get("/json", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(response.content).decode() == f'["{TEXT}"]'
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/small", "/png", "/encoded", "/no-transform", "/events"])
def test_what_is_never_compressed(app: Flasgo, make_client: ClientFactory, path: str) -> None:
    response = make_client(app).get(path, headers={"accept-encoding": "gzip, br, zstd"})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == ("gzip" if path == "/encoded" else None)
    assert "vary" not in response.headers


def test_range_and_static_file_responses_are_left_alone(
    app: Flasgo, make_client: ClientFactory
) -> None:
    client = make_client(app)
    whole = client.get("/static/big.txt", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in whole.headers
    assert whole.text == TEXT
    part = client.get("/static/big.txt", headers={"accept-encoding": "gzip", "range": "bytes=0-4"})
    assert part.status_code == 206
    assert part.text == TEXT[:5]


@pytest.mark.parametrize(("path", "coding"), [("/stream", "gzip"), ("/sync-stream", "br")])
def test_streams_are_compressed_chunk_by_chunk(app: Flasgo, path: str, coding: str) -> None:
    result = call(app, http_scope(path, headers=[(b"accept-encoding", coding.encode())]))
    assert result.header("content-encoding") == coding
    chunks = [m["body"] for m in result.messages[1:] if m.get("body")]
    assert len(chunks) > 2  # flushed as it goes, not buffered to the end
    decoded = DECODE[coding](result.body).decode()
    if path == "/stream":
        assert decoded == "".join(f"line {i} " * 10 + "\n" for i in range(50))
    else:
        assert decoded == "abc" * 2000
    # The first chunk alone decodes to the first part: the client sees it at once.
    if coding == "gzip":
        first = zlib.decompressobj(31).decompress(chunks[0])
        assert first == b"line 0 " * 10 + b"\n"


def test_a_large_body_is_compressed_too(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/huge", headers={"accept-encoding": "gzip"})
    assert gzip.decompress(response.content).decode() == TEXT * 40


def test_head_matches_get(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    get = client.get("/text", headers={"accept-encoding": "gzip"})
    head = client.head("/text", headers={"accept-encoding": "gzip"})
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.content == b""


def test_the_csrf_token_in_a_compressed_page_is_masked_per_response(
    app: Flasgo, make_client: ClientFactory
) -> None:
    client = make_client(app)
    pages = [client.get("/page", headers={"accept-encoding": "gzip"}) for _ in range(2)]
    assert [page.headers["content-encoding"] for page in pages] == ["gzip", "gzip"]
    tokens = [
        gzip.decompress(page.content).decode().split("value='")[1].split("'")[0] for page in pages
    ]
    assert tokens[0] != tokens[1]  # BREACH: no secret repeats across responses
    cookie = client.cookies[app.settings.CSRF_COOKIE_NAME]
    assert unmask_token(tokens[0]) == unmask_token(tokens[1]) == cookie


def test_compression_can_be_turned_off(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app(COMPRESSION_ENABLED=False)

    @app.get("/")
    def index() -> str:
        return TEXT

    response = make_client(app).get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


def test_the_threshold_is_a_setting(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app(COMPRESSION_MIN_BYTES=10_000)

    @app.get("/")
    def index() -> str:
        return TEXT

    assert (
        "content-encoding"
        not in make_client(app).get("/", headers={"accept-encoding": "gzip"}).headers
    )


def test_gzip_only_without_the_extra_packages(app: Flasgo) -> None:
    from flasgo.request import Request

    compressor = Compressor(codings={"gzip": available_codings()["gzip"]})
    assert sorted(available_codings()) == ["br", "gzip", "zstd"]
    scope = http_scope("/", headers=[(b"accept-encoding", b"br, zstd, gzip;q=0.1")])
    assert compressor.choose(Request(scope, None, app)) == "gzip"


def test_a_bad_gzip_level_fails_at_startup(make_app: AppFactory) -> None:
    from flasgo import ConfigurationError

    with pytest.raises(ConfigurationError, match="COMPRESSION_GZIP_LEVEL must be 1-9"):
        make_app(COMPRESSION_GZIP_LEVEL=10).freeze()
