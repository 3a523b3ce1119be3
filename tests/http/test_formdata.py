"""FormData: what `request.form()` returns, text fields plus the form's files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flasgo import FormData, MultiDict, request

if TYPE_CHECKING:
    from tests.conftest import AppFactory

B = "b0undary"
CT = {"Content-Type": f"multipart/form-data; boundary={B}"}


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{B}\r\nContent-Disposition: {disposition}\r\n\r\n"
    return head.encode() + value + b"\r\n"


async def describe_form(form: FormData) -> dict[str, Any]:
    first = form.file("doc")
    return {
        "is_multidict": isinstance(form, MultiDict),
        "fields": dict(form),
        "tags": form.getlist("tag"),
        "first": None if first is None else [first.filename, (await first.read()).decode()],
        "all": [upload.filename for upload in form.filelist("doc")],
        "names": list(form.files),
        "missing": [form.file("nope"), form.filelist("nope")],
    }


def test_multipart_form_carries_its_files(make_app: AppFactory) -> None:
    app = make_app(CSRF_ENABLED=False)

    @app.post("/form")
    async def read() -> dict[str, Any]:
        form = await request.form()
        assert form.files is await request.files()
        return await describe_form(form)

    body = (
        part("title", b"hello")
        + part("tag", b"a")
        + part("tag", b"b")
        + part("doc", b"one", "a.txt")
        + part("doc", b"two", "b.txt")
        + f"--{B}--\r\n".encode()
    )
    response = app.test_client().post("/form", body=body, headers=CT)
    assert response.status_code == 200
    assert response.json() == {
        "is_multidict": True,
        "fields": {"title": "hello", "tag": "a"},
        "tags": ["a", "b"],
        "first": ["a.txt", "one"],
        "all": ["a.txt", "b.txt"],
        "names": ["doc"],
        "missing": [None, []],
    }


def test_urlencoded_form_has_no_files(make_app: AppFactory) -> None:
    app = make_app(CSRF_ENABLED=False)

    @app.post("/form")
    async def read() -> dict[str, Any]:
        return await describe_form(await request.form())

    response = app.test_client().post("/form", data={"title": "hi", "tag": ["x", "y"]})
    assert response.status_code == 200
    assert response.json() == {
        "is_multidict": True,
        "fields": {"title": "hi", "tag": "x"},
        "tags": ["x", "y"],
        "first": None,
        "all": [],
        "names": [],
        "missing": [None, []],
    }


def test_formdata_built_by_hand_is_a_multidict() -> None:
    form = FormData([("a", "1"), ("a", "2")])
    assert form["a"] == "1"
    assert form.getlist("a") == ["1", "2"]
    assert len(form.files) == 0
    assert form.file("a") is None
