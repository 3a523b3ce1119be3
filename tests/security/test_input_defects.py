"""Input a client crafts to be read two ways: control characters in the path, backslash
traversal through ``<path:>``, two ``Authorization`` headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from flasgo import Flasgo, request

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, ClientFactory


@pytest.fixture(scope="session")
def build(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        app = make_app(**settings)

        @app.get("/users/<name>")
        def user(name: str) -> str:
            return name

        @app.get("/files/<path:name>")
        def file(name: str) -> str:
            return name

        @app.get("/whoami")
        def whoami() -> str:
            return request.headers.get("authorization") or "anonymous"

        return app

    return build


@pytest.mark.parametrize(
    "path",
    ["/users/a%00b", "/users/a%0Ab", "/users/%0D", "/users/%1F", "/users/x%7F", "/files/a/%09/b"],
)
def test_a_control_character_in_the_path_is_400(
    build: AppBuilder, make_client: ClientFactory, security_events: list[str], path: str
) -> None:
    response = make_client(build()).get(path)
    assert response.status_code == 400
    assert response.text == "The request path contains a control character."
    assert security_events == ["path-control-character"]


@pytest.mark.parametrize("path", ["/users/caf%C3%A9", "/users/a%20b", "/users/%C2%A0"])
def test_printable_and_other_unicode_text_passes(
    build: AppBuilder, make_client: ClientFactory, path: str
) -> None:
    response = make_client(build()).get(path)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%5C..%5Csecret",
        "/files/a%5C..%5Csecret",
        "/files/a/..%5Csecret",
        "/files/.%5Csecret",
        "/files/a%5C..",
    ],
)
def test_path_placeholder_refuses_backslash_traversal(
    build: AppBuilder, make_client: ClientFactory, path: str
) -> None:
    response = make_client(build()).get(path)
    assert response.status_code == 404


def test_path_placeholder_keeps_backslashes_that_do_not_traverse(
    build: AppBuilder, make_client: ClientFactory
) -> None:
    response = make_client(build()).get("/files/a%5Cb/..c")
    assert response.status_code == 200
    assert response.text == "a\\b/..c"


def test_two_authorization_headers_are_400(
    build: AppBuilder, make_client: ClientFactory, security_events: list[str]
) -> None:
    headers = [("authorization", "Bearer a"), ("authorization", "Bearer b")]
    response = make_client(build()).get("/whoami", headers=headers)
    assert response.status_code == 400
    assert response.text == "Send one Authorization header, not several."
    assert security_events == ["authorization-header-repeated"]


def test_one_authorization_header_passes(build: AppBuilder, make_client: ClientFactory) -> None:
    response = make_client(build()).get("/whoami", headers={"authorization": "Bearer a"})
    assert response.status_code == 200
    assert response.text == "Bearer a"


def test_two_authorization_headers_are_refused_without_the_host_check(
    build: AppBuilder, make_client: ClientFactory, security_events: list[str]
) -> None:
    app = build(ENFORCE_ALLOWED_HOSTS=False)
    headers = [("authorization", "Basic a"), ("Authorization", "Basic b")]
    response = make_client(app).get("/whoami", headers=headers)
    assert response.status_code == 400
    assert security_events == ["authorization-header-repeated"]
