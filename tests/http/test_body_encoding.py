"""Bodies read two ways: repeated multipart parameters, UTF-8 filenames (RFC 7578 and
``filename*``), and request content codings the framework does not decode (415)."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import pytest

from flasgo import Body, Flasgo, Form, request

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, ClientFactory

B = "b0undary"


def multipart(disposition: bytes, value: bytes = b"data", *, boundary: str = B) -> bytes:
    head = b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n"
    return head + value + b"\r\n--" + boundary.encode() + b"--\r\n"


class Item(msgspec.Struct):
    name: str


@pytest.fixture(scope="session")
def build(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(CSRF_ENABLED=False, **settings)

        @app.post("/upload")
        async def upload() -> dict[str, Any]:
            files = await request.files()
            form = await request.form()
            return {
                "fields": dict(form),
                "files": {name: [f.raw_filename, f.filename] for name, f in files.items()},
            }

        @app.post("/json")
        async def as_json() -> Any:
            return await request.json()

        @app.post("/bound")
        def bound(item: Annotated[Item, Body()]) -> str:
            return item.name

        @app.post("/form")
        def form(name: Annotated[str, Form()]) -> str:
            return name

        @app.post("/raw")
        async def raw() -> bytes:
            return gzip.decompress(await request.body())

        return app

    return build


def post_multipart(
    make_client: ClientFactory, app: Flasgo, body: bytes, content_type: str
) -> tuple[int, Any]:
    response = make_client(app).post("/upload", body=body, headers={"content-type": content_type})
    return response.status_code, response


@pytest.mark.parametrize(
    ("content_type", "disposition"),
    [
        (f"multipart/form-data; boundary={B}; boundary=other", b'form-data; name="f"'),
        (f"multipart/form-data; boundary={B}; BOUNDARY={B}", b'form-data; name="f"'),
        (
            f"multipart/form-data; boundary={B}",
            b'form-data; name="f"; filename="a.txt"; filename="a.php"',
        ),
        (f"multipart/form-data; boundary={B}", b'form-data; name="f"; name="g"'),
        (
            f"multipart/form-data; boundary={B}",
            b"form-data; name=\"f\"; filename*=UTF-8''a.txt; filename*=UTF-8''a.php",
        ),
    ],
)
def test_a_repeated_multipart_parameter_is_400(
    build: AppBuilder, make_client: ClientFactory, content_type: str, disposition: bytes
) -> None:
    status, response = post_multipart(make_client, build(), multipart(disposition), content_type)
    assert status == 400
    assert "parameter is repeated" in response.text


def test_a_utf8_filename_arrives_as_sent(build: AppBuilder, make_client: ClientFactory) -> None:
    disposition = 'form-data; name="doc"; filename="résumé.pdf"'.encode()
    status, response = post_multipart(
        make_client, build(), multipart(disposition), f"multipart/form-data; boundary={B}"
    )
    assert status == 200
    assert response.json()["files"] == {"doc": ["résumé.pdf", "résumé.pdf"]}


def test_a_utf8_field_name_arrives_as_sent(build: AppBuilder, make_client: ClientFactory) -> None:
    disposition = 'form-data; name="prénom"'.encode()
    status, response = post_multipart(
        make_client,
        build(),
        multipart(disposition, "Zoë".encode()),
        f"multipart/form-data; boundary={B}",
    )
    assert status == 200
    assert response.json()["fields"] == {"prénom": "Zoë"}


def test_a_latin1_filename_from_an_old_client_is_still_read(
    build: AppBuilder, make_client: ClientFactory
) -> None:
    disposition = 'form-data; name="doc"; filename="résumé.pdf"'.encode("latin-1")
    status, response = post_multipart(
        make_client, build(), multipart(disposition), f"multipart/form-data; boundary={B}"
    )
    assert status == 200
    assert response.json()["files"] == {"doc": ["résumé.pdf", "résumé.pdf"]}


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        (b"form-data; name=\"doc\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", "résumé.pdf"),
        (b"form-data; name=\"doc\"; filename*=utf-8'fr'%E2%82%AC.txt", "€.txt"),
        (b"form-data; name=\"doc\"; filename*=ISO-8859-1''caf%E9.txt", "café.txt"),
        (
            (
                b'form-data; name="doc"; filename="fallback.pdf"; '
                b"filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
            ),
            "résumé.pdf",
        ),
    ],
)
def test_the_extended_filename_is_decoded_and_wins(
    build: AppBuilder, make_client: ClientFactory, disposition: bytes, expected: str
) -> None:
    status, response = post_multipart(
        make_client, build(), multipart(disposition), f"multipart/form-data; boundary={B}"
    )
    assert status == 200
    assert response.json()["files"] == {"doc": [expected, expected]}


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (b"UTF-8''%C3", "not valid utf-8"),
        (b"UTF-16''%00a", "not a valid RFC 8187 value"),
        (b"r%C3%A9sum%C3%A9.pdf", "not a valid RFC 8187 value"),
        (b"UTF-8''a b.pdf", "not a valid RFC 8187 value"),
        (b"UTF-8''a%ZZ.pdf", "not a valid RFC 8187 value"),
    ],
)
def test_a_bad_extended_filename_is_400(
    build: AppBuilder, make_client: ClientFactory, parameter: bytes, message: str
) -> None:
    disposition = b'form-data; name="doc"; filename*=' + parameter
    status, response = post_multipart(
        make_client, build(), multipart(disposition), f"multipart/form-data; boundary={B}"
    )
    assert status == 400
    assert message in response.text


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/json", "application/json", b'{"name": "x"}'),
        ("/bound", "application/json", b'{"name": "x"}'),
        ("/form", "application/x-www-form-urlencoded", b"name=x"),
        ("/upload", f"multipart/form-data; boundary={B}", multipart(b'form-data; name="f"')),
    ],
)
@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "GZIP", "gzip, identity"])
def test_a_content_coded_body_is_415_where_it_would_be_parsed(
    build: AppBuilder,
    make_client: ClientFactory,
    path: str,
    content_type: str,
    body: bytes,
    coding: str,
) -> None:
    response = make_client(build()).post(
        path,
        body=gzip.compress(body),
        headers={"content-type": content_type, "content-encoding": coding},
    )
    assert response.status_code == 415
    assert response.headers["accept-encoding"] == "identity"
    assert "Content-Encoding" in response.text


@pytest.mark.parametrize("coding", ["identity", "Identity", ""])
def test_the_identity_coding_is_parsed(
    build: AppBuilder, make_client: ClientFactory, coding: str
) -> None:
    response = make_client(build()).post(
        "/bound",
        body=b'{"name": "x"}',
        headers={
            "content-type": "application/json",
            "content-encoding": coding,
        },
    )
    assert response.status_code == 200
    assert response.text == "x"


def test_the_raw_body_is_left_to_an_app_that_decodes_it(
    build: AppBuilder, make_client: ClientFactory
) -> None:
    response = make_client(build()).post(
        "/raw",
        body=gzip.compress(b"hello"),
        headers={"content-type": "application/octet-stream", "content-encoding": "gzip"},
    )
    assert response.status_code == 200
    assert response.content == b"hello"
