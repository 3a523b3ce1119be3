"""Find and load the application a command or server should run.

A *target* names the app the way users type it on a command line:

- ``module:attr`` or ``pkg.mod:ns.app`` (an importable module and a dotted attribute),
- a file ``examples/app.py`` or ``examples/app.py:app``, an extensionless file, a package directory,
- ``module:create_app()`` to call a factory explicitly.

Without an attribute the module's ``app``, then ``application``, then a ``create_app()`` factory is
used. Without a target, ``FLASGO_APP``, then ``[tool.flasgo] app`` in ``pyproject.toml``, then
``app.py``, ``main.py`` or ``asgi.py`` in the working directory are tried.

Loading returns the app object and, when the module can be imported by name, an import string that
a server can hand to its reload supervisor or worker processes.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import re
import sys
import tomllib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from flasgo.exceptions import ConfigurationError

__all__ = [
    "APP_ENV",
    "AppNotFoundError",
    "LoadedApp",
    "import_string_for",
    "load_app",
    "module_name_for_path",
]

APP_ENV = "FLASGO_APP"
DEFAULT_ATTRIBUTES = ("app", "application")
FACTORY_NAMES = ("create_app",)
DEFAULT_FILES = ("app.py", "main.py", "asgi.py")

# NOTE: ASGI apps are plain callables; the server checks the protocol when it calls them.
AppObject = Callable[..., Any]

_ATTRIBUTE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\(\))?")
_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


class AppNotFoundError(ConfigurationError, LookupError):
    """The target does not name a loadable app; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class LoadedApp:
    """An app loaded from a target.

    Attributes:
        app: The application object (the factory's result for a factory).
        import_string: ``module:attr`` a fresh process can import, or None when the module
            was loaded from a file that has no importable name (an extensionless file).
        factory: Whether ``import_string`` names a factory to call with no arguments.
        app_dir: The folder put on ``sys.path`` to import the module, if any.
        source: The target as the user gave it, for messages.
    """

    app: AppObject
    import_string: str | None
    factory: bool = False
    app_dir: str | None = None
    source: str = ""


def load_app(target: str | None = None, *, cwd: str | os.PathLike[str] | None = None) -> LoadedApp:
    """Load the app a target names, or find one when no target is given.

    Args:
        target: A module, file or package reference with an optional ``:attr``; None to use
            ``FLASGO_APP``, ``[tool.flasgo] app`` in ``pyproject.toml`` or a conventional file.
        cwd: The folder relative paths and default files are looked up in (default: the
            current working directory).

    Returns:
        The loaded app with its import string.

    Raises:
        AppNotFoundError: The target cannot be imported or holds no app.
    """
    base = Path.cwd() if cwd is None else Path(cwd)
    if target is None or not target.strip():
        target = _default_target(base)
    ref, attr = _split_target(target.strip())
    if _is_path(ref, base):
        module, module_name, app_dir = _import_path(base / ref, target)
    else:
        # NOTE: `module:attr` resolves against the working folder, like `python -m` does;
        # a console script's sys.path[0] is its bin folder instead.
        app_dir = str(base.resolve())
        _prepend_sys_path(app_dir)
        module, module_name = _import_module(ref, target), ref
    app, attr_path, factory = _find_app(module, attr, target)
    import_string = f"{module_name}:{attr_path}" if module_name is not None else None
    return LoadedApp(app, import_string, factory, app_dir, target)


def _default_target(base: Path) -> str:
    from_env = os.environ.get(APP_ENV, "").strip()
    if from_env:
        return from_env
    from_pyproject = _pyproject_target(base / "pyproject.toml")
    if from_pyproject:
        return from_pyproject
    for name in DEFAULT_FILES:
        if (base / name).is_file():
            return name
    raise AppNotFoundError(
        "No app to load: pass a target such as `flasgo run app.py` or `module:app`, set "
        f"{APP_ENV}, or create {', '.join(DEFAULT_FILES[:-1])} or {DEFAULT_FILES[-1]} "
        "defining `app = Flasgo()`"
    )


