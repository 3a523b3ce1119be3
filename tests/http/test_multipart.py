"""multipart/form-data: fields and files, File() binding, limits, hostile bodies, CSRF."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flasgo import File, Flasgo, Form, request
from flasgo.testing import TestClient
from flasgo.uploads import SPOOL_MAX_BYTES, UploadedFile, display_filename
from tests.asgi import Result, acall, call, http_scope
from tests.linear import LIMIT, linear_ratio

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory

B = "b0undary"
CT = {"Content-Type": f"multipart/form-data; boundary={B}"}
seen: list[UploadedFile] = []


def field(name: str, value: bytes) -> bytes:
    head = f'--{B}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
    return head.encode() + value + b"\r\n"


def upload(name: str, filename: str, value: bytes) -> bytes:
    head = f'--{B}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'
    return head.encode() + value + b"\r\n"


END = f"--{B}--\r\n".encode()


def call_raw(app: Flasgo, path: str, chunks: list[bytes]) -> Result:
    """POST `chunks` as separate ASGI messages; the response."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]
    headers = [(b"content-type", CT["Content-Type"].encode())]
    return call(app, http_scope(path, "POST", headers=headers), messages)


def raw(app: Flasgo, path: str, chunks: list[bytes]) -> int:
    """POST `chunks` as separate ASGI messages; the response status."""
    return call_raw(app, path, chunks).status


@pytest.fixture(scope="session")
def upload_app(make_app: AppFactory) -> AppBuilder:
    def build(**settings_: Any) -> Flasgo:
        app = make_app(**{"CSRF_ENABLED": False, **settings_})

        @app.post("/form")
        async def form() -> dict[str, Any]:
            fields = await request.form()
            files = await request.files()
            seen.extend(f for name in files for f in files.getlist(name))
            return {
                "fields": fields.to_dict(flat=False),
                "files": {
                    name: [[f.filename, f.content_type, f.size, (await f.read()).decode()]]
                    for name in files
                    for f in files.getlist(name)
                },
            }

        @app.post("/bound")
        async def bound(
            doc: Annotated[UploadedFile, File()],
            title: Annotated[str, Form()] = "",
            extra: Annotated[list[UploadedFile], File(alias="more")] = [],  # noqa: B006
        ) -> dict[str, Any]:
            return {"doc": doc.filename, "title": title, "more": [f.filename for f in extra]}

        @app.post("/plain")
        async def plain(
            doc: UploadedFile, note: Annotated[UploadedFile | None, File()]
        ) -> dict[str, int]:
            return {"size": doc.size + (note.size if note is not None else 0)}

        return app

    return build


@pytest.fixture
def client(upload_app: AppBuilder) -> TestClient:
    return upload_app().test_client()


