"""The ``flasgo`` command line: ``run`` serves an app, ``worker`` runs its tasks, ``routes``
lists its URL rules, ``openapi`` exports its OpenAPI document, ``check --deploy`` lists its
production problems, ``check --against SNAPSHOT`` fails when a control got weaker than a policy
snapshot, ``new`` writes a project, ``shell`` opens a console with the app, ``settings`` shows
the effective settings and where each came from.

Importing this module costs click and the settings table only: discovery, the app and the
servers load when a command runs. Errors in the user's target end the command with exit status 2
and a one-paragraph message, never a traceback.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flasgo.settings import find_setting

if TYPE_CHECKING:
    from flasgo.discovery import LoadedApp

__all__ = ["cli", "load_app", "main"]

HOST_ENV = "FLASGO_HOST"
PORT_ENVS = ("FLASGO_PORT", "PORT")
RELOAD_ENV = "FLASGO_RELOAD"
WORKERS_ENV = "WEB_CONCURRENCY"
ACCESS_LOG_ENV = find_setting("ACCESS_LOG").env
AUTOMATIC_METHODS = frozenset({"HEAD", "OPTIONS"})
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

_TARGET_HELP = (
    "TARGET is a file (app.py, app.py:app, an extensionless file), a package folder or "
    "module:attr; without it FLASGO_APP, [tool.flasgo] app in pyproject.toml, then app.py, "
    "main.py or asgi.py is used."
)


class TargetError(click.ClickException):
    """The target names no loadable app (exit status 2, like a usage error)."""

    exit_code = 2


def load_app(target: str | None = None) -> Any:
    """Import and return the app a CLI target names (upstream Flasgo's helper).

    Args:
        target: ``app.py``, ``app.py:app``, ``package.module:attr``, a package folder...; None
            finds it as the commands do (``FLASGO_APP``, ``[tool.flasgo] app``, ``app.py``).

    Raises:
        flasgo.discovery.AppNotFoundError: The target cannot be imported or holds no app.
    """
    from flasgo.discovery import load_app as discover

    return discover(target).app


def _load(
    target: str | None, app_option: str | None, defaults: dict[str, str] | None = None
) -> LoadedApp:
    from flasgo.discovery import AppNotFoundError, load_app
    from flasgo.envfile import EnvFileError, load_env_file

    # `.env` in the working folder fills variables the environment lacks (FLASGO_SKIP_DOTENV
    # skips it); read before the app is imported, since its settings read the environment.
    try:
        load_env_file()
    except EnvFileError as exc:
        raise TargetError(str(exc)) from exc
    for name, value in (defaults or {}).items():
        os.environ.setdefault(name, value)

    if target and app_option and target != app_option:
        raise click.UsageError(f"Give the app once: TARGET {target!r} or --app {app_option!r}")
    try:
        return load_app(target or app_option)
    except AppNotFoundError as exc:
        raise TargetError(str(exc)) from exc


_app_option = click.option(
    "-a", "--app", "app_option", metavar="TARGET", help="The app to load (same as TARGET)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flasgo", prog_name="flasgo")
def cli() -> None:
    """Flasgo: run an app and look inside it."""


@cli.command(epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar=HOST_ENV,
    help=f"Interface to bind [env {HOST_ENV}].",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    envvar=list(PORT_ENVS),
    help="TCP port [env FLASGO_PORT, then PORT].",
)
@click.option(
    "--reload/--no-reload",
    default=None,
    envvar=RELOAD_ENV,
    help=f"Restart on code changes [default: the app's DEBUG; env {RELOAD_ENV}].",
)
@click.option(
    "--reload-dir",
    "reload_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder to watch when reloading (repeatable).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    # NOTE: no envvar here: `serve` reads the WORKERS setting, then WEB_CONCURRENCY, so that
    # `flasgo run` and `app.run()` pick the same count.
    help=(
        f"Worker processes [default: the app's WORKERS setting "
        f"(env {find_setting('WORKERS').env}), "
        f"then env {WORKERS_ENV}, then 1]."
    ),
)
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default="uvicorn",
    show_default=True,
    help="The server to run the app under.",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="The server's log level.",
)
def run(
    *,
    target: str | None,
    app_option: str | None,
    host: str,
    port: int,
    reload: bool | None,
    reload_dirs: tuple[str, ...],
    workers: int | None,
    server: str,
    log_level: str | None,
) -> None:
    """Serve the app at TARGET (uvicorn by default; 127.0.0.1:8000)."""
    from flasgo import serving
    from flasgo.exceptions import ConfigurationError

    # The access log is on under `flasgo run` unless the app's code, the environment or .env
    # says otherwise; the variable reaches reload and worker processes too.
    loaded = _load(target, app_option, {ACCESS_LOG_ENV: "on"})
    _configure_logging(loaded.app)
    click.echo(f"Serving {loaded.source} on http://{_url_host(host)}:{port}", err=True)
    try:
        serving.serve(
            loaded,
            host=host,
            port=port,
            reload=reload,
            workers=workers,
            server=server,
            reload_dirs=list(reload_dirs) or None,
            log_level=log_level.lower() if log_level else None,
        )
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command(epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option(
    "-q",
    "--queue",
    "queues",
    multiple=True,
    help="A queue to run (repeatable) [default: every queue the app's tasks use].",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks per queue at once [default: the app's TASKS_CONCURRENCY].",
)
def worker(
    *, target: str | None, app_option: str | None, queues: tuple[str, ...], concurrency: int | None
) -> None:
    """Run the durable tasks of the app at TARGET until SIGINT or SIGTERM, then drain."""
    from flasgo.app import Flasgo
    from flasgo.tasks.model import TaskBackendError
    from flasgo.tasks.runtime import run_worker

    loaded = _load(target, app_option)
    if not isinstance(loaded.app, Flasgo):
        raise TargetError(
            f"'{loaded.source}' is not a Flasgo app (it has no tasks), so it has no tasks to run"
        )
    try:
        run_worker(
            loaded.app,
            queues=queues,
            concurrency=concurrency,
            on_ready=lambda worker: click.echo(
                f"Worker {worker.name} of {loaded.source} running queues "
                f"{', '.join(f'{name}={limit}' for name, limit in worker.queues.items())}",
                err=True,
            ),
        )
    except TaskBackendError as exc:
        raise click.ClickException(str(exc)) from exc


def _configure_logging(app: object) -> None:
    from flasgo.logs import configure_logging
    from flasgo.settings import Settings

    settings = getattr(app, "settings", None)
    if isinstance(settings, Settings):
        configure_logging(format=settings.LOG_FORMAT, level=settings.LOG_LEVEL)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@cli.command(epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option("--json", "as_json", is_flag=True, help="Print the routes as JSON.")
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS too.")
@click.option(
    "--policy",
    is_flag=True,
    help="Print the policy snapshot (JSON) that `check --against` compares with.",
)
def routes(
    *, target: str | None, app_option: str | None, as_json: bool, all_methods: bool, policy: bool
) -> None:
    """List the URL rules of the app at TARGET, sorted by rule."""
    loaded = _load(target, app_option)
    if policy:
        click.echo(json.dumps(_snapshot(loaded), indent=2, sort_keys=True))
        return
    rules = getattr(loaded.app, "url_map", None)
    if rules is None:
        raise TargetError(
            f"'{loaded.source}' is not a Flasgo app (it has no url_map), so it has no routes "
            "to list"
        )
    rows = sorted(
        (_route_row(rule) for rule in rules), key=lambda row: (row["rule"], row["endpoint"])
    )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No routes.")
        return
    table = [("METHODS", "RULE", "ENDPOINT")]
    table += [
        (_methods_cell(row, all_methods=all_methods), row["rule"], row["endpoint"]) for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(2)]
    for methods, rule, endpoint in table:
        click.echo(f"{methods:<{widths[0]}}  {rule:<{widths[1]}}  {endpoint}".rstrip())


def _route_row(rule: object) -> dict[str, Any]:
    return {
        "rule": str(getattr(rule, "rule", "")),
        "methods": [str(method) for method in getattr(rule, "methods", ())],
        "endpoint": str(getattr(rule, "endpoint", "")),
        "websocket": bool(getattr(rule, "websocket", False)),
    }


def _methods_cell(row: dict[str, Any], *, all_methods: bool) -> str:
    if row["websocket"]:
        return "WS"
    methods: list[str] = row["methods"]
    shown = methods if all_methods else [m for m in methods if m not in AUTOMATIC_METHODS]
    return ",".join(shown or methods)


@cli.command(epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    show_default=True,
    help="Write the JSON to FILE (replaced atomically) instead of standard output.",
)
def openapi(*, target: str | None, app_option: str | None, output: str) -> None:
    """Export the OpenAPI 3.1 document of the app at TARGET as JSON."""
    loaded = _load(target, app_option)
    build = getattr(loaded.app, "openapi", None)
    if not callable(build):
        raise TargetError(
            f"'{loaded.source}' is not a Flasgo app (it has no openapi()), so it has no "
            "OpenAPI document to export"
        )
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        write_atomic(Path(output), text)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote the OpenAPI document of {loaded.source} to {output}", err=True)


@cli.command(epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option("--deploy", is_flag=True, help="Check the settings for production.")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option(
    "--against",
    "against",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A policy snapshot (`routes --policy`); exit 1 if a control or route got weaker.",
)
def check(
    *,
    target: str | None,
    app_option: str | None,
    deploy: bool,
    as_json: bool,
    against: Path | None,
) -> None:
    """Check the app at TARGET; with --deploy, list its production problems (exit 1 on errors)."""
    from flasgo.security.checks import deploy_problems, has_errors
    from flasgo.settings import Settings

    loaded = _load(target, app_option)
    settings = getattr(loaded.app, "settings", None)
    if not isinstance(settings, Settings):
        raise TargetError(
            f"'{loaded.source}' is not a Flasgo app (it has no Flasgo settings), so there is "
            "nothing to check"
        )
    if against is not None:
        _check_against(loaded, against, as_json=as_json)
    problems = deploy_problems(settings) if deploy else []
    errors = sum(problem.level == "error" for problem in problems)
    if as_json:
        report = {
            "target": loaded.source,
            "deploy": deploy,
            "errors": errors,
            "warnings": len(problems) - errors,
            "problems": [problem.as_dict() for problem in problems],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for problem in problems:
            click.echo(f"{problem.code} {problem.level:<7} {problem.setting}: {problem.message}")
            click.echo(f"{'':14}fix: {problem.fix}")
        click.echo(_check_summary(loaded.source, deploy, errors, len(problems) - errors))
    if has_errors(problems):
        raise click.exceptions.Exit(1)


def _snapshot(loaded: LoadedApp) -> dict[str, Any]:
    snapshot = getattr(loaded.app, "policy_snapshot", None)
    if snapshot is None:
        raise TargetError(f"'{loaded.source}' is not a Flasgo app, so it has no policy")
    result: dict[str, Any] = snapshot()
    return result


def _check_against(loaded: LoadedApp, path: Path, *, as_json: bool) -> None:
    from flasgo.exceptions import ConfigurationError
    from flasgo.policy import weakened

    try:
        baseline = json.loads(path.read_text(encoding="utf-8"))
        problems = weakened(baseline, _snapshot(loaded))
    except (OSError, ValueError, ConfigurationError) as exc:
        raise TargetError(f"{path}: {exc}") from exc
    if as_json:
        click.echo(json.dumps({"target": loaded.source, "weakened": problems}, indent=2))
    else:
        for problem in problems:
            click.echo(f"weakened {problem}")
        click.echo(
            f"{loaded.source}: {len(problems)} control(s) weaker than {path}."
            if problems
            else f"{loaded.source}: no control weaker than {path}."
        )
    if problems:
        raise click.exceptions.Exit(1)


def _check_summary(source: str, deploy: bool, errors: int, warnings: int) -> str:
    if not deploy:
        return f"{source} loads. Pass --deploy to check its settings for production."
    if not errors and not warnings:
        return f"{source}: no deployment problems found."
    return f"{source}: {errors} error(s), {warnings} warning(s)."


@cli.command()
@click.argument("name")
@click.option(
    "--template",
    type=click.Choice(["api", "web", "realtime"]),
    default="api",
    show_default=True,
    help="api: JSON routes; web: an HTML page with a CSRF-protected form; realtime: WebSocket.",
)
@click.option(
    "--directory",
    type=click.Path(exists=True, file_okay=False, writable=True),
    default=".",
    show_default=True,
    help="The folder to create the project in.",
)
def new(*, name: str, template: str, directory: str) -> None:
    """Create the project NAME (a Python identifier) from a template; never overwrites."""
    from flasgo.project import ProjectError, create_project

    try:
        path = create_project(name, Path(directory), template)
    except ProjectError as exc:
        raise TargetError(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"Cannot create {name}: {exc.strerror or exc}") from exc
    click.echo(f"Created {path} from the {template} template.")
    click.echo(f"Next: cd {path} && make test")


@cli.command(epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option("--plain", is_flag=True, help="Use the standard console even with IPython.")
def shell(*, target: str | None, app_option: str | None, plain: bool) -> None:
    """Open a Python console with the app at TARGET loaded (``app``, ``current_app``)."""
    from flasgo.shell import run_shell

    loaded = _load(target, app_option)
    run_shell(loaded.app, loaded.source, plain=plain)


@cli.command(name="settings", epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_app_option
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def settings_command(*, target: str | None, app_option: str | None, as_json: bool) -> None:
    """Show the effective settings of the app at TARGET: value (secrets masked) and source."""
    from flasgo.provenance import effective_settings
    from flasgo.settings import Settings

    loaded = _load(target, app_option)
    settings = getattr(loaded.app, "settings", None)
    if not isinstance(settings, Settings):
        raise TargetError(
            f"'{loaded.source}' is not a Flasgo app (it has no Flasgo settings), so there are "
            "no settings to show"
        )
    rows = effective_settings(settings)
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    width = max(len(row.name) for row in rows)
    for row in rows:
        click.echo(f"{row.name:<{width}}  {row.value}  [{row.source}]")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) so readers see the old file or the new one, never
    a partial write; an existing file's permission bits are kept.

    Raises:
        OSError: The folder is not writable or the disk is full.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.chmod(mode)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def main(args: list[str] | None = None) -> None:
    """Run the ``flasgo`` command (the console script and ``python -m flasgo``).

    Args:
        args: Command-line arguments; defaults to ``sys.argv[1:]``.
    """
    cli.main(args=args, prog_name="flasgo")
