"""Loading apps from targets: files, packages, modules, factories, defaults and errors."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from flasgo import Flasgo
from flasgo.discovery import (
    AppNotFoundError,
    LoadedApp,
    import_string_for,
    load_app,
    module_name_for_path,
)
from flasgo.exceptions import ConfigurationError

_counter = itertools.count()

APP_SOURCE = """
from flasgo import Flasgo
app = Flasgo()

@app.get("/")
def home():
    return "home"
"""


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch):
    """Undo what loading does to sys.path and sys.modules, and clear FLASGO_APP."""
    monkeypatch.delenv("FLASGO_APP", raising=False)
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


def unique(prefix: str) -> str:
    """A module name no other test (or earlier import) uses."""
    return f"{prefix}_{next(_counter)}_{id(_counter)}"


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_file_path_loads_app_and_gives_an_import_string(tmp_path: Path) -> None:
    name = unique("quick")
    write(tmp_path / f"{name}.py", APP_SOURCE)

    loaded = load_app(str(tmp_path / f"{name}.py"))

    assert isinstance(loaded.app, Flasgo)
    assert loaded.import_string == f"{name}:app"
    assert loaded.factory is False
    assert loaded.app_dir == str(tmp_path.resolve())
    assert str(tmp_path.resolve()) in sys.path


def test_relative_file_path_is_resolved_against_cwd(tmp_path: Path) -> None:
    name = unique("relative")
    write(tmp_path / "src" / f"{name}.py", APP_SOURCE)

    loaded = load_app(f"src/{name}.py", cwd=tmp_path)

    assert loaded.import_string == f"{name}:app"
    assert loaded.source == f"src/{name}.py"


def test_file_can_import_its_neighbours(tmp_path: Path) -> None:
    helper = unique("helper")
    name = unique("uses_helper")
    write(tmp_path / f"{helper}.py", "GREETING = 'hello'\n")
    write(
        tmp_path / f"{name}.py",
        f"""
        from flasgo import Flasgo
        from {helper} import GREETING
        app = Flasgo()
        """,
    )

    load_app(str(tmp_path / f"{name}.py"))

    assert sys.modules[name].GREETING == "hello"


def test_explicit_attribute_after_a_file(tmp_path: Path) -> None:
    name = unique("explicit")
    write(tmp_path / f"{name}.py", "from flasgo import Flasgo\napi = Flasgo()\napp = None\n")

    loaded = load_app(f"{tmp_path / name}.py:api")

    assert isinstance(loaded.app, Flasgo)
    assert loaded.import_string == f"{name}:api"


def test_module_and_dotted_attribute(tmp_path: Path) -> None:
    package = unique("pkg")
    write(tmp_path / package / "__init__.py", "")
    write(
        tmp_path / package / "web.py",
        """
        from types import SimpleNamespace
        from flasgo import Flasgo
        ns = SimpleNamespace(app=Flasgo())
        """,
    )

    loaded = load_app(f"{package}.web:ns.app", cwd=tmp_path)

    assert isinstance(loaded.app, Flasgo)
    assert loaded.import_string == f"{package}.web:ns.app"
    assert loaded.app_dir == str(tmp_path.resolve())


def test_application_is_the_second_default(tmp_path: Path) -> None:
    name = unique("second")
    write(tmp_path / f"{name}.py", "from flasgo import Flasgo\napplication = Flasgo()\n")

    loaded = load_app(str(tmp_path / f"{name}.py"))

    assert loaded.import_string == f"{name}:application"


def test_app_wins_over_application_and_factory(tmp_path: Path) -> None:
    name = unique("both")
    write(
        tmp_path / f"{name}.py",
        """
        from flasgo import Flasgo
        app = Flasgo()
        application = Flasgo()
        def create_app():
            raise AssertionError("not called")
        """,
    )

    loaded = load_app(str(tmp_path / f"{name}.py"))

    assert loaded.import_string == f"{name}:app"


def test_create_app_factory_is_called_once_without_arguments(tmp_path: Path) -> None:
    name = unique("factory")
    write(
        tmp_path / f"{name}.py",
        """
        from flasgo import Flasgo
        calls = []
        def create_app():
            calls.append(1)
            return Flasgo()
        """,
    )

    loaded = load_app(str(tmp_path / f"{name}.py"))

    assert isinstance(loaded.app, Flasgo)
    assert loaded.import_string == f"{name}:create_app"
    assert loaded.factory is True
    assert sys.modules[name].calls == [1]


def test_explicit_call_syntax_and_zero_argument_functions_are_factories(tmp_path: Path) -> None:
    name = unique("make")
    write(tmp_path / f"{name}.py", "from flasgo import Flasgo\ndef make():\n    return Flasgo()\n")

    called = load_app(f"{tmp_path / name}.py:make()")
    plain = load_app(f"{tmp_path / name}.py:make")

    assert (called.import_string, called.factory) == (f"{name}:make", True)
    assert (plain.import_string, plain.factory) == (f"{name}:make", True)
    assert isinstance(plain.app, Flasgo)


def test_raw_asgi_function_is_an_app_not_a_factory(tmp_path: Path) -> None:
    name = unique("raw")
    write(tmp_path / f"{name}.py", "async def app(scope, receive, send):\n    pass\n")

    loaded = load_app(str(tmp_path / f"{name}.py"))

    assert loaded.factory is False
    assert loaded.app is sys.modules[name].app


def test_package_directory(tmp_path: Path) -> None:
    package = unique("site")
    write(tmp_path / package / "__init__.py", f"from {package}.views import app\n")
    write(tmp_path / package / "views.py", APP_SOURCE)

    loaded = load_app(str(tmp_path / package))

    assert isinstance(loaded.app, Flasgo)
    assert loaded.import_string == f"{package}:app"


def test_file_inside_a_package_keeps_its_package_name(tmp_path: Path) -> None:
    package = unique("proj")
    write(tmp_path / package / "__init__.py", "")
    write(tmp_path / package / "sub" / "__init__.py", "")
    write(tmp_path / package / "sub" / "main.py", "from .models import app\n")
    write(tmp_path / package / "sub" / "models.py", APP_SOURCE)

    loaded = load_app(str(tmp_path / package / "sub" / "main.py"))

    assert loaded.import_string == f"{package}.sub.main:app"
    assert loaded.app_dir == str(tmp_path.resolve())
    assert module_name_for_path(tmp_path / package / "sub") == (
        f"{package}.sub",
        tmp_path.resolve(),
    )


def test_extensionless_file_loads_but_has_no_import_string(tmp_path: Path) -> None:
    script = write(tmp_path / unique("serve-me"), APP_SOURCE)

    loaded = load_app(str(script))

    assert isinstance(loaded.app, Flasgo)
    assert loaded.import_string is None


def test_a_colon_inside_a_path_is_not_an_attribute(tmp_path: Path) -> None:
    name = unique("colon")
    write(tmp_path / "we:ird" / f"{name}.py", APP_SOURCE)

    loaded = load_app(str(tmp_path / "we:ird" / f"{name}.py"))

    assert loaded.import_string == f"{name}:app"


def test_flasgo_app_env_is_used_without_a_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("from_env")
    write(tmp_path / f"{name}.py", APP_SOURCE)
    monkeypatch.setenv("FLASGO_APP", f"{name}.py")

    loaded = load_app(cwd=tmp_path)

    assert loaded.import_string == f"{name}:app"


def test_pyproject_names_the_app(tmp_path: Path) -> None:
    name = unique("configured")
    write(tmp_path / f"{name}.py", APP_SOURCE)
    write(tmp_path / "pyproject.toml", f'[tool.flasgo]\napp = "{name}:app"\n')

    loaded = load_app(None, cwd=tmp_path)

    assert loaded.import_string == f"{name}:app"


@pytest.mark.parametrize("filename", ["app.py", "main.py", "asgi.py"])
def test_conventional_files_are_found_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filename: str
) -> None:
    folder = tmp_path / unique("project")
    write(folder / filename, APP_SOURCE)
    write(folder / "pyproject.toml", "[project]\nname = 'x'\n")
    module = filename.removesuffix(".py")
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.chdir(folder)

    loaded = load_app()

    assert loaded.import_string == f"{module}:app"
    assert loaded.source == filename


def test_nothing_to_load_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match=r"No app to load: pass a target"):
        load_app(cwd=tmp_path)


def test_module_without_an_app(tmp_path: Path) -> None:
    name = unique("empty")
    write(tmp_path / f"{name}.py", "x = 1\n")

    with pytest.raises(AppNotFoundError) as info:
        load_app(f"{name}.py", cwd=tmp_path)

    assert str(info.value) == (
        f"No app found in '{name}.py': define `app = Flasgo()` or a create_app() factory"
    )
    assert isinstance(info.value, ConfigurationError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match=r"Could not find '.*nope\.py'"):
        load_app("nope.py", cwd=tmp_path)


def test_unknown_module(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match=r"Could not import module 'no_such_mod_x'"):
        load_app("no_such_mod_x:app", cwd=tmp_path)


def test_missing_attribute(tmp_path: Path) -> None:
    name = unique("attrless")
    write(tmp_path / f"{name}.py", APP_SOURCE)

    with pytest.raises(AppNotFoundError, match=r"No attribute 'api' in '.*'"):
        load_app(f"{tmp_path / name}.py:api")


def test_error_inside_the_module_is_reported_with_its_message(tmp_path: Path) -> None:
    name = unique("broken")
    write(tmp_path / f"{name}.py", "import definitely_missing_dependency_x\n")

    with pytest.raises(AppNotFoundError) as info:
        load_app(str(tmp_path / f"{name}.py"))

    message = str(info.value)
    assert message.startswith("Error while importing")
    assert "No module named 'definitely_missing_dependency_x'" in message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    name = unique("syntax")
    write(tmp_path / f"{name}.py", "app = (\n")

    with pytest.raises(AppNotFoundError, match=r"SyntaxError"):
        load_app(str(tmp_path / f"{name}.py"))


def test_value_that_is_not_an_app(tmp_path: Path) -> None:
    name = unique("number")
    write(tmp_path / f"{name}.py", "app = 3\n")

    with pytest.raises(AppNotFoundError, match=r"'app' in '.*' is a int, not an app"):
        load_app(str(tmp_path / f"{name}.py"))


def test_factory_that_needs_arguments(tmp_path: Path) -> None:
    name = unique("needs_args")
    write(tmp_path / f"{name}.py", "def create_app(config):\n    pass\n")

    with pytest.raises(AppNotFoundError, match=r"create_app\(\) .* with no arguments"):
        load_app(str(tmp_path / f"{name}.py"))


def test_factory_that_fails(tmp_path: Path) -> None:
    name = unique("fails")
    write(tmp_path / f"{name}.py", "def create_app():\n    raise RuntimeError('db down')\n")

    with pytest.raises(AppNotFoundError, match=r"RuntimeError: db down"):
        load_app(str(tmp_path / f"{name}.py"))


def test_factory_returning_nothing(tmp_path: Path) -> None:
    name = unique("returns_none")
    write(tmp_path / f"{name}.py", "def create_app():\n    return None\n")

    with pytest.raises(AppNotFoundError, match=r"'create_app\(\)' .* is a NoneType, not an app"):
        load_app(str(tmp_path / f"{name}.py"))


def test_folder_that_is_not_a_package(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()

    with pytest.raises(AppNotFoundError, match=r"is a folder but not a package"):
        load_app("plain", cwd=tmp_path)


def test_file_shadowed_by_an_imported_module(tmp_path: Path) -> None:
    write(tmp_path / "textwrap.py", APP_SOURCE)

    with pytest.raises(AppNotFoundError, match=r"module 'textwrap', but a different module"):
        load_app(str(tmp_path / "textwrap.py"))


def test_import_string_for_finds_the_module_holding_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = Flasgo()
    module = ModuleType("made_up_module")
    module.server = app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "made_up_module", module)

    assert import_string_for(app) == "made_up_module:server"
    assert import_string_for(Flasgo()) is None


def test_import_string_for_a_script_run_as_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flasgo()
    main = ModuleType("__main__")
    main.__file__ = str(tmp_path / "serve_it.py")
    main.app = app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)

    assert import_string_for(app) == "serve_it:app"
    assert str(tmp_path.resolve()) in sys.path


def test_import_string_for_interactive_main_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Flasgo()
    main = ModuleType("__main__")
    main.app = app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)

    assert import_string_for(app) is None


def test_loaded_app_is_a_frozen_value() -> None:
    loaded = LoadedApp(Flasgo(), "m:app")

    with pytest.raises(AttributeError):
        loaded.factory = True  # type: ignore[misc]
