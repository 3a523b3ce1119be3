"""`send_file` and `send_from_directory`: Flask's semantics, private caching by default."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flasgo import Flasgo, send_file, send_from_directory
from tests.conftest import AppFactory, ClientFactory

REPORT = b"%PDF-1.4 report\n" * 100


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(REPORT)
    (folder / ".secret").write_bytes(b"SECRET")
    (tmp_path / "outside.txt").write_bytes(b"SECRET")
    return folder


@pytest.fixture
def app(make_app: AppFactory, files: Path) -> Flasgo:
    app = make_app()

    @app.get("/report")
    def report() -> object:
        return send_file(files / "report.pdf")

    @app.get("/download")
    def download() -> object:
        return send_file(files / "report.pdf", as_attachment=True, download_name="Bericht Ü.pdf")

    @app.get("/cached")
    def cached() -> object:
        return send_file(str(files / "report.pdf"), max_age=120, mimetype="application/x-report")

    @app.get("/plain")
    def plain() -> object:
        return send_file(files / "report.pdf", conditional=False, etag=False, last_modified=86400)

    @app.get("/tagged")
    async def tagged() -> object:
        return send_file(
            files / "report.pdf", etag="v7", last_modified=datetime(2020, 1, 2, tzinfo=UTC)
        )

    @app.get("/memory")
    def memory() -> object:
        return send_file(io.BytesIO(b"a,b\n"), download_name="data.csv", as_attachment=True)

    @app.get("/no-name")
    def no_name() -> object:
        return send_file(io.BytesIO(b"x"))

    @app.get("/missing")
    def missing() -> object:
        return send_file(files / "nope.pdf")

    @app.get("/folder")
    def folder() -> object:
        return send_file(files)

    @app.get("/files/<path:name>")
    def from_directory(name: str) -> object:
        return send_from_directory(files, name)

    return app


def test_send_file_is_private_and_revalidated_by_default(
    app: Flasgo, make_client: ClientFactory
) -> None:
    response = make_client(app).get("/report")
    assert response.status_code == 200
    assert response.content == REPORT
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "private, no-cache"
    assert "content-disposition" not in response.headers
    assert "etag" in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_conditional_and_range(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    etag = client.get("/report").headers["etag"]
    assert client.get("/report", headers={"if-none-match": etag}).status_code == 304
    part = client.get("/report", headers={"range": "bytes=0-3"})
    assert part.status_code == 206
    assert part.content == REPORT[:4]


def test_attachment_with_a_unicode_name(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/download")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Bericht .pdf\"; filename*=UTF-8''Bericht%20%C3%9C.pdf"
    )


def test_max_age_makes_it_public(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/cached")
    assert response.headers["cache-control"] == "public, max-age=120"
    assert response.headers["content-type"] == "application/x-report"


def test_no_conditional_no_etag(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.get("/plain", headers={"range": "bytes=0-1", "if-none-match": "*"})
    assert response.status_code == 200
    assert response.content == REPORT
    assert "etag" not in response.headers
    assert response.headers["last-modified"] == "Fri, 02 Jan 1970 00:00:00 GMT"


def test_a_given_etag_and_date(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    response = client.get("/tagged")
    assert response.headers["etag"] == '"v7"'
    assert response.headers["last-modified"] == "Thu, 02 Jan 2020 00:00:00 GMT"
    assert client.get("/tagged", headers={"if-none-match": '"v7"'}).status_code == 304


def test_a_file_object(app: Flasgo, make_client: ClientFactory) -> None:
    response = make_client(app).get("/memory")
    assert response.content == b"a,b\n"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="data.csv"'


def test_a_file_object_needs_a_type() -> None:
    with pytest.raises(TypeError, match="mimetype= or download_name="):
        send_file(io.BytesIO(b"x"))


@pytest.mark.parametrize("path", ["/missing", "/folder"])
def test_no_regular_file_is_404(app: Flasgo, make_client: ClientFactory, path: str) -> None:
    assert make_client(app).get(path).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        ".secret",
        "..%2foutside.txt",
        "%2e%2e/outside.txt",
        "sub/../../outside.txt",
        "..%5coutside.txt",
        "C:%5coutside.txt",
        "nope.pdf",
    ],
)
def test_send_from_directory_stays_inside(
    app: Flasgo, make_client: ClientFactory, name: str
) -> None:
    response = make_client(app).get(f"/files/{name}")
    assert response.status_code == 404
    assert b"SECRET" not in response.content


def test_send_from_directory_serves_inside(app: Flasgo, make_client: ClientFactory) -> None:
    assert make_client(app).get("/files/report.pdf").content == REPORT
