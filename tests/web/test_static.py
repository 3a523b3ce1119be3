"""Static files: containment, caching, conditional requests, ranges, precompressed siblings."""

from __future__ import annotations

import gzip
import importlib
import re
import sys
from pathlib import Path

import pytest

from flasgo import Blueprint, Flasgo
from flasgo.staticfiles import MAX_RANGES, parse_ranges
from tests.asgi import call, http_scope
from tests.conftest import TEST_SECRET_KEY, AppFactory, ClientFactory, RefusalCheck

CSS = b"body { color: #333 }\n" * 10
DATA = bytes(range(256)) * 20  # 5120 bytes


@pytest.fixture
def site(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_bytes(CSS)
    (static / "data.bin").write_bytes(DATA)
    (static / "app.3f9a1c2e.js").write_bytes(b"1")
    (static / "page.html").write_bytes(b"<p>static page</p>")
    (static / ".env").write_bytes(b"SECRET=1")
    (static / ".git").mkdir()
    (static / ".git" / "config").write_bytes(b"SECRET")
    (static / "sub").mkdir()
    (static / "empty.txt").write_bytes(b"")
    (tmp_path / "secret.txt").write_bytes(b"SECRET")
    (static / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (static / "escape-dir").symlink_to(tmp_path)
    (static / "inside.css").symlink_to(static / "css" / "site.css")
    return static


@pytest.fixture
def app(make_app: AppFactory, site: Path) -> Flasgo:
    app = make_app()
    app.configure_static(site)
    return app


def test_a_static_file_is_public_and_keeps_the_security_headers(
    app: Flasgo, make_client: ClientFactory
) -> None:
    response = make_client(app).get("/static/css/site.css")
    assert response.status_code == 200
    assert response.content == CSS
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["cache-control"] == "public, no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', response.headers["etag"])
    assert response.headers["last-modified"].endswith(" GMT")
    assert response.headers["accept-ranges"] == "bytes"
    assert "set-cookie" not in response.headers


def test_url_for_static(app: Flasgo, make_client: ClientFactory) -> None:
    with make_client(app):
        pass
    assert app.url_for("static", filename="css/site.css") == "/static/css/site.css"


def test_a_static_html_page_gets_the_page_headers_and_no_csrf_cookie(
    app: Flasgo, make_client: ClientFactory
) -> None:
    response = make_client(app).get("/static/page.html")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "permissions-policy" in response.headers
    assert "set-cookie" not in response.headers  # public responses never carry cookies


def test_the_cache_lifetime_is_configurable_with_upstreams_names(
    make_app: AppFactory, make_client: ClientFactory, site: Path
) -> None:
    app = make_app()
    app.configure_static(site, cache_max_age=3600)
    response = make_client(app).get("/static/css/site.css")
    assert response.headers["cache-control"] == "public, max-age=3600"


def test_the_constructor_takes_static_cache_max_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory
) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.css").write_bytes(CSS)
    (tmp_path / "shop.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "shop", raising=False)
    importlib.import_module("shop")
    settings = {"SECRET_KEY": TEST_SECRET_KEY}
    app = Flasgo("shop", settings=settings, static_cache_max_age=600)
    response = make_client(app).get("/static/a.css")
    assert (response.status_code, response.headers["cache-control"]) == (
        200,
        "public, max-age=600",
    )


def test_a_hashed_name_is_cached_for_a_year(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/static/app.3f9a1c2e.js")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_max_age_for_ordinary_names(
    make_app: AppFactory, make_client: ClientFactory, site: Path
) -> None:
    app = make_app()
    app.configure_static(site, url_path="/assets", max_age=600)
    response = make_client(app).get("/assets/css/site.css")
    assert response.headers["cache-control"] == "public, max-age=600"


def test_head_sends_the_headers_only(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).head("/static/data.bin")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(DATA))
    assert response.content == b""


def test_an_empty_file(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/static/empty.txt")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


# -- containment ---------------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/css/%2e%2e/%2e%2e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/%252e%252e%252fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/%5c..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/css%5c..%5c..%5csecret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/.env",
    "/static/%2eenv",
    "/static/.git/config",
    "/static/css/.%2e/.%2e/secret.txt",
    "/static/C:/Windows/win.ini",
    "/static/c%3a/secret.txt",
    "/static/%5c%5cserver%5cshare%5csecret.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/escape.txt",
    "/static/escape-dir/secret.txt",
    "/static/sub",
    "/static/css",
    "/static/nothing-here.css",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_the_folder_nor_hidden_is_served(
    app: Flasgo, make_client: ClientFactory, path: str
) -> None:
    response = make_client(app).get(path)
    assert response.status_code == 404
    assert b"SECRET" not in response.content


@pytest.mark.parametrize("path", ["/static/data.bin%00.css", "/static/data.bin%0a"])
def test_a_control_character_in_the_path_is_refused_before_the_folder(
    app: Flasgo, make_client: ClientFactory, refusal: RefusalCheck, path: str
) -> None:
    response = make_client(app).get(path)
    assert refusal(response) == (400, "path-control-character")
    assert b"SECRET" not in response.content


def test_a_symlink_inside_the_folder_is_served(app: Flasgo, make_client: ClientFactory) -> None:
    assert make_client(app).get("/static/inside.css").content == CSS


# -- conditional requests ------------------------------------------------------------------------


def test_if_none_match_gives_304(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    first = client.get("/static/css/site.css")
    etag = first.headers["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get("/static/css/site.css", headers={"if-none-match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == "public, no-cache"
        assert "content-type" not in response.headers
    other = client.get("/static/css/site.css", headers={"if-none-match": '"other"'})
    assert other.status_code == 200


def test_if_modified_since(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    modified = client.get("/static/css/site.css").headers["last-modified"]
    assert (
        client.get("/static/css/site.css", headers={"if-modified-since": modified}).status_code
        == 304
    )
    old = "Mon, 01 Jan 1990 00:00:00 GMT"
    assert client.get("/static/css/site.css", headers={"if-modified-since": old}).status_code == 200
    # If-None-Match wins: a stale tag means 200 whatever the date says.
    both = client.get(
        "/static/css/site.css", headers={"if-modified-since": modified, "if-none-match": '"x"'}
    )
    assert both.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"if-modified-since": "yesterday"},
        {"if-modified-since": "Mon, 99 Foo 2020 99:99:99 GMT"},
        {"if-modified-since": "Mon, 01 Jan 2099 00:00:00"},  # no zone
        {"if-modified-since": "x" * 500},
        {"if-none-match": ""},
        {"if-none-match": ","},
        {"if-range": "garbage", "range": "bytes=0-1"},
        {"range": "bytes=abc"},
        {"range": "bytes=5-1"},
        {"range": "bytes=-"},
        {"range": "items=0-1"},
        {"range": "bytes="},
        {"range": "bytes=0-1-2"},
        {"range": "bytes=99999999999999999999999-"},
        {"range": "bytes=+1-2"},
    ],
)
def test_malformed_conditional_headers_are_ignored(
    app: Flasgo, make_client: ClientFactory, headers: dict[str, str]
) -> None:
    response = make_client(app).get("/static/data.bin", headers=headers)
    assert response.status_code == 200
    assert response.content == DATA


# -- ranges --------------------------------------------------------------------------------------


def test_a_single_range(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.get("/static/data.bin", headers={"range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == DATA[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{len(DATA)}"
    assert response.headers["content-length"] == "10"
    suffix = client.get("/static/data.bin", headers={"range": "bytes=-5"})
    assert suffix.content == DATA[-5:]
    open_ended = client.get("/static/data.bin", headers={"range": "bytes=5100-"})
    assert open_ended.content == DATA[5100:]
    past_end = client.get("/static/data.bin", headers={"range": "bytes=5100-99999"})
    assert past_end.headers["content-range"] == f"bytes 5100-5119/{len(DATA)}"


def test_several_ranges_are_multipart(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/static/data.bin", headers={"range": "bytes=0-3, 100-103"})
    assert response.status_code == 206
    content_type = response.headers["content-type"]
    boundary = content_type.split("boundary=")[1]
    assert content_type.startswith("multipart/byteranges; ")
    assert int(response.headers["content-length"]) == len(response.content)
    parts = response.content.split(f"--{boundary}".encode())
    assert parts[0] == b""
    assert parts[-1] == b"--\r\n"
    bodies = [part.split(b"\r\n\r\n", 1) for part in parts[1:-1]]
    assert [head.count(b"content-range: bytes ") for head, _ in bodies] == [1, 1]
    assert [body for _, body in bodies] == [DATA[0:4] + b"\r\n", DATA[100:104] + b"\r\n"]


@pytest.mark.parametrize(
    "value",
    [
        "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(MAX_RANGES + 1)),
        "bytes=" + ",".join("0-" for _ in range(1000)),
        "bytes=0-100,50-150",
        "bytes=0-,0-,0-",
    ],
)
def test_too_many_or_overlapping_ranges_send_the_file_once(
    app: Flasgo, make_client: ClientFactory, value: str
) -> None:
    response = make_client(app).get("/static/data.bin", headers={"range": value})
    assert response.status_code == 200
    assert response.content == DATA


def test_an_unsatisfiable_range_is_416(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.get("/static/data.bin", headers={"range": "bytes=99999-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"
    empty = client.get("/static/empty.txt", headers={"range": "bytes=0-1"})
    assert empty.status_code == 416


def test_if_range(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    first = client.get("/static/data.bin")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    match = client.get("/static/data.bin", headers={"range": "bytes=0-1", "if-range": etag})
    assert match.status_code == 206
    dated = client.get("/static/data.bin", headers={"range": "bytes=0-1", "if-range": modified})
    assert dated.status_code == 206
    for stale in ('"old"', f"W/{etag}", "Mon, 01 Jan 1990 00:00:00 GMT"):
        response = client.get("/static/data.bin", headers={"range": "bytes=0-1", "if-range": stale})
        assert response.status_code == 200, stale
        assert response.content == DATA


def test_parse_ranges_units() -> None:
    assert parse_ranges("bytes=0-0", 1) == [(0, 0)]
    assert parse_ranges("BYTES = 1-2", 10) == [(1, 2)]
    assert parse_ranges("bytes=-0", 10) == []
    assert parse_ranges("bytes=10-", 10) == []
    assert parse_ranges("bytes=0-1,x", 10) is None


# -- precompressed siblings ----------------------------------------------------------------------


@pytest.fixture
def compressed(site: Path) -> Path:
    (site / "css" / "site.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    (site / "css" / "site.css.br").write_bytes(b"brotli-bytes")
    return site


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.9", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("gzip;q=0, br;q=0", None),
        ("gzip;q=2", None),
        ("gzip;q=abc", None),
        ("", None),
    ],
)
def test_precompressed_siblings_follow_accept_encoding(
    app: Flasgo, make_client: ClientFactory, compressed: Path, accept: str, encoding: str | None
) -> None:
    response = make_client(app).get("/static/css/site.css", headers={"accept-encoding": accept})
    assert response.status_code == 200
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers.get("content-encoding") == encoding
    expected = {"br": b"brotli-bytes", "gzip": gzip.compress(CSS, mtime=0), None: CSS}[encoding]
    assert response.content == expected


def test_a_range_request_gets_the_identity_file(
    app: Flasgo, make_client: ClientFactory, compressed: Path
) -> None:
    response = make_client(app).get(
        "/static/css/site.css", headers={"accept-encoding": "br", "range": "bytes=0-3"}
    )
    assert response.status_code == 206
    assert response.content == CSS[:4]
    assert "content-encoding" not in response.headers


def test_precompressed_etags_differ_by_encoding(
    app: Flasgo, make_client: ClientFactory, compressed: Path
) -> None:
    client = make_client(app)
    plain = client.get("/static/css/site.css").headers["etag"]
    brotli = client.get("/static/css/site.css", headers={"accept-encoding": "br"}).headers["etag"]
    assert plain != brotli
    assert brotli.endswith('-br"')


# -- folders from the import name, blueprints, pathsend ------------------------------------------


def test_no_static_route_without_a_folder(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app()
    assert make_client(app).get("/static/x.css").status_code == 404
    assert [route.endpoint for route in app.url_map] == []


def test_blueprint_static_folder(
    make_app: AppFactory, make_client: ClientFactory, site: Path
) -> None:
    admin = Blueprint("admin", static_folder=str(site), static_url_path="/assets")
    app = make_app()
    app.register_blueprint(admin, url_prefix="/admin")
    client = make_client(app)
    assert client.get("/admin/assets/css/site.css").content == CSS
    assert app.url_for("admin.static", filename="data.bin") == "/admin/assets/data.bin"
    assert client.get("/admin/assets/.env").status_code == 404


def test_a_bad_static_url_path_is_refused(make_app: AppFactory, site: Path) -> None:
    with pytest.raises(Exception, match="must start with '/'"):
        make_app().configure_static(site, url_path="static")


def test_the_whole_file_goes_by_pathsend_when_the_server_offers_it(app: Flasgo) -> None:
    scope = http_scope("/static/css/site.css")
    scope["extensions"] = {"http.response.pathsend": {}}
    result = call(app, scope)
    assert result.status == 200
    assert result.messages[1]["type"] == "http.response.pathsend"
    assert len(result.messages) == 2
    assert Path(result.messages[1]["path"]).read_bytes() == CSS
    ranged = call(
        app,
        {
            **http_scope("/static/css/site.css", headers=[(b"range", b"bytes=0-1")]),
            "extensions": {"http.response.pathsend": {}},
        },
    )
    assert ranged.status == 206
    assert ranged.body == CSS[:2]
