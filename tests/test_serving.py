"""serve(): server options from settings, reload/workers import strings, granian."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flasgo import Flasgo
from flasgo.discovery import LoadedApp
from flasgo.exceptions import ConfigurationError
from flasgo.serving import (
    build_granian_options,
    build_uvicorn_options,
    resolve_workers,
    serve,
)

# Several workers need one configured SECRET_KEY (security/checks.py).
SHARED_KEY = {"SECRET_KEY": "k" * 8 + "Zq3_vT9xLw2Ry8Pn4Hc6Bd1Mf5Gj7Ks0"}


class Recorder:
    """Stands in for ``uvicorn.run`` and records how it was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, dict[str, Any]]] = []

    def __call__(self, app: object, **options: Any) -> None:
        self.calls.append((app, options))

    @property
    def only(self) -> tuple[object, dict[str, Any]]:
        assert len(self.calls) == 1
        return self.calls[0]


@pytest.fixture
def uvicorn_run(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    import uvicorn

    recorder = Recorder()
    monkeypatch.setattr(uvicorn, "run", recorder)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    return recorder


def test_uvicorn_options_come_from_settings() -> None:
    app = Flasgo(
        settings={
            "MAX_REQUEST_HEAD_BYTES": 8192,
            "WEBSOCKET_MAX_MESSAGE_BYTES": 4096,
            "SERVER_LIMIT_CONCURRENCY": 50,
        }
    )

    options = build_uvicorn_options(app, host="0.0.0.0", port=9000)

    assert options["host"] == "0.0.0.0"
    assert options["port"] == 9000
    assert options["h11_max_incomplete_event_size"] == 8192
    assert options["ws_max_size"] == 4096
    assert options["limit_concurrency"] == 50
    assert options["timeout_graceful_shutdown"] == 10
    assert options["lifespan"] == "on"
    assert options["ws_per_message_deflate"] is False
    assert options["date_header"] is True
    assert options["reload"] is False
    assert options["workers"] is None
    assert options["factory"] is False


def test_proxy_headers_and_server_header_are_off() -> None:
    # SECURITY: X-Forwarded-* are trusted only through the framework's own proxy settings.
    options = build_uvicorn_options(Flasgo())

    assert options["proxy_headers"] is False
    assert options["server_header"] is False


def test_fast_implementations_are_chosen_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import flasgo.serving

    installed = build_uvicorn_options(Flasgo())
    monkeypatch.setattr(flasgo.serving, "_is_installed", lambda module: False)
    missing = build_uvicorn_options(Flasgo())

    assert (installed["http"], installed["loop"]) == ("httptools", "uvloop")
    assert (missing["http"], missing["loop"]) == ("h11", "asyncio")


def test_uvicorn_options_for_a_raw_asgi_app_keep_uvicorn_defaults() -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        pass

    options = build_uvicorn_options(raw)

    assert options["h11_max_incomplete_event_size"] is None
    assert options["limit_concurrency"] is None
    assert options["ws_max_size"] == 16 * 1024 * 1024


def test_extra_options_override_and_reload_dirs_are_strings(tmp_path: Path) -> None:
    options = build_uvicorn_options(
        Flasgo(), reload=True, reload_dirs=[tmp_path], access_log=True, root_path="/api"
    )

    assert options["reload_dirs"] == [str(tmp_path)]
    assert options["access_log"] is True
    assert options["root_path"] == "/api"


def test_serve_passes_the_app_object_for_one_process(uvicorn_run: Recorder) -> None:
    app = Flasgo()

    serve(app, host="127.0.0.2", port=8123, log_level="debug")

    target, options = uvicorn_run.only
    assert target is app
    assert (options["host"], options["port"], options["log_level"]) == ("127.0.0.2", 8123, "debug")
    assert options["reload"] is False


def test_reload_defaults_to_debug_and_uses_the_import_string(uvicorn_run: Recorder) -> None:
    app = Flasgo(settings={"DEBUG": True})

    serve(LoadedApp(app, "project.web:app", app_dir=None))

    target, options = uvicorn_run.only
    assert target == "project.web:app"
    assert options["reload"] is True
    assert options["factory"] is False


def test_explicit_reload_false_beats_debug(uvicorn_run: Recorder) -> None:
    app = Flasgo(settings={"DEBUG": True})

    serve(app, reload=False)

    target, options = uvicorn_run.only
    assert target is app
    assert options["reload"] is False


def test_workers_pass_a_factory_import_string(uvicorn_run: Recorder) -> None:
    serve(LoadedApp(Flasgo(SHARED_KEY), "project:create_app", factory=True), workers=3)

    target, options = uvicorn_run.only
    assert target == "project:create_app"
    assert options["factory"] is True
    assert options["workers"] == 3


def test_web_concurrency_sets_workers(
    uvicorn_run: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")

    serve(LoadedApp(Flasgo(SHARED_KEY), "project:app"))

    target, options = uvicorn_run.only
    assert target == "project:app"
    assert options["workers"] == 4


def test_serve_loads_a_target_string(uvicorn_run: Recorder, tmp_path: Path) -> None:
    name = "serving_target_module"
    (tmp_path / f"{name}.py").write_text("from flasgo import Flasgo\napp = Flasgo()\n")
    try:
        serve(str(tmp_path / f"{name}.py"), reload=True)
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(tmp_path.resolve()))

    target, _ = uvicorn_run.only
    assert target == f"{name}:app"


def test_import_string_is_derived_for_a_script_app(
    uvicorn_run: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flasgo()
    main = ModuleType("__main__")
    main.__file__ = str(tmp_path / "myscript.py")
    main.app = app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "path", list(sys.path))

    serve(app, reload=True)

    target, _ = uvicorn_run.only
    assert target == "myscript:app"


def test_reload_without_an_import_string_says_to_use_flasgo_run(uvicorn_run: Recorder) -> None:
    with pytest.raises(ConfigurationError, match=r"flasgo run path/to/file\.py --reload"):
        serve(Flasgo(), reload=True)

    assert uvicorn_run.calls == []


def test_resolve_workers() -> None:
    assert resolve_workers(None, reload=False) is None
    assert resolve_workers(2, reload=False) == 2
    assert resolve_workers(1, reload=True) == 1


def test_resolve_workers_rejects_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "many")

    with pytest.raises(ConfigurationError, match=r"WEB_CONCURRENCY must be a whole number"):
        resolve_workers(None, reload=False)
    with pytest.raises(ConfigurationError, match=r"at least 1"):
        resolve_workers(0, reload=False)
    with pytest.raises(ConfigurationError, match=r"reload runs a single process"):
        resolve_workers(2, reload=True)
    # The reloader runs one process, so the environment's worker count does not apply.
    assert resolve_workers(None, reload=True) is None