def test_fields_and_files(client: TestClient) -> None:
    response = client.post(
        "/form",
        data={"a": "1", "b": ["x", "y"]},
        files={"f": ("name.txt", b"data", "text/plain"), "g": ("g.bin", b"\x00\x01")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["fields"] == {"a": ["1"], "b": ["x", "y"]}
    files = response.json()["files"]
    assert files["f"] == [["name.txt", "text/plain", 4, "data"]]
    assert files["g"][0][:3] == ["g.bin", "application/octet-stream", 2]


def test_files_are_closed_after_the_response(client: TestClient) -> None:
    seen.clear()
    client.post("/form", files={"f": ("a.txt", b"x")})
    assert seen
    assert all(f.file.closed for f in seen)


def test_files_empty_for_other_bodies() -> None:
    app = Flasgo(settings={"CSRF_ENABLED": False})

    @app.post("/")
    async def index() -> dict[str, int]:
        await request.form()
        return {"n": len(await request.files())}

    assert app.test_client().post("/", data={"a": "1"}).json() == {"n": 0}


def test_file_binding(client: TestClient) -> None:
    files = {"doc": ("d.txt", b"doc", "text/plain")}
    ok = client.post("/bound", data={"title": "T"}, files=files)
    assert ok.json() == {"doc": "d.txt", "title": "T", "more": []}
    missing = client.post("/bound", data={"title": "T"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["location"] == ["body", "doc"]
    assert client.post("/bound").status_code == 422
    body = upload("doc", "d", b"1") + upload("more", "m1", b"") + upload("more", "m2", b"") + END
    many = client.post("/bound", body=body, headers=CT)
    assert many.json() == {"doc": "d", "title": "", "more": ["m1", "m2"]}
    assert client.post("/plain", files={"doc": ("a", b"abc")}).json() == {"size": 3}


def test_file_marker_needs_an_upload_type() -> None:
    app = Flasgo()
    with pytest.raises(ValueError, match="UploadedFile"):

        @app.post("/")
        def bad(upload: Annotated[bytes, File()]) -> None:
            return None


def test_big_upload_spills_to_disk_and_saves(tmp_path: Path) -> None:
    app = Flasgo(settings={"CSRF_ENABLED": False, "MAX_REQUEST_BODY_BYTES": 8 * SPOOL_MAX_BYTES})
    target = tmp_path / "out.bin"

    @app.post("/")
    async def index(doc: UploadedFile) -> dict[str, bool]:
        await doc.save(target)
        return {"in_memory": doc.in_memory}

    data = bytes(range(256)) * (3 * SPOOL_MAX_BYTES // 256)
    response = app.test_client().post("/", files={"doc": ("big", data)})
    assert response.json() == {"in_memory": False}
    assert target.read_bytes() == data


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\..\\.env", "env"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ("...", "upload"),
        ("", "upload"),
        ("/", "upload"),
        ("ok name.txt", "ok name.txt"),
        ("x" * 300, "x" * 255),
    ],
)
def test_hostile_filenames(raw: str, shown: str) -> None:
    assert display_filename(raw) == shown


def test_hostile_filename_through_a_request(client: TestClient) -> None:
    body = upload("f", "../../etc/cron.d/x", b"1") + END
    assert client.post("/form", body=body, headers=CT).json()["files"]["f"][0][0] == "x"


def test_part_limit_at_the_boundary(upload_app: AppBuilder) -> None:
    client = upload_app(MAX_MULTIPART_PARTS=3).test_client()
    three = field("a", b"1") + field("b", b"2") + upload("f", "f", b"3") + END
    assert client.post("/form", body=three, headers=CT).status_code == 200
    four = field("a", b"1") + field("b", b"2") + upload("f", "f", b"3") + field("c", b"") + END
    refused = client.post("/form", body=four, headers=CT)
    assert (refused.status_code, refused.text) == (413, "More than MAX_MULTIPART_PARTS (3) parts.")


def test_field_limit_at_the_boundary(upload_app: AppBuilder) -> None:
    client = upload_app(MAX_FORM_FIELDS=2).test_client()
    two = field("a", b"1") + field("a", b"2") + upload("f", "f", b"") + END
    assert client.post("/form", body=two, headers=CT).status_code == 200
    three = field("a", b"1") + field("a", b"2") + field("a", b"3") + END
    refused = client.post("/form", body=three, headers=CT)
    assert (refused.status_code, refused.text) == (413, "More than MAX_FORM_FIELDS (2) fields.")


def test_file_limit_at_the_boundary(upload_app: AppBuilder) -> None:
    client = upload_app(MAX_FILE_UPLOADS=2).test_client()
    two = upload("f", "1", b"") + upload("f", "2", b"") + field("a", b"") + END
    assert client.post("/form", body=two, headers=CT).status_code == 200
    three = upload("f", "1", b"") + upload("f", "2", b"") + upload("f", "3", b"") + END
    refused = client.post("/form", body=three, headers=CT)
    assert (refused.status_code, refused.text) == (413, "More than MAX_FILE_UPLOADS (2) files.")


def test_field_memory_limit_counts_across_chunks(upload_app: AppBuilder) -> None:
    app = upload_app(MAX_FORM_MEMORY_BYTES=100)
    at_limit = field("a", b"x" * 100) + END
    assert app.test_client().post("/form", body=at_limit, headers=CT).status_code == 200
    over = field("a", b"x" * 101) + END
    # SECURITY: one byte per ASGI message, so no single chunk is over the cap.
    chunks = [over[i : i + 1] for i in range(len(over))]
    refused = call_raw(app, "/form", chunks)
    assert (refused.status, refused.body) == (
        413,
        b"A form field exceeds MAX_FORM_MEMORY_BYTES (100 bytes).",
    )
    # Files are not held in memory, so the same size is fine for a file.
    assert app.test_client().post("/form", files={"f": ("f", b"x" * 1000)}).status_code == 200


def test_total_body_limit(upload_app: AppBuilder) -> None:
    client = upload_app(MAX_REQUEST_BODY_BYTES=1000).test_client()
    refused = client.post("/form", files={"f": ("f", b"x" * 2000)})
    assert refused.status_code == 413
    assert refused.text == "Request body exceeds MAX_REQUEST_BODY_BYTES (1000 bytes)."


BAD_BOUNDARY = "multipart/form-data needs a valid boundary parameter (1-70 chars)."


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        ("multipart/form-data", BAD_BOUNDARY),
        ("multipart/form-data; boundary=", BAD_BOUNDARY),
        ("multipart/form-data; boundary=" + "a" * 71, BAD_BOUNDARY),
        ("multipart/form-data; boundary=a\x01b", BAD_BOUNDARY),
        ('multipart/form-data; boundary="ends in space "', BAD_BOUNDARY),
        # the Content-Type value itself is refused before its parameters are read
        ("multipart/form-data; boundary=x; a=" + "\\" * 10_000, "Header value too long."),
    ],
)
def test_bad_boundary_is_400(client: TestClient, content_type: str, detail: str) -> None:
    response = client.post("/form", body=b"--x--\r\n", headers={"Content-Type": content_type})
    assert (response.status_code, response.text) == (400, detail)


MALFORMED = "Malformed multipart/form-data body."
ENDED_EARLY = "The multipart/form-data body ended early."
NOT_FORM_DATA = "A multipart part is not a named form-data part."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", ENDED_EARLY),
        (b"garbage", MALFORMED),
        (f"--{B}\r\nContent-Disposition: form-data; name=a\r\n\r\nno end".encode(), ENDED_EARLY),
        (
            f"--{B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{B}--\r\n".encode(),
            "A multipart part has no Content-Disposition header.",
        ),
        (
            f"--{B}\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--{B}--\r\n".encode(),
            NOT_FORM_DATA,
        ),
        (
            f"--{B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{B}--\r\n".encode(),
            NOT_FORM_DATA,
        ),
        (f"--{B}\r\nno colon here\r\n\r\nx\r\n--{B}--\r\n".encode(), MALFORMED),
        (field("a", b"\xff\xfe") + END, "A form field is not valid UTF-8."),
    ],
)
def test_malformed_bodies_are_400(client: TestClient, body: bytes, detail: str) -> None:
    response = client.post("/form", body=body, headers=CT)
    assert (response.status_code, response.text) == (400, detail)


