"""Templates: Flask's helpers, autoescaping, globals, the secure loader, folders, import names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jinja2 import StrictUndefined, UndefinedError

from flasgo import (
    Blueprint,
    Flasgo,
    JinjaTemplates,
    SecureTemplateLoader,
    Settings,
    TemplateNotFound,
    create_template_environment,
    csp_nonce,
    g,
    render_template,
    render_template_async,
    render_template_string,
)
from flasgo.rendering import RenderedPage
from flasgo.security.csrf import unmask_token
from tests.conftest import TEST_SECRET_KEY, AppFactory, ClientFactory


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    templates = tmp_path / "templates"
    templates.mkdir()
    return templates


def test_render_template_is_an_escaped_html_page(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    write(folder, "hello.html", "<h1>Hello {{ name }}</h1>")
    app = make_app()
    app.configure_templates(folder)

    @app.get("/")
    def index() -> str:
        return render_template("hello.html", name="<script>x</script>")

    response = make_client(app).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>Hello &lt;script&gt;x&lt;/script&gt;</h1>"
    # The page gets the page headers (HTML only): the page CSP and Permissions-Policy.
    assert "permissions-policy" in response.headers


def test_a_plain_str_stays_text_and_a_txt_template_too(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    write(folder, "mail.txt", "Hi {{ name }}")
    app = make_app()
    app.configure_templates(folder)

    @app.get("/plain")
    def plain() -> str:
        return "<b>not html</b>"

    @app.get("/mail")
    def mail() -> str:
        return render_template("mail.txt", name="<b>")

    client = make_client(app)
    assert client.get("/plain").headers["content-type"] == "text/plain; charset=utf-8"
    response = client.get("/mail")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Hi <b>"  # autoescape is for markup files only


def test_render_template_string_autoescapes(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = make_app()

    @app.get("/")
    def index() -> str:
        return render_template_string("<p>{{ v }}</p>", v="<i>&")

    response = make_client(app).get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>&lt;i&gt;&amp;</p>"


@pytest.mark.parametrize("enable_async", [False, True])
def test_render_template_async_renders_the_same_page(
    make_app: AppFactory, make_client: ClientFactory, folder: Path, enable_async: bool
) -> None:
    write(folder, "item.html", "{{ item }}|{{ request.path }}|{{ url_for('show') }}")
    app = make_app()
    app.configure_templates(folder, enable_async=enable_async)

    @app.get("/show")
    async def show() -> str:
        return await render_template_async("item.html", item="<x>")

    response = make_client(app).get("/show")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "&lt;x&gt;|/show|/show"


def test_a_sync_render_with_an_async_environment_says_what_to_use(folder: Path) -> None:
    write(folder, "a.html", "x")
    templates = JinjaTemplates(folder, enable_async=True)
    with pytest.raises(RuntimeError, match="render_template_async"):
        templates.render("a.html", {})


def test_globals_config_g_session_and_context_processors(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    write(
        folder,
        "globals.html",
        "{{ config.SESSION_COOKIE_NAME }}|{{ g.who }}|{{ session.get('n', 'none') }}"
        "|{{ site }}|{{ 'abc' | shout }}|{{ twice(2) }}",
    )
    app = make_app()
    app.configure_templates(folder)

    @app.context_processor
    def site() -> dict[str, str]:
        return {"site": "Notes"}

    @app.template_filter("shout")
    def shout(value: str) -> str:
        return value.upper() + "!"

    @app.template_global()
    def twice(value: int) -> int:
        return value * 2

    @app.get("/")
    def index() -> str:
        g.who = "me"
        return render_template("globals.html")

    response = make_client(app).get("/")
    assert response.text == f"{app.settings.SESSION_COOKIE_NAME}|me|none|Notes|ABC!|4"


def test_a_form_rendered_with_csrf_token_posts_back(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    write(
        folder,
        "form.html",
        '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">'
        "</form>",
    )
    app = make_app()
    app.configure_templates(folder)

    @app.get("/form")
    def form() -> str:
        return render_template("form.html")

    @app.post("/form")
    def submit() -> str:
        return "saved"

    client = make_client(app)
    page = client.get("/form")
    # Rendering csrf_token() set the cookie the double submit compares with.
    cookie = client.cookies[app.settings.CSRF_COOKIE_NAME]
    rendered = page.text.split('value="')[1].split('"')[0]
    # BREACH: the page holds the token masked for this response, never the cookie's value.
    assert rendered != cookie
    assert unmask_token(rendered) == cookie
    posted = client.post(
        "/form", data={"csrf_token": rendered}, headers={"origin": "http://localhost"}
    )
    assert posted.status_code == 200
    assert posted.text == "saved"


def test_csp_nonce_in_a_template_is_allowed_by_the_policy(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    write(folder, "script.html", '<script nonce="{{ csp_nonce() }}">1</script>')
    app = make_app()
    app.configure_templates(folder)

    @app.get("/")
    def index() -> str:
        return render_template("script.html")

    response = make_client(app).get("/")
    nonce = response.text.split('nonce="')[1].split('"')[0]
    assert f"'nonce-{nonce}'" in response.headers["content-security-policy"]
    assert csp_nonce is not None


def test_a_missing_template_is_a_clean_500(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    app = make_app()
    app.configure_templates(folder)

    @app.get("/")
    def index() -> str:
        return render_template("nope.html")

    response = make_client(app).get("/")
    assert response.status_code == 500
    assert "nope.html" not in response.text


# -- the loader ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../secret.html",
        "a/../../secret.html",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "c:secret.html",
        "..\\secret.html",
        "sub\\..\\..\\secret.html",
        "page.html\0.txt",
        "page\r\n.html",
        "",
        "./..",
    ],
)
def test_the_loader_refuses_names_that_could_escape(tmp_path: Path, name: str) -> None:
    root = tmp_path / "templates"
    write(root, "page.html", "ok")
    write(tmp_path, "secret.html", "SECRET")
    env = create_template_environment(SecureTemplateLoader(root))
    with pytest.raises(TemplateNotFound):
        env.get_template(name)


def test_the_loader_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    write(root, "inside.html", "in")
    outside = write(tmp_path, "outside.html", "SECRET")
    (root / "link.html").symlink_to(outside)
    (root / "dir").symlink_to(tmp_path)
    (root / "ok.html").symlink_to(root / "inside.html")
    env = create_template_environment(SecureTemplateLoader(root))
    for name in ("link.html", "dir/outside.html"):
        with pytest.raises(TemplateNotFound):
            env.get_template(name)
    assert env.get_template("ok.html").render() == "in"  # a link inside the folder is fine


def test_the_loader_refuses_an_oversized_file(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    write(root, "big.html", "x" * 101)
    write(root, "small.html", "x" * 100)
    env = create_template_environment(SecureTemplateLoader(root, max_template_bytes=100))
    with pytest.raises(TemplateNotFound):
        env.get_template("big.html")
    assert env.get_template("small.html").render() == "x" * 100


def test_the_loader_lists_templates_without_dotfiles(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    write(root, "a.html", "")
    write(root, "sub/b.html", "")
    write(root, ".hidden/c.html", "")
    assert SecureTemplateLoader(root).list_templates() == ["a.html", "sub/b.html"]


def test_autoescape_covers_markup_files_only(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    for name in ("a.html", "a.htm", "a.xml", "a.svg", "a.txt", "a.js"):
        write(root, name, "{{ v }}")
    env = create_template_environment(SecureTemplateLoader(root))
    rendered = {name: env.get_template(name).render(v="<") for name in env.list_templates()}
    assert rendered == {
        "a.htm": "&lt;",
        "a.html": "&lt;",
        "a.js": "<",
        "a.svg": "&lt;",
        "a.txt": "<",
        "a.xml": "&lt;",
    }


def test_strict_undefined_can_be_chosen(tmp_path: Path) -> None:
    env = create_template_environment(undefined=StrictUndefined)
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing }}").render()


# -- folders: app, blueprints, reloading ---------------------------------------------------------


def test_blueprint_folders_are_searched_after_the_apps(
    make_app: AppFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    app_folder = tmp_path / "templates"
    write(app_folder, "shared.html", "from the app")
    bp_folder = tmp_path / "admin" / "templates"
    write(bp_folder, "shared.html", "from the blueprint")
    write(bp_folder, "admin/only.html", "admin page")
    app = make_app()
    app.configure_templates(app_folder)
    admin = Blueprint("admin", template_folder=str(bp_folder))

    @admin.get("/shared")
    def shared() -> str:
        return render_template("shared.html")

    @admin.get("/only")
    def only() -> str:
        return render_template("admin/only.html")

    app.register_blueprint(admin, url_prefix="/admin")
    client = make_client(app)
    assert client.get("/admin/shared").text == "from the app"  # Flask's order: app first
    assert client.get("/admin/only").text == "admin page"


def test_templates_reload_in_debug_only(
    make_app: AppFactory, make_client: ClientFactory, folder: Path
) -> None:
    for debug in (True, False):
        page = write(folder, f"live{debug}.html", "one")
        app = make_app(DEBUG=debug)
        app.configure_templates(folder)
        name = page.name

        @app.get("/")
        def index(name: str = name) -> str:
            return render_template(name)

        client = make_client(app)
        assert client.get("/").text == "one"
        page.write_text("two", encoding="utf-8")
        stat = page.stat()
        os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert client.get("/").text == ("two" if debug else "one")


def test_render_outside_a_request_says_so() -> None:
    with pytest.raises(RuntimeError, match="while handling a request"):
        render_template("x.html")


def test_the_apps_render_template_methods_work_outside_a_request(
    make_app: AppFactory, folder: Path
) -> None:
    # Upstream Flasgo's spelling: app.render_template(name, context), e.g. in a script.
    write(folder, "mail.html", "<p>Hi {{ name }}</p>")
    app = make_app()
    app.configure_templates(folder)

    page = app.render_template("mail.html", {"name": "<b>"})
    assert page == "<p>Hi &lt;b&gt;</p>"
    assert isinstance(page, RenderedPage)
    assert asyncio.run(app.render_template_async("mail.html", {"name": "Ann"})) == "<p>Hi Ann</p>"


def test_a_rendered_page_is_a_str_that_declares_html() -> None:
    page = RenderedPage("<p>")
    assert isinstance(page, str)
    assert page.__html__() == "<p>"


# -- Flasgo(__name__) ----------------------------------------------------------------------------


@pytest.fixture
def site_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "notesite"
    write(package, "__init__.py", "")
    write(package / "templates", "index.html", "<p>{{ url_for('static', filename='s.css') }}</p>")
    write(package / "static", "s.css", "body{}")
    write(
        package,
        "web.py",
        textwrap.dedent(
            f"""
            from flasgo import Flasgo, render_template

            app = Flasgo(__name__, settings={{"SECRET_KEY": {TEST_SECRET_KEY!r}}})

            @app.get("/")
            def index() -> str:
                return render_template("index.html")
            """
        ),
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def test_the_import_name_locates_templates_and_static(
    site_package: Path, make_client: ClientFactory
) -> None:
    from notesite.web import app  # type: ignore[import-not-found]

    assert app.import_name == "notesite.web"
    assert app.name == "notesite.web"
    assert app.root_path == site_package.resolve()
    client = make_client(app)
    assert client.get("/").text == "<p>/static/s.css</p>"
    assert client.get("/static/s.css").text == "body{}"


def test_a_settings_positional_still_means_settings() -> None:
    assert Flasgo({"DEBUG": True, "SECRET_KEY": TEST_SECRET_KEY}).settings.DEBUG is True
    given = Settings(DEBUG=True, SECRET_KEY=TEST_SECRET_KEY)
    app = Flasgo(given)
    assert app.settings.DEBUG is True
    assert app.import_name is None
    assert app.name == "flasgo"
    with pytest.raises(TypeError, match="settings once"):
        Flasgo({"DEBUG": True}, settings={"DEBUG": False})


def test_settings_by_keyword_with_an_import_name() -> None:
    app = Flasgo(__name__, settings={"DEBUG": True, "SECRET_KEY": TEST_SECRET_KEY})
    assert app.settings.DEBUG is True
    assert app.root_path == Path(__file__).resolve().parent


def test_an_unknown_import_name_uses_the_working_directory() -> None:
    app = Flasgo("no_such_module_anywhere", settings={"SECRET_KEY": TEST_SECRET_KEY})
    assert app.root_path == Path.cwd()


def test_an_app_that_renders_nothing_never_imports_jinja2(site_package: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from notesite.web import app
        client = app.test_client()
        assert client.get("/static/s.css").status_code == 200
        print("jinja2" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{site_package.parent}{os.pathsep}{Path.cwd()}"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "False"
