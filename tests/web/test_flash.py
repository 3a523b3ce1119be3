"""Flashed messages over the session: kept for the next page, taken once."""

from __future__ import annotations

from pathlib import Path

import pytest

from flasgo import Flasgo, flash, get_flashed_messages, redirect, render_template
from tests.conftest import AppFactory, ClientFactory


@pytest.fixture
def app(make_app: AppFactory, tmp_path: Path) -> Flasgo:
    (tmp_path / "list.html").write_text(
        "{% for category, message in get_flashed_messages(with_categories=true) %}"
        "[{{ category }}:{{ message }}]{% endfor %}",
        encoding="utf-8",
    )
    app = make_app(CSRF_ENABLED=False)
    app.configure_templates(tmp_path)

    @app.post("/save")
    def save() -> object:
        flash("Saved <b>note</b>")
        flash("Low disk", "warning")
        return redirect("/")

    @app.get("/")
    def index() -> str:
        return render_template("list.html")

    @app.get("/errors")
    def errors() -> dict[str, object]:
        return {
            "warnings": get_flashed_messages(category_filter=["warning"]),
            "again": get_flashed_messages(),  # the same request keeps what it took
        }

    return app


def test_a_flash_shows_on_the_next_page_once(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    saved = client.post("/save")
    assert saved.status_code == 302
    page = client.get("/")
    assert page.text == "[message:Saved &lt;b&gt;note&lt;/b&gt;][warning:Low disk]"
    assert client.get("/").text == ""


def test_category_filter_and_repeated_reads(app: Flasgo, make_client: ClientFactory) -> None:
    client = make_client(app)
    client.post("/save")
    assert client.get("/errors").json() == {
        "warnings": ["Low disk"],
        "again": ["Saved <b>note</b>", "Low disk"],
    }
    assert client.get("/errors").json() == {"warnings": [], "again": []}


def test_a_tampered_flash_list_is_ignored(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app()

    @app.get("/set")
    def set_bad() -> str:
        from flasgo import session

        session["_flashes"] = [["ok", "fine"], "junk", [1], {"a": 1}]
        return "set"

    @app.get("/read")
    def read() -> dict[str, object]:
        return {"messages": get_flashed_messages(with_categories=True)}

    client = make_client(app)
    client.get("/set")
    assert client.get("/read").json() == {"messages": [["ok", "fine"]]}


def test_outside_a_request() -> None:
    with pytest.raises(RuntimeError, match="inside a handler"):
        flash("x")
    with pytest.raises(RuntimeError, match="inside a handler"):
        get_flashed_messages()


def test_a_flash_in_an_error_handler_is_kept(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    from flasgo import abort

    app = make_app()

    @app.errorhandler(401)
    def to_login(exc: Exception) -> object:
        flash("Please log in", "error")
        return redirect("/login")

    @app.get("/private")
    def private() -> str:
        abort(401)

    @app.get("/login")
    def login() -> dict[str, object]:
        return {"messages": get_flashed_messages(with_categories=True)}

    @app.get("/boom")
    def boom() -> str:
        from flasgo import session

        session["half"] = "written"
        raise RuntimeError("unhandled")

    @app.get("/peek")
    def peek() -> dict[str, object]:
        from flasgo import session

        return {"half": session.get("half")}

    client = make_client(app)
    response = client.get("/private", follow_redirects=True)
    assert response.json() == {"messages": [["error", "Please log in"]]}
    # Without an error handler a failed request still writes nothing.
    assert client.get("/boom").status_code == 500
    assert client.get("/peek").json() == {"half": None}


def test_session_transaction_reads_and_writes_the_jar(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    from flasgo import session

    app = make_app()

    @app.get("/me")
    def me() -> dict[str, object]:
        return {"user": session.get("user_id"), "flashes": get_flashed_messages()}

    client = make_client(app)
    with client.session_transaction() as sess:
        assert dict(sess) == {}
        sess["user_id"] = 7
        sess["_flashes"] = [["message", "set by the test"]]
    assert client.get("/me").json() == {"user": 7, "flashes": ["set by the test"]}
    with client.session_transaction() as sess:
        assert sess["user_id"] == 7
        del sess["user_id"]
    assert client.get("/me").json() == {"user": None, "flashes": []}
