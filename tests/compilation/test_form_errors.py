"""FormValidationError: a form body that fails is a 422 whose handler sees the form."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

from flasgo import Form, FormValidationError, RequestValidationError

if TYPE_CHECKING:
    from flasgo import Flasgo
    from tests.conftest import AppFactory


@dataclasses.dataclass
class Signup:
    name: str
    age: int
    tags: list[int]


EXPECTED_ERRORS = [
    ["body", "age"],
    ["body", "tags", 1],
]


def build(make_app: AppFactory) -> Flasgo:
    app = make_app(CSRF_ENABLED=False)

    @app.post("/signup")
    def signup(form: Annotated[Signup, Form()]) -> dict[str, Any]:
        return dataclasses.asdict(form)

    @app.post("/fields")
    def fields(name: Annotated[str, Form()], age: Annotated[int, Form()]) -> str:
        return name

    return app


BAD: dict[str, str | list[str]] = {"name": "ann", "age": "old", "tags": ["1", "x"]}


def test_default_response_is_the_request_validation_422(make_app: AppFactory) -> None:
    response = build(make_app).test_client().post("/signup", data=BAD)
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error", "detail", "errors"}
    assert body["error"] == "validation_error"
    assert body["detail"] == "Request validation failed."
    assert [error["location"] for error in body["errors"]] == EXPECTED_ERRORS


def test_handler_receives_form_data_and_errors_by_field(make_app: AppFactory) -> None:
    app = build(make_app)
    caught: list[FormValidationError] = []

    @app.errorhandler(FormValidationError)
    def invalid_form(exc: FormValidationError) -> tuple[dict[str, Any], int]:
        caught.append(exc)
        return {"name": exc.form_data.get("name"), "fields": exc.field_errors}, 400

    response = app.test_client().post("/signup", data=BAD)
    assert response.status_code == 400
    assert response.json()["name"] == "ann"
    assert sorted(response.json()["fields"]) == ["age", "tags"]
    (exc,) = caught
    assert isinstance(exc, RequestValidationError)
    assert exc.status_code == 422
    assert exc.form_data.getlist("tags") == ["1", "x"]
    assert [error["location"] for error in exc.errors] == EXPECTED_ERRORS
    assert all(
        isinstance(message, str) for messages in exc.field_errors.values() for message in messages
    )


def test_form_fields_and_a_missing_body_raise_it_too(make_app: AppFactory) -> None:
    app = build(make_app)
    caught: list[FormValidationError] = []

    @app.errorhandler(FormValidationError)
    def invalid_form(exc: FormValidationError) -> tuple[str, int]:
        caught.append(exc)
        return "no", 400

    client = app.test_client()
    assert client.post("/fields", data={"age": "x"}).status_code == 400
    assert sorted(caught[0].field_errors) == ["age", "name"]
    assert client.post("/signup").status_code == 400
    assert caught[1].field_errors == {"": ["A request body is required."]}
    assert len(caught[1].form_data) == 0
