"""serve(): server options from settings, reload/workers import strings, granian."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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
    monkeypatch.delenv("FLASGO_WORKERS", raising=False)
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


# -- the WORKERS setting (FLASGO_WORKERS) --------------------------------------------------------


@pytest.fixture
def script_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Flasgo]:
    """Build an app that lives in a script's ``__main__``, as ``python myscript.py`` runs it."""
    monkeypatch.setattr(sys, "path", list(sys.path))

    def build(**settings: object) -> Flasgo:
        app = Flasgo(settings)
        main = ModuleType("__main__")
        main.__file__ = str(tmp_path / "myscript.py")
        main.app = app  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "__main__", main)
        return app

    return build


def test_flasgo_workers_starts_that_many_workers_through_app_run(
    uvicorn_run: Recorder, script_app: Callable[..., Flasgo], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASGO_WORKERS", "2")

    script_app(**SHARED_KEY).run()

    target, options = uvicorn_run.only
    # Several workers import the app by name in each process.
    assert (target, options["workers"], options["reload"]) == ("myscript:app", 2, False)


def test_one_worker_from_the_setting_serves_the_app_object(uvicorn_run: Recorder) -> None:
    app = Flasgo({"WORKERS": 1})

    app.run()

    target, options = uvicorn_run.only
    assert (target, options["workers"]) == (app, 1)


def test_the_workers_setting_beats_web_concurrency_and_loses_to_the_argument(
    uvicorn_run: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    app = Flasgo({**SHARED_KEY, "WORKERS": 2})

    serve(LoadedApp(app, "project:app"))
    serve(LoadedApp(app, "project:app"), workers=3)

    assert [options["workers"] for _, options in uvicorn_run.calls] == [2, 3]


def test_flasgo_workers_without_a_secret_key_is_an_error_naming_secret_key(
    uvicorn_run: Recorder, script_app: Callable[..., Flasgo], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASGO_WORKERS", "2")
    app = script_app()

    with pytest.raises(ConfigurationError) as info:
        app.run()

    assert str(info.value).startswith("SECRET_KEY is not set, and 2 workers would each generate")
    assert "Set FLASGO_SECRET_KEY to the same value for every worker" in str(info.value)
    assert uvicorn_run.calls == []


def test_the_workers_setting_with_reload_is_an_error_naming_the_variable(
    uvicorn_run: Recorder,
) -> None:
    app = Flasgo({**SHARED_KEY, "DEBUG": True, "WORKERS": 2})

    with pytest.raises(ConfigurationError) as info:
        serve(LoadedApp(app, "project:app"))

    assert str(info.value) == (
        "The WORKERS setting (FLASGO_WORKERS) asks for 2 worker processes, but reload runs a "
        "single process; unset it or pass --no-reload (reload is on by default when DEBUG is true)"
    )
    assert uvicorn_run.calls == []


def test_resolve_workers_with_the_setting() -> None:
    assert resolve_workers(None, reload=False, setting=2) == 2
    assert resolve_workers(3, reload=False, setting=2) == 3
    assert resolve_workers(None, reload=True, setting=1) == 1
    assert resolve_workers(None, reload=False, setting=None) is None


def test_granian_gets_the_workers_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    granian = pytest.importorskip("granian")

    seen: list[dict[str, Any]] = []

    class FakeGranian:
        def __init__(self, target: str, **options: Any) -> None:
            seen.append(options)

        def serve(self) -> None:
            pass

    monkeypatch.setattr(granian, "Granian", FakeGranian)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)

    serve(LoadedApp(Flasgo({**SHARED_KEY, "WORKERS": 2}), "project:app"), server="granian")

    assert seen[0]["workers"] == 2


WORKERS_SCRIPT = """
import os, sys
from flasgo import Flasgo

app = Flasgo()

@app.get("/")
def home():
    return "worker"

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


@pytest.mark.e2e
def test_flasgo_workers_2_really_starts_two_uvicorn_workers(tmp_path: Path) -> None:
    from tests.e2e.test_uvicorn import SHUTDOWN_SECONDS, fetch, free_port, wait_until_listening

    script = tmp_path / "workers_app.py"
    script.write_text(WORKERS_SCRIPT, encoding="utf-8")
    port, log = free_port(), tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASGO_", "WEB_CONC"))}
    env |= {"FLASGO_WORKERS": "2", "FLASGO_SECRET_KEY": SHARED_KEY["SECRET_KEY"]}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(script), str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listening(process, port, log)
        status, _, body = fetch(port, "GET", "/")
        # NOTE: the port listens once the first worker is up; wait for the second one too
        # (bounded), so that a busy machine does not stop the parent before it starts.
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        while log.read_text().count("Started server process") < 2 and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=SHUTDOWN_SECONDS)
    text = log.read_text()
    assert (status, body) == (200, b"worker")
    assert "Started parent process" in text
    assert text.count("Started server process") == 2
    assert "Traceback" not in text
