"""Blueprints: groups of routes, hooks and error handlers registered on an app under a prefix."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flasgo.exceptions import ConfigurationError
from flasgo.pages import add_static_route, find_root_path
from flasgo.params import Depends
from flasgo.ratelimit import RateLimitRule
from flasgo.scaffold import RouteRecord, Scaffold

if TYPE_CHECKING:
    from flasgo.cors import CORSConfig
    from flasgo.security.auth import PermissionLike

__all__ = ["Blueprint", "Mounted"]


class Blueprint(Scaffold):
    """A reusable group of routes with its own hooks and error handlers.

    Its endpoints are named ``<blueprint>.<function>`` (``outer.inner.function`` when
    nested), its hooks run only for its own routes (and those of blueprints nested in it),
    and its error handlers are tried before the app's.

    Args:
        name: The blueprint's name, used in endpoint names; no dots.
        url_prefix: Prepended to every rule, e.g. ``"/api"``.
        dependencies: ``Depends(...)`` run before each of its routes (and nested ones).
        permissions: Checked on each of its routes (and nested ones) on top of the routes'
            own ``@authorize``; a nested route cannot drop them.
        auth_backend: The auth backend for its routes (a route's own ``backend=`` wins);
            alone, it means `IsAuthenticated` on every route.
        rate_limits: `RateLimitRule`s for each of its routes (and nested ones); without a
            ``scope`` every route counts in its own bucket.
        csrf_exempt: Exempt its routes (and nested ones) from the CSRF check, e.g. webhooks
            that authenticate with a signature instead of cookies.
        template_folder: Its template folder (relative to the folder of the module named
            `import_name`), searched after the app's.
        static_folder: A folder served under the blueprint's prefix at `static_url_path`
            (endpoint ``<blueprint>.static``).
        static_url_path: Where its static files are served; ``/<static_folder name>``.
        cors: A `CORSConfig` for its routes (and nested ones), or False for none; the app's
            by default.
    """

    def __init__(
        self,
        name: str,
        import_name: str | None = None,
        *,
        url_prefix: str = "",
        dependencies: Sequence[Depends] = (),
        permissions: Sequence[PermissionLike] = (),
        auth_backend: str | None = None,
        rate_limits: Sequence[RateLimitRule] = (),
        csrf_exempt: bool = False,
        template_folder: str | None = None,
        static_folder: str | None = None,
        static_url_path: str | None = None,
        cors: CORSConfig | Literal[False] | None = None,
    ) -> None:
        if not name or "." in name:
            raise ConfigurationError(
                f"Blueprint name {name!r} must be non-empty and contain no dot; dots separate "
                "nested blueprint names in endpoints."
            )
        if url_prefix and not url_prefix.startswith("/"):
            raise ConfigurationError(f"url_prefix {url_prefix!r} must start with '/'.")
        super().__init__(name)
        self.import_name = import_name
        self.root_path = find_root_path(import_name)
        self.template_folder = template_folder
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        self.cors = cors
        self.url_prefix = url_prefix
        self.dependencies = tuple(dependencies)
        self.permissions: tuple[PermissionLike, ...] = tuple(permissions)
        self.auth_backend = auth_backend
        self.rate_limits = tuple(rate_limits)
        self.csrf_exempt = csrf_exempt
        self.records: list[RouteRecord] = []
        self.children: list[tuple[Blueprint, str | None, str | None]] = []
        self._registered = False
        if static_folder is not None:
            add_static_route(self, self.root_path / static_folder, static_url_path, 0, "static")

    def _check_setup(self) -> None:
        if self._registered:
            raise ConfigurationError(
                f"Blueprint {self.name!r} is already registered on an app; add its routes and "
                "hooks before calling register_blueprint()."
            )

    def _record(self, record: RouteRecord) -> None:
        self.records.append(record)

    def register_blueprint(
        self, blueprint: Blueprint, *, url_prefix: str | None = None, name: str | None = None
    ) -> None:
        """Nest `blueprint` inside this one (its prefix and name are appended to ours)."""
        if blueprint is self:
            raise ConfigurationError("A blueprint cannot be registered on itself.")
        self._check_setup()
        self.children.append((blueprint, url_prefix, name))

    def mount(
        self,
        *,
        url_prefix: str | None,
        name: str | None,
        parent_prefix: str,
        parent_name: str,
        parent_scopes: tuple[Scaffold, ...],
    ) -> Iterator[Mounted]:
        """Where this blueprint and its children go on an app, outermost first.

        The app registers each `Mounted` group's records (`Flasgo.register_blueprint`);
        the blueprint is closed to new routes once they are all taken.
        """
        dotted = f"{parent_name}{name or self.name}"
        prefix = parent_prefix.rstrip("/") + (
            url_prefix if url_prefix is not None else self.url_prefix
        )
        scopes = (*parent_scopes, self)
        yield Mounted(dotted, prefix, scopes, tuple(self.records))
        for child, child_prefix, child_name in self.children:
            yield from child.mount(
                url_prefix=child_prefix,
                name=child_name,
                parent_prefix=prefix,
                parent_name=f"{dotted}.",
                parent_scopes=scopes,
            )
        self._registered = True


@dataclass(frozen=True, slots=True)
class Mounted:
    """One blueprint's place on an app: its dotted name, rule prefix, scopes and routes."""

    name: str
    prefix: str
    scopes: tuple[Scaffold, ...]
    records: tuple[RouteRecord, ...]