def test_part_header_limits(client: TestClient) -> None:
    def with_headers(lines: list[str]) -> bytes:
        head = f"--{B}\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n"
        return head.encode() + b"x\r\n" + END

    disposition = "Content-Disposition: form-data; name=a"
    sixteen = [disposition] + [f"X-{i}: y" for i in range(15)]
    assert client.post("/form", body=with_headers(sixteen), headers=CT).status_code == 200
    seventeen = [*sixteen, "X-last: y"]
    long_line = [disposition, "X-Long: " + "v" * 9000]
    for lines in (seventeen, long_line):
        refused = client.post("/form", body=with_headers(lines), headers=CT)
        assert (refused.status_code, refused.text) == (400, MALFORMED)


def test_epilogue_is_ignored(client: TestClient) -> None:
    body = field("a", b"1") + END + b"\r\n" * 1000 + b"junk"
    assert client.post("/form", body=body, headers=CT).json()["fields"] == {"a": ["1"]}


def test_empty_parts_flood_is_413(client: TestClient) -> None:
    body = (f"--{B}\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n" * 1001).encode() + END
    refused = client.post("/form", body=body, headers=CT)
    assert (refused.status_code, refused.text) == (
        413,
        "More than MAX_MULTIPART_PARTS (1000) parts.",
    )
    empty_files = upload("f", "", b"") * 101 + END
    refused = client.post("/form", body=empty_files, headers=CT)
    assert (refused.status_code, refused.text) == (413, "More than MAX_FILE_UPLOADS (100) files.")


def test_crlf_preamble_is_linear(upload_app: AppBuilder) -> None:
    app = upload_app(MAX_REQUEST_BODY_BYTES=16 * 1024 * 1024)
    tail = field("a", b"1") + END

    def run(size: int) -> None:
        assert raw(app, "/form", [b"\r\n" * size + tail]) == 200

    assert linear_ratio(lambda: run(200_000), lambda: run(400_000)) <= LIMIT


def test_crlf_dense_part_is_linear(upload_app: AppBuilder) -> None:
    app = upload_app(MAX_REQUEST_BODY_BYTES=16 * 1024 * 1024)

    def run(size: int) -> None:
        assert raw(app, "/form", [upload("f", "f", b"\r\n-" * size) + END]) == 200

    assert linear_ratio(lambda: run(100_000), lambda: run(200_000)) <= LIMIT


def test_csrf_token_in_a_multipart_form(security_events: list[str]) -> None:
    app = Flasgo(settings={"SECRET_KEY": "k" * 32})

    @app.post("/submit")
    async def submit(doc: UploadedFile) -> str:
        return doc.filename

    client = TestClient(app)
    token = client.csrf_token()
    origin = {"origin": "http://localhost"}
    files = {"doc": ("a.txt", b"1")}
    ok = client.post("/submit", data={"csrf_token": token}, files=files, headers=origin)
    assert ok.status_code == 200, ok.text
    assert ok.text == "a.txt"
    refused = client.post("/submit", data={"csrf_token": "nope"}, files=files, headers=origin)
    assert refused.status_code == 403
    missing = client.post("/submit", files=files, headers=origin)
    assert missing.status_code == 403
    assert security_events == ["csrf-check-failed", "csrf-check-failed"]


