"""Safe redirects: `is_safe_redirect_target` and `redirect_to_next` against open-redirect forms."""

from __future__ import annotations

import pytest

from flasgo import Flasgo, is_safe_redirect_target, redirect_to_next
from tests.conftest import AppFactory, ClientFactory

# Each of these would take a browser to another site (or run script) if sent as Location.
UNSAFE = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "http:evil.example",
    "https:/evil.example",
    "https://evil.example",
    "http://evil.example/login",
    "HTTPS://EVIL.EXAMPLE",
    "https://localhost@evil.example",
    "https://localhost:80@evil.example/",
    "https://evil.example#@localhost",
    "https://evil.example\\@localhost",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://evil.example",
    "%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "%252F%252Fevil.example",
    "javascript%3Aalert(1)",
    "%6A%61%76%61%73%63%72%69%70%74:alert(1)",
    "/\t/evil.example",
    "/\n/evil.example",
    "\r\n//evil.example",
    "%09//evil.example",
    "%0d%0a//evil.example",
    "/%0a/evil.example",
    "\x00//evil.example",
    " //evil.example",
    "\u3000//evil.example",
    "\u00a0//evil.example",
    "https://evil.example:443",
    "https://localhost.evil.example",
    "https://[::1]@evil.example",
    "/" + "a" * 3000,
    "",
]

SAFE = [
    "/",
    "/notes",
    "/notes/1?x=1&y=2",
    "/notes#top",
    "notes",
    "notes/1",
    "?page=2",
    "/a:b",
    "/caf%C3%A9",
    "http://localhost/notes",
    "http://LOCALHOST/notes",
]


@pytest.fixture
def app(make_app: AppFactory) -> Flasgo:
    app = make_app()

    @app.get("/check")
    def check(target: str) -> dict[str, bool]:
        return {"safe": is_safe_redirect_target(target)}

    @app.get("/login")
    def login() -> object:
        return redirect_to_next("/home")

    return app


def test_at_least_thirty_forms(app: Flasgo) -> None:
    assert len(UNSAFE) >= 30


@pytest.mark.parametrize("target", UNSAFE)
def test_unsafe_targets_are_refused(
    app: Flasgo, make_client: ClientFactory, target: str, security_events: list[str]
) -> None:
    client = make_client(app)
    assert client.get("/check", params={"target": target}).json() == {"safe": False}
    response = client.get("/login", params={"next": target})
    assert response.status_code == 302
    assert response.headers["location"] == "/home"
    # An empty ``next`` is no attack: the default, silently.
    assert security_events == (["unsafe-redirect-refused"] if target else [])


@pytest.mark.parametrize("target", SAFE)
def test_safe_targets_are_followed(
    app: Flasgo, make_client: ClientFactory, target: str, security_events: list[str]
) -> None:
    client = make_client(app)
    assert client.get("/check", params={"target": target}).json() == {"safe": True}
    response = client.get("/login", params={"next": target})
    assert response.status_code == 302
    assert response.headers["location"] == target
    assert security_events == []


def test_no_next_goes_to_the_default(
    app: Flasgo, make_client: ClientFactory, security_events: list[str]
) -> None:
    response = make_client(app).get("/login")
    assert response.headers["location"] == "/home"
    assert security_events == []


def test_a_repeated_next_is_refused(
    app: Flasgo, make_client: ClientFactory, security_events: list[str]
) -> None:
    response = make_client(app).get("/login?next=/a&next=/b")
    assert response.headers["location"] == "/home"
    assert security_events == ["unsafe-redirect-refused"]


def test_other_allowed_hosts() -> None:
    assert is_safe_redirect_target("https://accounts.example/x", allowed_hosts=["accounts.example"])
    assert is_safe_redirect_target(
        "https://accounts.example:8443/", allowed_hosts=["accounts.example:8443"]
    )
    assert not is_safe_redirect_target(
        "https://accounts.example:8443/", allowed_hosts=["accounts.example"]
    )
    # Outside a request only the listed hosts count.
    assert not is_safe_redirect_target("http://localhost/")
    assert is_safe_redirect_target("/local")


def test_redirect_to_next_outside_a_request() -> None:
    with pytest.raises(RuntimeError, match="inside a handler"):
        redirect_to_next()
