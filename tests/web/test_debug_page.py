"""The DEBUG error page: HTML for browsers, a JSON problem for APIs, never without DEBUG."""

from __future__ import annotations

from pathlib import Path

import pytest

from flasgo import Flasgo, render_template
from tests.conftest import TEST_SECRET_KEY, AppFactory, ClientFactory

HTML_ACCEPT = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def failing(make_app: AppFactory, tmp_path: Path, *, debug: bool = False) -> Flasgo:
    (tmp_path / "broken.html").write_text("<p>one</p>\n<p>two</p>\n<p>{{ 1 // zero }}</p>\n")
    app = make_app(DEBUG=debug)
    app.configure_templates(tmp_path)

    @app.get("/boom")
    def boom() -> str:
        secret_local = "<script>alert(1)</script>"
        raise ValueError(f"bad value {secret_local}")

    @app.get("/template")
    def template() -> str:
        return render_template("broken.html", zero=0)

    return app


def test_a_browser_gets_the_html_page(
    make_app: AppFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    app = failing(make_app, tmp_path, debug=True)
    response = make_client(app).get(
        "/boom?api_token=abc123&page=2",
        headers={**HTML_ACCEPT, "authorization": "Bearer s3cr3t", "cookie": "sid=hidden"},
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<h1>ValueError: bad value &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert "<script>" not in page
    # The source around the failing line, marked.
    assert "raise ValueError(f&quot;bad value {secret_local}&quot;)" in page
    assert "test_debug_page.py" in page
    # Secrets redacted: the key, credentials-looking query values and headers.
    assert TEST_SECRET_KEY not in page
    assert "abc123" not in page
    assert "s3cr3t" not in page
    assert "hidden" not in page
    assert "<td>?page</td><td>2</td>" in page
    assert "<td>SECRET_KEY</td><td>********</td>" in page
    # The stylesheet runs under the page's CSP through the response's nonce.
    nonce = page.split("<style nonce='")[1].split("'")[0]
    assert f"'nonce-{nonce}'" in response.headers["content-security-policy"]


def test_a_template_error_points_at_the_template_line(
    make_app: AppFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    app = failing(make_app, tmp_path, debug=True)
    response = make_client(app).get("/template", headers=HTML_ACCEPT)
    assert "ZeroDivisionError" in response.text
    assert f"{tmp_path / 'broken.html'}, line 3, template" in response.text
    problem = make_client(app).get("/template").json()
    template_frames = [frame for frame in problem["traceback"] if frame["template"]]
    assert [(frame["file"], frame["line"]) for frame in template_frames] == [
        (str(tmp_path / "broken.html"), 3)
    ]


def test_an_api_client_gets_a_json_problem(
    make_app: AppFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    app = failing(make_app, tmp_path, debug=True)
    response = make_client(app).get("/boom", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Internal Server Error"
    assert problem["exception"] == "ValueError"
    assert problem["detail"] == "ValueError: bad value <script>alert(1)</script>"
    assert problem["traceback"][-1]["function"] == "boom"


@pytest.mark.parametrize("accept", [HTML_ACCEPT, {}])
def test_never_without_debug(
    make_app: AppFactory, make_client: ClientFactory, tmp_path: Path, accept: dict[str, str]
) -> None:
    app = failing(make_app, tmp_path)
    response = make_client(app).get("/boom", headers=accept)
    assert response.status_code == 500
    assert response.text == (
        "Internal Server Error. Check the application logs for the original failure."
    )