def test_unknown_server(uvicorn_run: Recorder) -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown server 'gunicorn'"):
        serve(Flasgo(), server="gunicorn")


def test_granian_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import granian` raise ImportError.
    monkeypatch.setitem(sys.modules, "granian", None)

    with pytest.raises(ConfigurationError) as info:
        serve(LoadedApp(Flasgo(), "project:app"), server="granian")

    assert str(info.value) == "granian is not installed; pip install 'flasgo[granian]'"


def test_uvicorn_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)

    with pytest.raises(ConfigurationError, match=r"pip install 'flasgo\[uvicorn\]'"):
        serve(Flasgo())


def test_granian_options() -> None:
    class RSGIApp:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            pass

        async def __rsgi__(self, scope: Any, protocol: Any) -> None:
            pass

    asgi = build_granian_options(
        Flasgo(settings={"SERVER_LIMIT_CONCURRENCY": 64}), host="0.0.0.0", port=9001
    )
    rsgi = build_granian_options(
        RSGIApp(), workers=2, reload=True, reload_dirs=["src"], log_level="DEBUG"
    )

    assert asgi["interface"] == "asgi"
    assert (asgi["address"], asgi["port"], asgi["workers"]) == ("0.0.0.0", 9001, 1)
    assert asgi["backpressure"] == 64
    assert rsgi["interface"] == "rsgi"
    assert rsgi["workers"] == 2
    assert rsgi["reload_paths"] == [Path("src")]
    assert rsgi["log_level"] == "debug"


def test_serve_runs_granian_with_an_import_string(monkeypatch: pytest.MonkeyPatch) -> None:
    granian = pytest.importorskip("granian")
    from granian.constants import Interfaces

    seen: list[tuple[str, dict[str, Any]]] = []

    class FakeGranian:
        def __init__(self, target: str, **options: Any) -> None:
            seen.append((target, options))

        def serve(self) -> None:
            seen.append(("served", {}))

    monkeypatch.setattr(granian, "Granian", FakeGranian)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)

    serve(LoadedApp(Flasgo(SHARED_KEY), "project:app"), server="granian", port=9002, workers=2)

    (target, options), served = seen
    assert target == "project:app"
    assert options["interface"] == Interfaces.ASGI
    assert (options["port"], options["workers"], options["reload"]) == (9002, 2, False)
    assert served[0] == "served"
