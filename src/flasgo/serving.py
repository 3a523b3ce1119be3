"""Run an app under a server: uvicorn (default) or granian, with reload and workers.

`serve` is what ``app.run()`` and ``flasgo run`` call. It reads the server limits from the app's
settings, picks the fastest installed implementations (httptools, uvloop) and hands the app to
the server: the object itself for one process, an import string when a reload supervisor or
worker processes must import it afresh. Servers are imported lazily; neither is needed to import
Flasgo.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from flasgo.discovery import AppObject, LoadedApp, import_string_for, load_app
from flasgo.exceptions import ConfigurationError
from flasgo.security.checks import WORKERS_ENV, require_shared_secret, warn_process_local_state
from flasgo.settings import find_setting

__all__ = [
    "WORKERS_ENV",
    "ServerName",
    "build_granian_options",
    "build_uvicorn_options",
    "resolve_workers",
    "serve",
]

ServerName = Literal["uvicorn", "granian"]
GRACEFUL_SHUTDOWN_SECONDS = 10

_RELOAD_HINT = (
    "reload and workers start fresh processes that import the app by name, and no module "
    "holding this app was found; run it with `flasgo run path/to/file.py --reload` "
    "(or `--workers N`), or pass an import string such as serve('module:app', reload=True)"
)


def serve(
    app_or_target: AppObject | LoadedApp | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    reload: bool | None = None,
    workers: int | None = None,
    server: ServerName | str = "uvicorn",
    reload_dirs: Sequence[str | os.PathLike[str]] | None = None,
    log_level: str | None = None,
    **options: Any,
) -> None:
    """Serve an app until the server is stopped.

    Args:
        app_or_target: The app, an app loaded by `flasgo.discovery.load_app`, or a target
            string such as ``"examples/app.py"`` or ``"module:app"``.
        host: Interface to bind.
        port: TCP port to bind.
        reload: Restart on code changes (watchfiles); defaults to the app's ``DEBUG`` setting.
        workers: Worker processes; defaults to the app's ``WORKERS`` setting
            (``FLASGO_WORKERS``), then ``WEB_CONCURRENCY``, then one.
        server: ``"uvicorn"`` or ``"granian"``.
        reload_dirs: Folders to watch when reloading (default: the working folder).
        log_level: The server's log level, e.g. ``"info"`` or ``"debug"``.
        **options: Extra keyword options passed to the server as they are.

    Raises:
        ConfigurationError: The server is not installed, the options conflict, or reload or
            workers were asked for an app that has no import string.
    """
    loaded = _as_loaded(app_or_target)
    if reload is None:
        reload = bool(_setting(loaded.app, "DEBUG", default=False))
    workers = resolve_workers(workers, reload=reload, setting=_int_setting(loaded.app, "WORKERS"))
    require_shared_secret(loaded.app, workers)
    warn_process_local_state(loaded.app, workers)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "reload": reload,
        "workers": workers,
        "reload_dirs": reload_dirs,
        "log_level": log_level,
    }
    if server == "uvicorn":
        _serve_uvicorn(loaded, common, options)
    elif server == "granian":
        _serve_granian(loaded, common, options)
    else:
        raise ConfigurationError(f"Unknown server {server!r}; use 'uvicorn' or 'granian'")


def _as_loaded(app_or_target: AppObject | LoadedApp | str) -> LoadedApp:
    if isinstance(app_or_target, LoadedApp):
        return app_or_target
    if isinstance(app_or_target, str):
        return load_app(app_or_target)
    return LoadedApp(app_or_target, import_string=None)


def resolve_workers(workers: int | None, *, reload: bool, setting: int | None = None) -> int | None:
    """Decide the worker count: the argument, then the ``WORKERS`` setting, then
    ``WEB_CONCURRENCY``.

    Args:
        workers: The count asked for (``--workers``, ``workers=``), or None.
        reload: Whether the reloader runs (it runs one process, so ``WEB_CONCURRENCY`` is
            ignored; several workers asked for in any other way are an error).
        setting: The app's ``WORKERS`` setting (``FLASGO_WORKERS``), or None.

    Returns:
        The count, or None for one in-process server.

    Raises:
        ConfigurationError: The count is below one, not a number, or combined with reload.
    """
    if workers is None and setting is not None:
        if reload and setting > 1:
            raise ConfigurationError(
                f"The WORKERS setting ({find_setting('WORKERS').env}) asks for {setting} worker "
                f"processes, but reload runs a single process; unset it or pass --no-reload "
                f"(reload is on by default when DEBUG is true)"
            )
        workers = setting
    if workers is None:
        raw = os.environ.get(WORKERS_ENV, "").strip()
        if not raw or reload:
            return None
        try:
            workers = int(raw)
        except ValueError:
            raise ConfigurationError(
                f"{WORKERS_ENV} must be a whole number of worker processes, got {raw!r}"
            ) from None
    if workers < 1:
        raise ConfigurationError(f"workers must be at least 1, got {workers}")
    if reload and workers > 1:
        raise ConfigurationError(
            "reload runs a single process; drop --reload or --workers (reload is on by default "
            "when DEBUG is true: pass --no-reload)"
        )
    return workers


def _setting(app: object, name: str, *, default: object = None) -> object:
    settings = getattr(app, "settings", None)
    return getattr(settings, name, default)


def _int_setting(app: object, name: str) -> int | None:
    value = _setting(app, name)
    # NOTE: zero or a negative count means "no limit" for the concurrency setting.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _shutdown_seconds(app: object) -> int:
    return _int_setting(app, "SHUTDOWN_TIMEOUT_SECONDS") or GRACEFUL_SHUTDOWN_SECONDS


def _is_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _needs_import_string(reload: bool, workers: int | None) -> bool:
    return reload or (workers is not None and workers > 1)


def _import_target(loaded: LoadedApp) -> tuple[str, bool]:
    if loaded.import_string is not None:
        return loaded.import_string, loaded.factory
    derived = import_string_for(loaded.app)
    if derived is None:
        raise ConfigurationError(_RELOAD_HINT)
    return derived, False


def build_uvicorn_options(
    app: object,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    reload: bool = False,
    workers: int | None = None,
    reload_dirs: Sequence[str | os.PathLike[str]] | None = None,
    log_level: str | None = None,
    factory: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Build the keyword options for ``uvicorn.run`` from the app's settings.

    Args:
        app: The app object, whose ``settings`` supply the server limits.
        host: Interface to bind.
        port: TCP port to bind.
        reload: Restart on code changes.
        workers: Worker processes, or None for one.
        reload_dirs: Folders to watch when reloading.
        log_level: The server's log level.
        factory: Whether the import string names an app factory.
        **options: Extra options; they override the computed ones.

    Returns:
        Keyword arguments for ``uvicorn.run`` (everything but the app).
    """
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        # PERF: the C parser and event loop when installed (uvicorn[standard]).
        "http": "httptools" if _is_installed("httptools") else "h11",
        "loop": "uvloop" if _is_installed("uvloop") else "asyncio",
        "ws": "websockets-sansio" if _is_installed("websockets") else "auto",
        "lifespan": "on",
        # SECURITY: forwarded headers are trusted only by the framework's proxy settings.
        "proxy_headers": False,
        "server_header": False,
        "date_header": True,
        # NOTE: h11 enforces this head limit; httptools has its own, and the app checks too.
        "h11_max_incomplete_event_size": _int_setting(app, "MAX_REQUEST_HEAD_BYTES"),
        "ws_max_size": _int_setting(app, "WEBSOCKET_MAX_MESSAGE_BYTES") or 16 * 1024 * 1024,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,
        "limit_concurrency": _int_setting(app, "SERVER_LIMIT_CONCURRENCY"),
        # NOTE: on SIGTERM uvicorn stops accepting, then waits this long for in-flight requests.
        "timeout_graceful_shutdown": _shutdown_seconds(app),
        # PERF: uvicorn's access log costs a log record per request; Flasgo logs its own.
        "access_log": False,
        "reload": reload,
        "workers": workers,
        "factory": factory,
        "log_level": log_level,
    }
    if reload:
        config["reload_dirs"] = [str(Path(folder)) for folder in reload_dirs or ()] or None
    config.update(options)
    return config


