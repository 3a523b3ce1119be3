"""A browser's first safe request gets the CSRF cookie, so a single-page app's first POST works."""

from __future__ import annotations

from flasgo import Flasgo
from tests.conftest import AppFactory, ClientFactory

BROWSER = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"}


def spa_api(make_app: AppFactory) -> Flasgo:
    app = make_app()

    @app.get("/api/me")
    def me() -> dict[str, str]:
        return {"name": "ada"}

    @app.post("/api/notes")
    def create() -> dict[str, bool]:
        return {"saved": True}

    return app


def test_a_browser_gets_the_cookie_with_json(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = spa_api(make_app)
    client = make_client(app)
    first = client.get("/api/me", headers=BROWSER)
    assert first.json() == {"name": "ada"}
    cookie = client.cookies[app.settings.CSRF_COOKIE_NAME]
    assert cookie.startswith("v1.")
    # The app's script echoes the cookie: the first POST passes.
    posted = client.post(
        "/api/notes",
        headers={**BROWSER, "origin": "http://localhost", "x-csrf-token": cookie},
    )
    assert posted.json() == {"saved": True}
    # Holding a cookie, nothing more is set.
    assert "set-cookie" not in client.get("/api/me", headers=BROWSER).headers


def test_scripts_without_sec_fetch_headers_get_no_cookie(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = spa_api(make_app)
    response = make_client(app).get("/api/me")
    assert "set-cookie" not in response.headers


def test_no_cookie_for_unknown_paths_or_with_csrf_off(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = spa_api(make_app)
    assert "set-cookie" not in make_client(app).get("/nowhere", headers=BROWSER).headers
    off = make_app(CSRF_ENABLED=False)

    @off.get("/")
    def index() -> str:
        return "x"

    assert "set-cookie" not in make_client(off).get("/", headers=BROWSER).headers
