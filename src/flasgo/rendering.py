"""`render_template`, `render_template_string` and `render_template_async`: Flask's helpers.

This module does not import jinja2: it reaches the app's templates (`flasgo.templating`,
built on first use) through the app serving the request, so ``import flasgo`` stays light.

A rendered HTML page is a `RenderedPage`, a `str` that declares itself HTML (``__html__``),
so ``return render_template("index.html")`` is served as ``text/html`` while a plain `str`
stays ``text/plain``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from flasgo.context import find_app

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool
    from flasgo.templating import JinjaTemplates, Template

__all__ = [
    "RenderedPage",
    "TemplateApp",
    "render_for",
    "render_for_async",
    "render_template",
    "render_template_async",
    "render_template_string",
]

_HTML_SUFFIXES = (".html", ".htm", ".xhtml")


class RenderedPage(str):
    """A rendered HTML page: a `str` that the response coercion serves as ``text/html``."""

    __slots__ = ()

    def __html__(self) -> str:
        """Mark the text as HTML that needs no more escaping (the markupsafe protocol)."""
        return str(self)


class TemplateApp(Protocol):
    """What the helpers need from the app (`flasgo.Flasgo` is one)."""

    thread_pool: ThreadPool

    @property
    def templates(self) -> JinjaTemplates:
        """The app's templates (built on first use)."""
        ...

    def template_context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """`context` merged over the context processors' values."""
        ...


def _app() -> TemplateApp:
    try:
        app = find_app()
    except LookupError:
        raise RuntimeError(
            "render_template() needs an app: call it while handling a request."
        ) from None
    return cast("TemplateApp", app)


def _page(name: object, text: str) -> str:
    if isinstance(name, str) and not name.lower().endswith(_HTML_SUFFIXES):
        return text
    return RenderedPage(text)


def render_template(template_name_or_list: str | Iterable[str], **context: Any) -> str:
    """Render a template from the app's template folders with `context` (Flask's signature).

    The templates also see ``url_for``, ``csrf_token()``, ``csp_nonce()``,
    ``get_flashed_messages``, ``request``, ``session``, ``g``, ``config`` and the context
    processors' values. Reading a file and rendering happen on the calling thread: in an
    async view prefer `render_template_async`.

    Returns:
        The text; an ``.html``/``.htm`` page is a `RenderedPage` (served as HTML).

    Raises:
        TemplateNotFound: No template folder holds it (or the name was refused).
    """
    return render_for(_app(), template_name_or_list, context)


def render_for(
    app: TemplateApp, template_name_or_list: str | Iterable[str], context: Mapping[str, Any]
) -> str:
    """Render a template of `app` with `context` (`render_template` for a given app)."""
    templates = app.templates
    template = templates.get_template(template_name_or_list)
    return _page(template.name, templates.render(template, app.template_context(context)))


def render_template_string(source: str, **context: Any) -> str:
    """Render template text with `context`; autoescaped, served as HTML."""
    app = _app()
    templates = app.templates
    template = templates.from_string(source)
    return RenderedPage(templates.render(template, app.template_context(context)))


async def render_template_async(template_name_or_list: str | Iterable[str], **context: Any) -> str:
    """Render like `render_template` without blocking the event loop.

    The file is read and the page rendered in the thread pool (with the request's context),
    or, for an async Jinja environment, the template is loaded off the loop and rendered on it.
    """
    return await render_for_async(_app(), template_name_or_list, context)


async def render_for_async(
    app: TemplateApp, template_name_or_list: str | Iterable[str], context: Mapping[str, Any]
) -> str:
    """`render_for` without blocking the event loop (as `render_template_async`)."""
    templates = app.templates
    values = app.template_context(context)
    if templates.is_async:
        template: Template = await app.thread_pool.run(
            templates.get_template, template_name_or_list
        )
        return _page(template.name, await templates.render_async(template, values))

    def render() -> str:
        template = templates.get_template(template_name_or_list)
        return _page(template.name, templates.render(template, values))

    return await app.thread_pool.run(render)