def _serve_uvicorn(loaded: LoadedApp, common: dict[str, Any], options: dict[str, Any]) -> None:
    try:
        import uvicorn
    except ImportError:
        raise ConfigurationError(
            "uvicorn is not installed; pip install 'flasgo[uvicorn]' or pick --server granian"
        ) from None
    target: AppObject | str = loaded.app
    factory = False
    if _needs_import_string(common["reload"], common["workers"]):
        target, factory = _import_target(loaded)
    config = build_uvicorn_options(loaded.app, factory=factory, **common, **options)
    uvicorn.run(target, **config)


def build_granian_options(
    app: object,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    reload: bool = False,
    workers: int | None = None,
    reload_dirs: Sequence[str | os.PathLike[str]] | None = None,
    log_level: str | None = None,
    factory: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Build the keyword options for ``granian.Granian`` (plain values, not granian's enums).

    Args:
        app: The app object; one with ``__rsgi__`` is served over RSGI, any other over ASGI.
        host: Interface to bind.
        port: TCP port to bind.
        reload: Restart on code changes.
        workers: Worker processes, or None for one.
        reload_dirs: Folders to watch when reloading.
        log_level: The server's log level.
        factory: Whether the target names an app factory.
        **options: Extra options; they override the computed ones.

    Returns:
        Keyword arguments for ``granian.Granian`` (everything but the target).
    """
    config: dict[str, Any] = {
        "address": host,
        "port": port,
        "interface": "rsgi" if hasattr(app, "__rsgi__") else "asgi",
        "workers": workers or 1,
        "reload": reload,
        "factory": factory,
        "websockets": True,
        # NOTE: how long a stopping worker may take to finish its requests before it is killed.
        "workers_kill_timeout": _shutdown_seconds(app),
    }
    backpressure = _int_setting(app, "SERVER_LIMIT_CONCURRENCY")
    if backpressure is not None:
        config["backpressure"] = backpressure
    if reload and reload_dirs:
        config["reload_paths"] = [Path(folder) for folder in reload_dirs]
    if log_level is not None:
        config["log_level"] = log_level.lower()
    config.update(options)
    return config


def _serve_granian(loaded: LoadedApp, common: dict[str, Any], options: dict[str, Any]) -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.log import LogLevels
    except ImportError:
        raise ConfigurationError(
            "granian is not installed; pip install 'flasgo[granian]'"
        ) from None
    # NOTE: granian always loads the app in its own worker processes, by import string.
    target, factory = _import_target(loaded)
    config = build_granian_options(loaded.app, factory=factory, **common, **options)
    config["interface"] = Interfaces(config["interface"])
    if "log_level" in config:
        config["log_level"] = LogLevels(config["log_level"])
    Granian(target, **config).serve()
