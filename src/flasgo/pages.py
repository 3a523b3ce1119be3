"""What a server-rendered site needs from the app: its root folder, templates and static files.

`Flasgo` mixes `PageSupport` in. The root folder comes from the import name
(``Flasgo(__name__)``, as in Flask): ``templates/`` and ``static/`` beside the module are
used when they exist. The Jinja environment (`flasgo.templating`, the ``standard`` extra) is
built on first use, so an app that renders nothing never imports jinja2. Template folders are
searched app first, then each blueprint's in registration order (Flask's order).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flasgo.exceptions import ConfigurationError
from flasgo.rendering import render_for, render_for_async

if TYPE_CHECKING:
    from flasgo.rendering import TemplateApp
    from flasgo.settings import Settings
    from flasgo.templating import JinjaTemplates

__all__ = ["PageSupport", "add_static_route", "find_root_path"]

F = TypeVar("F", bound=Callable[..., Any])


def add_static_route(
    scaffold: Any, folder: Path, url_path: str | None, max_age: int, endpoint: str
) -> None:
    """Register ``<url_path>/<path:filename>`` serving `folder` on an app or blueprint."""
    from flasgo.staticfiles import StaticFiles

    prefix = url_path if url_path is not None else f"/{folder.name}"
    if not prefix.startswith("/"):
        raise ConfigurationError(f"static_url_path {prefix!r} must start with '/'.")
    files = StaticFiles(folder, max_age=max_age)
    scaffold.add_route(
        f"{prefix.rstrip('/')}/<path:filename>",
        files.handler(),
        methods=["GET"],
        name=endpoint,
        include_in_schema=False,
    )


def find_root_path(import_name: str | None) -> Path:
    """The folder of the module named `import_name` (the working directory when unknown)."""
    if import_name:
        module = sys.modules.get(import_name)
        file = getattr(module, "__file__", None)
        if file is None and import_name != "__main__":
            try:
                spec = importlib.util.find_spec(import_name)
            except (ImportError, ValueError):
                spec = None
            file = spec.origin if spec is not None and spec.has_location else None
        if file:
            return Path(file).resolve().parent
    return Path.cwd()


class PageSupport:
    """Templates, context processors and template filters/globals of an app."""

    settings: Settings
    root_path: Path

    if TYPE_CHECKING:
        # NOTE: provided by the app (`Flasgo`); declared here for the type checker only, so
        # nothing in this mixin shadows the real methods in the MRO.
        def _check_setup(self) -> None: ...

    def _init_pages(self, template_folder: str | None, templates: JinjaTemplates | None) -> None:
        self._template_dirs: list[Path] = []
        if template_folder is not None:
            self._template_dirs.append(self.root_path / template_folder)
        self._templates = templates
        self._template_options: dict[str, Any] = {}
        self.template_context_processors: list[Callable[[], Mapping[str, Any]]] = []
        self._template_filters: dict[str, Callable[..., Any]] = {}
        self._template_globals: dict[str, Any] = {}

    def _add_template_folder(self, folder: Path) -> None:
        if folder not in self._template_dirs:
            self._template_dirs.append(folder)
            if self._templates is not None:
                self._templates.add_directory(folder)

    def configure_static(
        self,
        directory: str | Path,
        *,
        url_path: str = "/static",
        max_age: int = 0,
        endpoint: str = "static",
        cache_max_age: int | None = None,
    ) -> None:
        """Serve the files of `directory` at `url_path` (``url_for("static", filename=...)``).

        Args:
            directory: The folder (relative ones from the app's root folder).
            url_path: The URL prefix.
            max_age: Seconds browsers may keep ordinary files without asking again (0:
                revalidate each time, a 304 when unchanged); hashed names get a year.
            endpoint: The endpoint name.
            cache_max_age: Upstream Flasgo's name for `max_age` (wins when given).
        """
        if cache_max_age is not None:
            max_age = cache_max_age
        add_static_route(self, self.root_path / Path(directory), url_path, max_age, endpoint)

    def render_template(
        self, name: str | Iterable[str], context: Mapping[str, Any] | None = None
    ) -> str:
        """Render template `name` of this app with `context` (upstream Flasgo's method).

        Same as `flasgo.render_template` (Flask's function) for this app; usable outside a
        request, in scripts and tests. Prefer `render_template_async` in async views.
        """
        return render_for(cast("TemplateApp", self), name, context or {})

    async def render_template_async(
        self, name: str | Iterable[str], context: Mapping[str, Any] | None = None
    ) -> str:
        """`render_template` with the file read and rendering off the event loop."""
        return await render_for_async(cast("TemplateApp", self), name, context or {})

    # -- configuration -------------------------------------------------------------------------

    def configure_templates(
        self,
        directories: str | Path | Sequence[str | Path] | None = None,
        *,
        globals: Mapping[str, Any] | None = None,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        tests: Mapping[str, Callable[..., Any]] | None = None,
        enable_async: bool = False,
        max_template_bytes: int | None = None,
        auto_reload: bool | None = None,
    ) -> JinjaTemplates:
        """Set up the templates now (they are otherwise built on first render).

        Args:
            directories: Template folders (relative ones from the app's root folder), searched
                before blueprints' folders; the app's ``template_folder`` by default.
            globals: Names every template sees (besides the built-in ones).
            filters: Extra Jinja filters.
            tests: Extra Jinja tests.
            enable_async: Use an async Jinja environment.
            max_template_bytes: Larger template files are refused (256 KiB by default).
            auto_reload: Re-read changed files; on when ``DEBUG`` is.

        Returns:
            The app's `JinjaTemplates`.
        """
        self._check_setup()
        if directories is not None:
            given = [directories] if isinstance(directories, str | Path) else directories
            blueprint_dirs = self._template_dirs[1:]
            self._template_dirs = [self.root_path / Path(d) for d in given] + blueprint_dirs
        options: dict[str, Any] = {"enable_async": enable_async}
        if max_template_bytes is not None:
            options["max_template_bytes"] = max_template_bytes
        if auto_reload is not None:
            options["auto_reload"] = auto_reload
        self._template_options = options
        self._template_globals.update(globals or {})
        self._template_filters.update(filters or {})
        self._templates = None
        templates = self.templates
        templates.env.tests.update(tests or {})
        return templates

    @property
    def templates(self) -> JinjaTemplates:
        """The app's `JinjaTemplates`, built on first use (needs the ``standard`` extra)."""
        templates = self._templates
        if templates is None:
            templates = self._templates = self._build_templates()
        return templates

    @property
    def jinja_env(self) -> Any:
        """The Jinja environment (Flask's name)."""
        return self.templates.env

    def _build_templates(self) -> JinjaTemplates:
        from flasgo.context import g, request, session
        from flasgo.messages import get_flashed_messages
        from flasgo.security.csp import csp_nonce
        from flasgo.security.csrf import csrf_token
        from flasgo.templating import JinjaTemplates

        options = {"auto_reload": self.settings.DEBUG, **self._template_options}
        base_globals: dict[str, Any] = {
            "url_for": self._template_url_for(),
            "csrf_token": csrf_token,
            "csp_nonce": csp_nonce,
            "get_flashed_messages": get_flashed_messages,
            "request": request,
            "session": session,
            "g": g,
            "config": self.settings,
        }
        return JinjaTemplates(
            self._template_dirs,
            globals={**base_globals, **self._template_globals},
            filters=self._template_filters,
            **options,
        )

    def _template_url_for(self) -> Callable[..., str]:
        url_for: Callable[..., str] = getattr(self, "url_for")  # noqa: B009 - the app's method
        return url_for

    # -- Flask's decorators --------------------------------------------------------------------

    def context_processor(self, func: F) -> F:
        """Register `func() -> dict`: its values are added to every template's context."""
        self._check_setup()
        if not callable(func):
            raise ConfigurationError(f"A context processor must be callable, got {func!r}")
        self.template_context_processors.append(func)
        return func

    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register a Jinja filter (named after the function unless `name` is given)."""

        def decorator(func: F) -> F:
            self.add_template_filter(func, name)
            return func

        return decorator

    def add_template_filter(self, func: Callable[..., Any], name: str | None = None) -> None:
        """Make `func` a Jinja filter named `name` (the function's name by default)."""
        self._check_setup()
        key = name or func.__name__
        self._template_filters[key] = func
        if self._templates is not None:
            self._templates.env.filters[key] = func

    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register a function every template can call (named after it unless `name`)."""

        def decorator(func: F) -> F:
            self._check_setup()
            key = name or func.__name__
            self._template_globals[key] = func
            if self._templates is not None:
                self._templates.env.globals[key] = func
            return func

        return decorator

    def template_context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """`context` over the context processors' values (what a template is rendered with)."""
        if not self.template_context_processors:
            return dict(context)
        values: dict[str, Any] = {}
        for processor in self.template_context_processors:
            result = processor()
            if result is not None:
                values.update(result)
        values.update(context)
        return values
