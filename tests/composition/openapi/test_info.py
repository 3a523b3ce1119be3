"""The document's ``info``: settings first, else the version of the app's installed package.

The packages here are real: a module and a ``.dist-info`` folder written to a temporary
directory put on ``sys.path``, found by `importlib.metadata` as it would find an installed app.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasgo import Flasgo
from flasgo.exceptions import ConfigurationError
from flasgo.openapi import DEFAULT_API_VERSION, api_version

ROUTES = '''
from flasgo import Flasgo


def add_routes(app: Flasgo, prefix: str = "") -> None:
    @app.get(prefix + "/stock/<int:item_id>", name=prefix.strip("/") + "stock")
    async def stock(item_id: int) -> dict[str, int]:
        """How many are left."""
        return {"left": item_id}
'''

Install = Callable[..., Any]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install package `package` as distribution `name` `version`; return the package."""
    monkeypatch.syspath_prepend(str(tmp_path))
    imported: list[str] = []

    def install(name: str, version: str, package: str, *, record: bool = True) -> Any:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(textwrap.dedent(ROUTES))
        info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        # RECORD lists the installed files: how importlib.metadata maps package -> distribution.
        (info / "RECORD").write_text(f"{package}/__init__.py,,\n" if record else "")
        importlib.invalidate_caches()
        imported.append(package)
        return importlib.import_module(package)

    yield install
    for package in imported:
        sys.modules.pop(package, None)


def spec_of(app: Flasgo) -> dict[str, Any]:
    return app.test_client().get("/openapi.json").json()  # type: ignore[no-any-return]


def test_api_version_wins_over_everything(install: Install) -> None:
    package = install("inventory-api", "3.4.5", "inventory_api")
    app = Flasgo({"ENABLE_DOCS": True, "API_VERSION": "2024.06"})
    package.add_routes(app)

    assert spec_of(app)["info"] == {"title": "Flasgo API", "version": "2024.06"}


def test_an_app_outside_any_installed_package_is_0_1_0() -> None:
    app = Flasgo({"ENABLE_DOCS": True, "API_TITLE": "Notes", "API_DESCRIPTION": "Keeps notes."})

    @app.get("/notes")
    async def notes() -> list[str]:
        return []

    assert DEFAULT_API_VERSION == "0.1.0"
    assert spec_of(app)["info"] == {
        "title": "Notes",
        "version": "0.1.0",
        "description": "Keeps notes.",
    }


def test_the_handlers_package_gives_its_distribution_version(install: Install) -> None:
    package = install("inventory-api", "3.4.5", "inventory_api", record=False)
    app = Flasgo({"ENABLE_DOCS": True})
    package.add_routes(app)

    # Found by name alone: editable installs list no package files in RECORD.
    assert spec_of(app)["info"]["version"] == "3.4.5"


def test_a_distribution_named_unlike_its_package_is_found_through_its_files(
    install: Install,
) -> None:
    package = install("acme-storefront", "2.0.1", "shopfront")
    app = Flasgo()
    package.add_routes(app)

    assert api_version(app) == "2.0.1"


def test_the_app_name_comes_before_the_handlers(install: Install) -> None:
    install("billing", "7.0.0", "billing")
    shop = install("acme-storefront", "2.0.1", "shopfront")
    app = Flasgo(name="billing.app")
    shop.add_routes(app)

    assert api_version(app) == "7.0.0"


def test_the_package_with_most_documented_handlers_wins(install: Install) -> None:
    few = install("plugin-dist", "9.0.0", "plugin_pkg")
    many = install("acme-storefront", "2.0.1", "shopfront")
    app = Flasgo()
    few.add_routes(app)

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> str:
        return ""

    many.add_routes(app, "/a")
    many.add_routes(app, "/b")

    assert api_version(app) == "2.0.1"


def test_flasgo_own_version_is_never_the_apps(install: Install) -> None:
    # A distribution named flasgo ahead of the real one on sys.path, also providing a package.
    package = install("flasgo", "99.0.0", "flasgo_addon")
    app = Flasgo(name="flasgo.app")
    package.add_routes(app)

    assert api_version(app) == "0.1.0"


def test_api_version_must_be_a_non_empty_string() -> None:
    with pytest.raises(ConfigurationError, match="API_VERSION must be a non-empty string"):
        Flasgo({"API_VERSION": " "})


def test_a_stray_package_of_another_distribution_gives_no_version(
    install: Install, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A distribution that ships a top-level package of the same name as the user's (``tests``
    # is common), while the user's package is imported from their own folder.
    install("sloppy-dist", "4.0.0", "userpkg")
    sys.modules.pop("userpkg")
    own = tmp_path_factory.mktemp("project")
    (own / "userpkg").mkdir()
    (own / "userpkg" / "__init__.py").write_text(textwrap.dedent(ROUTES))
    monkeypatch.syspath_prepend(str(own))
    importlib.invalidate_caches()
    package = importlib.import_module("userpkg")
    assert Path(str(package.__file__)).parent.parent == own
    app = Flasgo({"ENABLE_DOCS": True})
    package.add_routes(app)

    assert spec_of(app)["info"]["version"] == DEFAULT_API_VERSION
