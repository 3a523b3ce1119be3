"""Jinja2 templates (the ``standard`` extra): the secure loader, the environment, `JinjaTemplates`.

This module imports jinja2 at the top, so nothing in the core imports it eagerly: the app
builds its `JinjaTemplates` on first use, and ``flasgo.render_template`` (in
`flasgo.rendering`) reaches it through the app. ``import flasgo`` never loads jinja2.

`SecureTemplateLoader` reads only files inside its folders: a name with ``..``, an absolute
path, a drive or backslash, NUL/CR/LF, a symlink that leads outside the folder or a file over
``max_template_bytes`` is `TemplateNotFound`. Autoescaping is on for ``.html``, ``.htm``,
``.xml``, ``.svg`` and string templates.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import jinja2
    from jinja2 import BaseLoader, Environment, Template, TemplateNotFound, select_autoescape
except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
    raise ImportError(
        "Templates need Jinja2: install Flasgo with its `standard` (or `jinja`) extra, "
        "as the README's Installation section shows."
    ) from exc

__all__ = [
    "DEFAULT_MAX_TEMPLATE_BYTES",
    "BaseLoader",
    "JinjaTemplates",
    "SecureTemplateLoader",
    "Template",
    "TemplateNotFound",
    "create_template_environment",
]

DEFAULT_MAX_TEMPLATE_BYTES = 256 * 1024
_AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "svg")
# SECURITY: a Windows drive ("C:") or a scheme-like prefix is never a template name.
_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_CHARS = ("\0", "\r", "\n", "\\")


def _checked_parts(name: str) -> list[str]:
    """The path segments of template `name`, or TemplateNotFound when it could escape."""
    if not name or len(name) > 1024 or any(char in name for char in _BAD_CHARS):
        raise TemplateNotFound(name)
    if name.startswith("/") or _DRIVE.match(name):
        raise TemplateNotFound(name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise TemplateNotFound(name)
    return parts


class SecureTemplateLoader(BaseLoader):
    """Load templates from folders, refusing any name that could reach outside them.

    Args:
        searchpath: The folders, searched in order (the app's first, then blueprints').
        encoding: The files' text encoding.
        max_template_bytes: Larger files are not loaded (`TemplateNotFound`).
    """

    def __init__(
        self,
        searchpath: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        encoding: str = "utf-8",
        max_template_bytes: int = DEFAULT_MAX_TEMPLATE_BYTES,
    ) -> None:
        paths = [searchpath] if isinstance(searchpath, str | os.PathLike) else searchpath
        self.searchpath: list[Path] = []
        self.encoding = encoding
        self.max_template_bytes = max_template_bytes
        for path in paths:
            self.add_directory(path)

    def add_directory(self, path: str | os.PathLike[str]) -> None:
        """Search `path` too, after the folders already listed."""
        resolved = Path(path).resolve()
        if resolved not in self.searchpath:
            self.searchpath.append(resolved)

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        """Return the template's source, file name and an up-to-date check.

        Raises:
            TemplateNotFound: No folder holds it, or the name or file is refused.
        """
        parts = _checked_parts(template)
        for root in self.searchpath:
            candidate = root.joinpath(*parts)
            try:
                # SECURITY: containment is checked after symlinks are resolved.
                real = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if not real.is_relative_to(root) or not real.is_file():
                continue
            stat = real.stat()
            if stat.st_size > self.max_template_bytes:
                raise TemplateNotFound(template)
            source = real.read_bytes().decode(self.encoding)
            mtime = stat.st_mtime_ns

            def uptodate(path: Path = real, seen: int = mtime) -> bool:
                try:
                    return path.stat().st_mtime_ns == seen
                except OSError:
                    return False

            return source, str(real), uptodate
        raise TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        """Every template name the folders hold (dotfiles left out)."""
        found: set[str] = set()
        for root in self.searchpath:
            for path in root.rglob("*"):
                relative = path.relative_to(root)
                if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                    found.add(relative.as_posix())
        return sorted(found)


def create_template_environment(
    loader: BaseLoader | None = None,
    *,
    globals: Mapping[str, Any] | None = None,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    tests: Mapping[str, Callable[..., Any]] | None = None,
    auto_reload: bool = False,
    enable_async: bool = False,
    undefined: type[jinja2.Undefined] = jinja2.Undefined,
) -> Environment:
    """Build a Jinja2 environment with Flasgo's defaults.

    Autoescaping is on for ``.html``, ``.htm``, ``.xml``, ``.svg`` and string templates.

    Args:
        loader: Where templates come from (a `SecureTemplateLoader` for folders).
        globals: Names every template sees.
        filters: Extra filters.
        tests: Extra tests.
        auto_reload: Re-read a template when its file changed (the app turns it on in DEBUG).
        enable_async: Build an async environment (``render_async``).
        undefined: What an unknown name renders as (`jinja2.StrictUndefined` to raise).
    """
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(_AUTOESCAPE_EXTENSIONS, default_for_string=True),
        auto_reload=auto_reload,
        enable_async=enable_async,
        undefined=undefined,
    )
    env.globals.update(globals or {})
    env.filters.update(filters or {})
    env.tests.update(tests or {})
    return env


class JinjaTemplates:
    """A template folder set and its environment.

    Args:
        directories: The template folders, searched in order.
        globals: Names every template sees.
        filters: Extra filters.
        tests: Extra tests.
        auto_reload: Re-read changed files (DEBUG).
        enable_async: Use an async Jinja environment (`render_async` renders on the loop).
        max_template_bytes: Larger template files are refused.
        undefined: The Jinja `Undefined` class.
    """

    def __init__(
        self,
        directories: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
        *,
        globals: Mapping[str, Any] | None = None,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        tests: Mapping[str, Callable[..., Any]] | None = None,
        auto_reload: bool = False,
        enable_async: bool = False,
        max_template_bytes: int = DEFAULT_MAX_TEMPLATE_BYTES,
        undefined: type[jinja2.Undefined] = jinja2.Undefined,
    ) -> None:
        self.loader = SecureTemplateLoader(directories, max_template_bytes=max_template_bytes)
        self.env = create_template_environment(
            self.loader,
            globals=globals,
            filters=filters,
            tests=tests,
            auto_reload=auto_reload,
            enable_async=enable_async,
            undefined=undefined,
        )
        self.is_async = enable_async

    def add_directory(self, path: str | os.PathLike[str]) -> None:
        """Search `path` after the folders already listed (a blueprint's folder)."""
        self.loader.add_directory(path)

    def get_template(self, name: str | Template | Iterable[str | Template]) -> Template:
        """Load (and cache) a template; a list means the first one found.

        Raises:
            TemplateNotFound: No folder holds it.
        """
        if isinstance(name, str | Template):
            return self.env.get_template(name)
        return self.env.select_template(list(name))

    def from_string(self, source: str) -> Template:
        """Compile a template from a string (autoescaped)."""
        return self.env.from_string(source)

    def render(self, name: str | Template, context: Mapping[str, Any]) -> str:
        """Render a template (a name or a compiled one) with `context`.

        Raises:
            RuntimeError: The environment is async (use `render_async`).
        """
        if self.is_async:
            raise RuntimeError(
                "These templates use an async Jinja environment; use render_template_async()."
            )
        template = name if isinstance(name, Template) else self.get_template(name)
        return template.render(context)

    async def render_async(self, template: Template, context: Mapping[str, Any]) -> str:
        """Render `template` on the loop (async environments only)."""
        return await template.render_async(context)