# The reasons a multipart body that does not parse is refused with (all 400).
PARSE_ERRORS = {
    "Malformed multipart/form-data body.",
    "The multipart/form-data body ended early.",
    "A multipart part has no Content-Disposition header.",
    "A multipart part is not a named form-data part.",
    "A form field is not valid UTF-8.",
}
TOKENS = [
    f"--{B}\r\n".encode(),
    b"\r\n",
    b"Content-Disposition: form-data; name=a",
    b'; filename="x"',
    b"Content-Type: text/plain",
    b"\xff",
    b"data",
    b":",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.lists(st.sampled_from(TOKENS), max_size=30).map(b"".join),
    )
)
def test_a_body_without_its_closing_delimiter_is_a_400(upload_app: AppBuilder, body: bytes) -> None:
    # NOTE: without "--boundary--" no body is complete, so a parse refusal is the one outcome;
    # the limits are far above what 300 bytes can reach.
    assume(f"--{B}--".encode() not in body)
    app = upload_app()
    for path, chunks in (("/form", [body]), ("/bound", [body[:150], body[150:]])):
        result = call_raw(app, path, chunks)
        assert result.status == 400, (path, body, result.body)
        assert result.body.decode() in PARSE_ERRORS


names = st.text(alphabet="abcdefghij0123456789_-", min_size=1, max_size=8)
values = st.text(st.characters(exclude_categories=["Cs"]), max_size=30).filter(
    lambda value: B not in value
)


@settings(max_examples=100, deadline=None)
@given(fields=st.lists(st.tuples(names, values), max_size=8), chunk=st.integers(1, 64))
def test_any_fields_round_trip_in_any_chunking(
    upload_app: AppBuilder, fields: list[tuple[str, str]], chunk: int
) -> None:
    body = b"".join(field(name, value.encode()) for name, value in fields) + END
    result = call_raw(
        upload_app(), "/form", [body[i : i + chunk] for i in range(0, len(body), chunk)]
    )
    assert result.status == 200, result.body
    expected: dict[str, list[str]] = {}
    for name, value in fields:
        expected.setdefault(name, []).append(value)
    assert json.loads(result.body)["fields"] == expected


def test_loop_is_free_during_a_spill(upload_app: AppBuilder) -> None:
    # The rollover write runs in the thread pool: the loop keeps serving other tasks.
    app = upload_app(MAX_REQUEST_BODY_BYTES=8 * SPOOL_MAX_BYTES)
    body = upload("f", "big", b"x" * (2 * SPOOL_MAX_BYTES)) + END
    headers = [(b"content-type", CT["Content-Type"].encode())]

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        message = {"type": "http.request", "body": body, "more_body": False}
        result = await acall(app, http_scope("/form", "POST", headers=headers), [message])
        task.cancel()
        assert result.status == 200
        return ticks

    assert asyncio.run(main()) > 0


def test_reading_the_raw_body_after_a_multipart_form_is_a_clean_400() -> None:
    from flasgo import Flasgo, request

    app = Flasgo({"CSRF_ENABLED": False})

    @app.post("/both")
    async def both() -> dict[str, int]:
        form = await request.form()
        return {"fields": len(form), "body": len(await request.body())}

    response = app.test_client().post("/both", data={"a": "1"}, files={"f": ("x.txt", b"x")})
    assert response.status_code == 400
    assert "already read as a form" in response.text


@dataclasses.dataclass
class Post:
    title: str
    attachments: list[UploadedFile] | None = None
    cover: UploadedFile | None = None


def test_a_form_model_receives_its_optional_upload_fields(make_app: AppFactory) -> None:
    app = make_app(CSRF_ENABLED=False)

    @app.post("/posts")
    def create(post: Annotated[Post, Form()]) -> dict[str, Any]:
        names = None if post.attachments is None else [f.filename for f in post.attachments]
        return {"attachments": names, "cover": post.cover.filename if post.cover else None}

    client = app.test_client()
    body = (
        field("title", b"t")
        + upload("attachments", "a.txt", b"1")
        + upload("attachments", "b.txt", b"2")
        + upload("cover", "c.png", b"3")
        + END
    )
    assert client.post("/posts", body=body, headers=CT).json() == {
        "attachments": ["a.txt", "b.txt"],
        "cover": "c.png",
    }
    without = client.post("/posts", body=field("title", b"t") + END, headers=CT)
    assert without.json() == {"attachments": None, "cover": None}
