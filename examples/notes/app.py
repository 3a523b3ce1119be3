"""A small notes site: login/logout, a CSRF-protected form, flash messages, ``?next=``
redirects, an upload, a stylesheet and an image. Built the way a Flask user would.

Run it with ``flasgo run examples/notes/app.py`` and open http://127.0.0.1:8000 (log in as
``ada`` / ``lovelace``). Notes and uploads live in memory and in a temporary folder.
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from flasgo import (
    Flasgo,
    Request,
    abort,
    flash,
    login,
    logout,
    redirect,
    redirect_to_next,
    render_template,
    render_template_async,
    send_from_directory,
    session,
    url_for,
)

app = Flasgo(
    __name__,
    settings={
        "SECRET_KEY": os.environ.get("NOTES_SECRET_KEY") or secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": {"localhost", "127.0.0.1"},
        # NOTE: a demo served over plain http on localhost; deploy it behind HTTPS.
        "MAX_REQUEST_BODY_BYTES": 4 * 1024 * 1024,
    },
)
USERS = {"ada": "lovelace"}
NOTES: list[dict[str, str]] = []
UPLOADS = Path(os.environ.get("NOTES_UPLOADS") or tempfile.mkdtemp(prefix="notes-uploads-"))


def current_name() -> str | None:
    name = session.get("name")
    return name if isinstance(name, str) else None


@app.context_processor
def user_context() -> dict[str, Any]:
    return {"user": current_name()}


@app.errorhandler(401)
def to_login(request: Request, exc: Exception) -> Any:
    flash("Please log in first.", "error")
    return redirect(url_for("login_page", next=request.full_path))


@app.get("/")
def index() -> str:
    # NOTE: a sync view runs in the thread pool, so listing the folder does not block the loop.
    if current_name() is None:
        abort(401)
    files = sorted(path.name for path in UPLOADS.iterdir())
    return render_template("index.html", notes=NOTES, files=files)


@app.get("/login")
async def login_page() -> str:
    # An async view renders with render_template_async: file reads stay off the loop.
    return await render_template_async("login.html")


@app.post("/login")
async def login_submit(request: Request) -> Any:
    form = await request.form()
    name, password = form.get("name", ""), form.get("password", "")
    expected = USERS.get(name)
    if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
        flash("Wrong name or password.", "error")
        return redirect(url_for("login_page", next=request.args.get("next", "")))
    login(session, name)
    session["name"] = name
    flash(f"Welcome, {name}!")
    return redirect_to_next(url_for("index"))


@app.post("/logout")
def logout_submit() -> Any:
    logout(session)
    flash("Logged out.")
    return redirect(url_for("login_page"))


@app.post("/notes")
async def create_note(request: Request) -> Any:
    if current_name() is None:
        abort(401)
    form = await request.form()
    text = form.get("text", "").strip()
    if not text:
        flash("A note needs some text.", "error")
    else:
        NOTES.append({"author": current_name() or "", "text": text[:500]})
        flash("Note saved.")
    return redirect(url_for("index"))


@app.post("/upload")
async def upload(request: Request) -> Any:
    if current_name() is None:
        abort(401)
    files = await request.files()
    uploaded = files.get("file")
    name = Path(uploaded.filename).name if uploaded is not None and uploaded.filename else ""
    if uploaded is None or not name or name.startswith("."):
        flash("Choose a file to upload.", "error")
        return redirect(url_for("index"))
    await uploaded.save(UPLOADS / name)
    flash(f"Uploaded {name}.")
    return redirect(url_for("index"))


@app.get("/files/<path:name>")
def download(name: str) -> Any:
    if current_name() is None:
        abort(401)
    return send_from_directory(UPLOADS, name, as_attachment=True)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
