"""The ``info`` object of an app's OpenAPI document: title, version and description.

Title and description are the ``API_TITLE`` and ``API_DESCRIPTION`` settings. The version is
``API_VERSION`` when set; left at its default (``None``) it is the version of the installed
distribution that holds the app's own code, found with `importlib.metadata`, else
`DEFAULT_API_VERSION`. Flasgo's own version is never used: it says nothing about the user's API.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from flasgo.openapi.documented import DocumentedApp

__all__ = ["DEFAULT_API_VERSION", "api_info", "api_version"]

DEFAULT_API_VERSION: Final = "0.1.0"

# The name ``Flasgo(name=...)`` has when the user did not give one.
_DEFAULT_APP_NAME: Final = "flasgo"
_FRAMEWORK_DISTRIBUTION: Final = "flasgo"
# Top-level modules that never hold the user's package: the framework itself, scripts run as
# ``__main__`` and the private names `flasgo.discovery` loads app files under.
_NOT_USER_CODE: Final = frozenset({"flasgo", "__main__", "builtins"})


def api_info(app: DocumentedApp) -> dict[str, Any]:
    """Build the document's ``info`` object from `app`'s settings.

    Args:
        app: The application.

    Returns:
        ``title`` and ``version``, plus ``description`` when ``API_DESCRIPTION`` is set.
    """
    settings = app.settings
    info: dict[str, Any] = {"title": settings.API_TITLE, "version": api_version(app)}
    if settings.API_DESCRIPTION:
        info["description"] = settings.API_DESCRIPTION
    return info


def api_version(app: DocumentedApp) -> str:
    """The version the document states: ``API_VERSION``, else the app package's, else 0.1.0.

    The app's package is looked for among, in order, ``Flasgo(name=...)`` (when given) and the
    top-level packages of the documented handlers, most handlers first. The first one that is an
    installed distribution's name, or that exactly one installed distribution provides, gives
    its version.

    Args:
        app: The application.

    Returns:
        A non-empty version string.
    """
    configured = app.settings.API_VERSION
    if configured is not None:
        return str(configured)
    for package in _user_packages(app):
        version = _installed_version(package)
        if version is not None:
            return version
    return DEFAULT_API_VERSION


def _user_packages(app: DocumentedApp) -> list[str]:
    """Top-level package names that may hold the app's code, the likeliest first."""
    names: list[str] = []
    if app.name and app.name != _DEFAULT_APP_NAME:
        names.append(app.name)
    counts = Counter(
        str(getattr(endpoint.func, "__module__", None) or "")
        for endpoint in app.iter_endpoints()
        if not endpoint.websocket and endpoint.options.get("include_in_schema", True)
    )
    # NOTE: Counter.most_common keeps first-registration order among equal counts.
    names.extend(module for module, _ in counts.most_common())
    packages: list[str] = []
    for name in names:
        top = name.partition(".")[0]
        if _is_user_package(top) and top not in packages:
            packages.append(top)
    return packages


def _is_user_package(top: str) -> bool:
    return (
        top.isidentifier()
        and not top.startswith("_")
        and top not in _NOT_USER_CODE
        and top not in sys.stdlib_module_names
    )


def _installed_version(package: str) -> str | None:
    """The version of the distribution named `package` or, failing that, the one providing it."""
    candidates = [package]
    # PERF: the name lookup reads one directory entry per sys.path item; the full map of
    # packages to distributions reads every installed RECORD, so it is built once per sys.path.
    providers = _providers(tuple(sys.path)).get(package, ())
    if len(providers) == 1:
        candidates.append(providers[0])
    for name in candidates:
        version = _distribution_version(name, package)
        if version is not None:
            return version
    return None


def _distribution_version(name: str, package: str) -> str | None:
    try:
        distribution = metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        return None
    if not _provides_imported(distribution, package):
        return None
    # NOTE: never Flasgo's own version: a user's API is not versioned with the framework.
    if _normalise(distribution.metadata["Name"] or "") == _FRAMEWORK_DISTRIBUTION:
        return None
    # NOTE: metadata without a Version field gives None despite the annotation.
    version: str | None = distribution.version
    return version if version and version.strip() else None


def _provides_imported(distribution: metadata.Distribution, package: str) -> bool:
    """Whether the imported `package` is the one `distribution` installed.

    A distribution that ships a stray top-level package (``tests`` is common) must not give
    its version to the user's own package of that name, imported from elsewhere. An editable
    install lives outside the distribution's folder and counts.
    """
    module = sys.modules.get(package)
    where = getattr(module, "__file__", None)
    if not where:
        return True  # a namespace package, or not imported: nothing to compare
    try:
        direct = json.loads(distribution.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    if isinstance(direct, dict) and (direct.get("dir_info") or {}).get("editable") is True:
        return True
    try:
        root = Path(str(distribution.locate_file(""))).resolve()
        return Path(where).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


@lru_cache(maxsize=4)
def _providers(path: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
    """Top-level package -> the distinct installed distributions providing it."""
    del path  # only the cache key: a changed sys.path can change what is installed
    found: dict[str, tuple[str, ...]] = {}
    for package, names in metadata.packages_distributions().items():
        found[package] = _unique(names)
    return found


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(_normalise(name), name)
    return tuple(seen.values())


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