def _pyproject_target(path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    section = data.get("tool", {}).get("flasgo", {})
    value = section.get("app") if isinstance(section, Mapping) else None
    return value if isinstance(value, str) and value.strip() else None


def _split_target(target: str) -> tuple[str, str | None]:
    ref, sep, attr = target.rpartition(":")
    # NOTE: a colon that is not followed by an attribute belongs to the path (C:\app.py).
    if sep and ref and _ATTRIBUTE.fullmatch(attr):
        return ref, attr
    return target, None


def _is_path(ref: str, base: Path) -> bool:
    if ref.endswith(".py") or "/" in ref or os.sep in ref or not _MODULE.fullmatch(ref):
        return True
    return (base / ref).exists() and "." not in ref


def module_name_for_path(path: Path) -> tuple[str, Path]:
    """Compute the dotted module name of a source file or package directory.

    Parent folders that are packages (hold an ``__init__.py``) become part of the name, so
    ``proj/pkg/app.py`` with ``proj/pkg/__init__.py`` is ``pkg.app`` imported from ``proj``.

    Args:
        path: A ``.py`` file, an extensionless file or a package directory.

    Returns:
        The module name and the folder that must be on ``sys.path`` to import it.
    """
    path = path.resolve()
    if path.is_dir() or path.name == "__init__.py":
        package = path if path.is_dir() else path.parent
        parts = [package.name]
        folder = package.parent
    else:
        parts = [path.stem if path.suffix == ".py" else path.name]
        folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def _import_path(path: Path, target: str) -> tuple[ModuleType, str | None, str]:
    if not path.exists():
        raise AppNotFoundError(f"Could not find '{path}' (from target '{target}')")
    if path.is_dir() and not (path / "__init__.py").is_file():
        raise AppNotFoundError(
            f"'{path}' is a folder but not a package: add an __init__.py that defines the app, "
            "or name the file, e.g. `flasgo run folder/app.py`"
        )
    name, folder = module_name_for_path(path)
    _prepend_sys_path(str(folder))
    if path.is_file() and path.suffix != ".py":
        return _import_extensionless(path, target), None, str(folder)
    existing = sys.modules.get(name)
    if existing is not None and not _is_module_of(existing, path):
        raise AppNotFoundError(
            f"'{path}' would be imported as module '{name}', but a different module of that "
            f"name is already loaded ({getattr(existing, '__file__', None) or 'built-in'}); "
            "rename the file"
        )
    return _import_module(name, target), name, str(folder)


def _prepend_sys_path(folder: str) -> None:
    # NOTE: the app's own imports (`from models import ...`) resolve next to its file, like
    # `python app.py` does; worker and reload processes inherit sys.path from this process.
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _is_module_of(module: ModuleType, path: Path) -> bool:
    file = getattr(module, "__file__", None)
    if file is None:
        return False
    loaded = Path(file).resolve()
    wanted = path.resolve()
    return loaded == wanted or (wanted.is_dir() and loaded == wanted / "__init__.py")


def _import_extensionless(path: Path, target: str) -> ModuleType:
    name = "__flasgo_app_" + re.sub(r"\W", "_", path.name)
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    if spec is None:  # pragma: no cover - a SourceFileLoader always yields a spec
        raise AppNotFoundError(f"Could not load '{path}'")
    module = importlib.util.module_from_spec(spec)
    # NOTE: registered before running, as an import would: dataclasses and pickling look
    # their module up in sys.modules.
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise AppNotFoundError(_import_failure(target, exc)) from exc
    return module


def _import_module(name: str, target: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise AppNotFoundError(
                f"Could not import module '{name}' (from target '{target}'): no such module; "
                "pass a file path such as `app.py` or a module importable from the current folder"
            ) from exc
        raise AppNotFoundError(_import_failure(target, exc)) from exc
    except Exception as exc:
        raise AppNotFoundError(_import_failure(target, exc)) from exc


def _import_failure(target: str, exc: BaseException) -> str:
    detail = "".join(traceback.format_exception_only(exc)).strip()
    return f"Error while importing '{target}':\n{detail}"


def _find_app(module: ModuleType, attr: str | None, target: str) -> tuple[AppObject, str, bool]:
    if attr is not None:
        return _resolve_attribute(module, attr, target)
    for name in DEFAULT_ATTRIBUTES:
        value = getattr(module, name, None)
        if value is not None:
            return _check_app(value, name, target), name, False
    for name in FACTORY_NAMES:
        value = getattr(module, name, None)
        if value is not None:
            return _call_factory(value, name, target), name, True
    raise AppNotFoundError(
        f"No app found in '{target}': define `app = Flasgo()` or a create_app() factory"
    )


def _resolve_attribute(module: ModuleType, attr: str, target: str) -> tuple[AppObject, str, bool]:
    call = attr.endswith("()")
    path = attr.removesuffix("()")
    value: object = module
    for part in path.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise AppNotFoundError(
                f"No attribute '{path}' in '{target}': define `{path} = Flasgo()` there, "
                "or leave the attribute out to use `app`, `application` or create_app()"
            ) from None
    if call or _is_factory(value):
        return _call_factory(value, path, target), path, True
    return _check_app(value, path, target), path, False


def _is_factory(value: object) -> bool:
    """Tell a factory (a function taking no arguments) from an ASGI callable."""
    if not (inspect.isfunction(value) or inspect.ismethod(value)):
        return False
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # pragma: no cover - functions always have a signature
        return False
    return not any(
        parameter.default is inspect.Parameter.empty
        and parameter.kind in {parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD}
        for parameter in signature.parameters.values()
    )


def _call_factory(factory: object, name: str, target: str) -> AppObject:
    if not callable(factory):
        raise AppNotFoundError(f"'{name}' in '{target}' is not callable, so it is not a factory")
    try:
        app = factory()
    except TypeError as exc:
        if _is_factory(factory) or not inspect.isroutine(factory):
            raise AppNotFoundError(_import_failure(target, exc)) from exc
        raise AppNotFoundError(
            f"The factory {name}() in '{target}' must be callable with no arguments"
        ) from exc
    except Exception as exc:
        raise AppNotFoundError(_import_failure(target, exc)) from exc
    return _check_app(app, f"{name}()", target)


def _check_app(value: object, name: str, target: str) -> AppObject:
    if value is None or not callable(value) or isinstance(value, type | ModuleType):
        raise AppNotFoundError(
            f"'{name}' in '{target}' is a {type(value).__name__}, not an app: "
            "define `app = Flasgo()` or a create_app() factory"
        )
    return value


def import_string_for(app: object) -> str | None:
    """Find an import string (``module:attr``) under which a fresh process finds ``app``.

    The running ``__main__`` script is looked at first (its file gives the module name), then
    every loaded module, for a global variable holding this very object.

    Args:
        app: The application object.

    Returns:
        ``module:attr``, or None when no importable module holds the app.
    """
    main = sys.modules.get("__main__")
    if main is not None:
        name = _main_module_name(main)
        attr = _attribute_holding(main, app)
        if name is not None and attr is not None:
            return f"{name}:{attr}"
    for name, module in list(sys.modules.items()):
        if name in {"__main__", "__mp_main__"} or not isinstance(module, ModuleType):
            continue
        attr = _attribute_holding(module, app)
        if attr is not None:
            return f"{name}:{attr}"
    return None


def _main_module_name(main: ModuleType) -> str | None:
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        # `python -m pkg.mod`: the module has a real name (pkg.__main__ for a package).
        return str(spec.name)
    file = getattr(main, "__file__", None)
    if not file:
        return None
    name, folder = module_name_for_path(Path(file))
    if not _MODULE.fullmatch(name):
        return None
    _prepend_sys_path(str(folder))
    return name


def _attribute_holding(module: ModuleType, app: object) -> str | None:
    namespace = getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return None
    for name in (*DEFAULT_ATTRIBUTES, *namespace):
        if isinstance(name, str) and namespace.get(name) is app and _MODULE.fullmatch(name):
            return name
    return None
