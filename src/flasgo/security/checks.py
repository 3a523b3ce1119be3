"""Deployment checks: settings that are fine on a laptop and dangerous in production.

`deploy_problems` lists each problem with a stable code (``FG001``...), a level and a one-line
fix; ``flasgo check --deploy`` prints them and fails on any error. `check_startup` runs once
when the app starts (lifespan startup, or the first request without lifespan): a missing
``SECRET_KEY`` logs one loud warning, and is an error when several workers would each invent
their own key. `require_shared_secret` is the same rule for `flasgo.serving.serve`.

Codes are stable: a code is never reused for another problem. ``FG011`` is kept for the
per-route "neither public nor authorized" check that arrives with auth (as upstream numbers it).
What a fix says about a key (its environment variable, its default) is read from the settings
table, `flasgo.settings.SETTINGS`, and every problem names a key of that table.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Final, Literal

from flasgo.exceptions import ConfigurationError
from flasgo.security.events import security_log
from flasgo.settings import Settings, find_setting

__all__ = [
    "GENERATED_KEY_WARNING",
    "PROCESS_LOCAL_STATE_WARNING",
    "Problem",
    "check_startup",
    "deploy_problems",
    "has_errors",
    "is_low_entropy",
    "require_shared_secret",
    "warn_process_local_state",
]

Level = Literal["error", "warning"]

WORKERS_ENV: Final = "WEB_CONCURRENCY"
_SECRET_KEY_ENV: Final = find_setting("SECRET_KEY").env
GENERATED_KEY_WARNING: Final = (
    "SECRET_KEY is not set: using a random per-process key; sessions and CSRF tokens will not "
    f"survive a restart or work across workers. Set {_SECRET_KEY_ENV}."
)
PROCESS_LOCAL_STATE_WARNING: Final = (
    "%d workers without REDIS_URL: rate limits, the security-failure throttle and the cache "
    "are kept per worker, so every limit is multiplied by the worker count. Set "
    f"{find_setting('REDIS_URL').env} to share them."
)
_KEYGEN: Final = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
_RECOMMENDED_SECRET_LENGTH: Final = 50
_MIN_SECRET_DISTINCT: Final = 5
_MIN_SECRET_BITS: Final = 96.0
# NOTE: words that turn up in hand-typed placeholder keys; a random key almost never holds one.
_PLACEHOLDER_WORDS: Final = ("changeme", "change-me", "change_me", "insecure", "secret", "password")
_LOCAL_HOSTS: Final = frozenset({"localhost", ".localhost", "127.0.0.1", "[::1]"})
_HSTS_MIN_SECONDS: Final = 31_536_000  # one year, the preload list's floor


@dataclass(frozen=True, slots=True)
class Problem:
    """One deployment problem.

    Attributes:
        code: The stable code, ``FG001`` to ``FG018``.
        level: ``"error"`` fails ``flasgo check --deploy``; ``"warning"`` is reported only.
        setting: The setting that causes it and fixes it.
        message: What is wrong.
        fix: One line saying how to fix it.
    """

    code: str
    level: Level
    setting: str
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        """Return the problem as a JSON-ready mapping."""
        return asdict(self)


def deploy_problems(settings: Settings) -> list[Problem]:
    """Check `settings` for production and return every problem found, ordered by code.

    Args:
        settings: The app's settings (``app.settings``).

    Returns:
        The problems; empty when the settings are fit for production.
    """
    problems = [problem for check in _CHECKS for problem in check(settings)]
    return sorted(problems, key=lambda problem: problem.code)


def has_errors(problems: list[Problem]) -> bool:
    """Whether any problem is error-level (``flasgo check --deploy`` then exits with 1)."""
    return any(problem.level == "error" for problem in problems)


def check_startup(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Run the startup checks once, when the app starts serving.

    A generated ``SECRET_KEY`` logs one WARNING on ``flasgo.security``; with
    ``WEB_CONCURRENCY`` above one or ``REDIS_URL`` set it is an error instead, because each
    process would sign with its own key and reject the others' sessions and CSRF tokens.

    Args:
        settings: The app's settings.
        environ: Where to read ``WEB_CONCURRENCY``; `os.environ` when None.

    Raises:
        ConfigurationError: Several workers, or ``REDIS_URL``, and no configured
            ``SECRET_KEY``.
    """
    if not settings.secret_key_is_generated:
        return
    workers = _worker_count((os.environ if environ is None else environ).get(WORKERS_ENV, ""))
    if workers > 1:
        raise _shared_secret_error(f"{WORKERS_ENV}={workers}")
    if settings.REDIS_URL:
        # SECURITY: REDIS_URL means other processes share the sessions; each would sign with
        # its own random key and refuse the others' sessions and CSRF tokens.
        raise _shared_secret_error("the processes sharing REDIS_URL")
    security_log.warning(GENERATED_KEY_WARNING)


def require_shared_secret(app: object, workers: int | None) -> None:
    """Refuse to start several workers for an app whose ``SECRET_KEY`` is generated.

    Args:
        app: The app to serve; objects without Flasgo settings are not checked.
        workers: The worker count `serve` resolved (None or 1 for one process).

    Raises:
        ConfigurationError: More than one worker and no configured ``SECRET_KEY``.
    """
    settings = getattr(app, "settings", None)
    if (
        workers is not None
        and workers > 1
        and isinstance(settings, Settings)
        and settings.secret_key_is_generated
    ):
        raise _shared_secret_error(f"{workers} workers")


def warn_process_local_state(app: object, workers: int | None) -> None:
    """Log a WARNING when several workers would each keep their own in-memory state.

    Without ``REDIS_URL``, rate limits, the security-failure throttle and the cache live in
    each process: N workers multiply every limit by N (Flask-Limiter warns the same way).

    Args:
        app: The app to serve; objects without Flasgo settings are not checked.
        workers: The worker count `serve` resolved.
    """
    settings = getattr(app, "settings", None)
    if (
        workers is not None
        and workers > 1
        and isinstance(settings, Settings)
        and not settings.REDIS_URL
    ):
        security_log.warning(PROCESS_LOCAL_STATE_WARNING, workers)


def _shared_secret_error(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"SECRET_KEY is not set, and {what} would each generate their own random key, so "
        f"sessions and CSRF tokens signed by one worker would be rejected by the others. "
        f"Set {_SECRET_KEY_ENV} to the same value for every worker (generate one with: "
        f"{_KEYGEN}), or run a single worker."
    )


def _worker_count(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        return 1  # serving.resolve_workers reports a malformed value where it is used


# --- the checks ---------------------------------------------------------------------------------

_Check = Callable[[Settings], Iterator[Problem]]


def _problem(code: str, level: Level, setting: str, message: str, fix: str) -> Problem:
    find_setting(setting)  # NOTE: a problem always names a key of the table; a typo raises here.
    return Problem(code, level, setting, message, fix)


def _env(name: str, value: str) -> str:
    """Spell ``FLASGO_<NAME>=value`` with the variable the settings table gives the key."""
    return f"{find_setting(name).env}={value}"


def _debug(settings: Settings) -> Iterator[Problem]:
    if settings.DEBUG:
        yield _problem(
            "FG001",
            "error",
            "DEBUG",
            "DEBUG is on: error pages show tracebacks and the reloader may run.",
            f"Set DEBUG=False ({_env('DEBUG', 'false')}) in production.",
        )


def _secret_key(settings: Settings) -> Iterator[Problem]:
    if settings.secret_key_is_generated:
        yield _problem(
            "FG002",
            "error",
            "SECRET_KEY",
            "SECRET_KEY is not set: a random per-process key signs sessions and CSRF tokens, "
            "so they break on restart and across workers.",
            f"Set {_SECRET_KEY_ENV} to a stable random value: {_KEYGEN}",
        )
        return
    if len(settings.SECRET_KEY) < _RECOMMENDED_SECRET_LENGTH:
        yield _problem(
            "FG003",
            "warning",
            "SECRET_KEY",
            f"SECRET_KEY is {len(settings.SECRET_KEY)} characters long, shorter than the "
            f"recommended {_RECOMMENDED_SECRET_LENGTH}.",
            f"Use a longer random key: {_KEYGEN}",
        )
    keys = [("SECRET_KEY", settings.SECRET_KEY)]
    keys += [
        (f"SECRET_KEY_FALLBACKS[{index}]", key)
        for index, key in enumerate(settings.SECRET_KEY_FALLBACKS)
    ]
    for name, key in keys:
        if is_low_entropy(key):
            # SECURITY: the key itself is never part of the message.
            yield _problem(
                "FG004",
                "error",
                name.partition("[")[0],
                f"{name} looks hand-made or repetitive (low entropy), so it may be guessed.",
                f"Replace it with a random key: {_KEYGEN}",
            )


def is_low_entropy(key: str) -> bool:
    """Whether `key` looks guessable: few distinct characters, little estimated entropy, runs
    of neighbouring characters, or a placeholder word."""
    counts = Counter(key)
    if len(counts) < _MIN_SECRET_DISTINCT:
        return True
    # Shannon entropy of the key's own character frequencies, times its length: an upper
    # bound on what a repetitive or dictionary-like key carries.
    total = len(key)
    bits = -sum(count * math.log2(count / total) for count in counts.values())
    if bits < _MIN_SECRET_BITS:
        return True
    # Runs such as "abcdef" or "123456": neighbours one code point apart (or equal).
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in pairwise(key))
    if steps * 3 > total:
        return True
    lowered = key.lower()
    return any(word in lowered for word in _PLACEHOLDER_WORDS)


def _hosts(settings: Settings) -> Iterator[Problem]:
    if not settings.ENFORCE_ALLOWED_HOSTS:
        yield _problem(
            "FG005",
            "error",
            "ENFORCE_ALLOWED_HOSTS",
            "The Host allowlist is off: any Host header is accepted (poisoned absolute URLs, "
            "password-reset links, cache keys).",
            "Set ENFORCE_ALLOWED_HOSTS=True and list your domains in ALLOWED_HOSTS.",
        )
    elif settings.ALLOWED_HOSTS <= _LOCAL_HOSTS:
        yield _problem(
            "FG006",
            "warning",
            "ALLOWED_HOSTS",
            "ALLOWED_HOSTS lists only local names, so requests for your public domain get 400.",
            f"List your domains, e.g. {_env('ALLOWED_HOSTS', 'example.com,.example.com')}",
        )


def _cookies(settings: Settings) -> Iterator[Problem]:
    if not settings.SESSION_COOKIE_SECURE:
        yield _problem(
            "FG007",
            "error",
            "SESSION_COOKIE_SECURE",
            "The session cookie is sent over plain HTTP, where it can be read in transit.",
            "Set SESSION_COOKIE_SECURE=True and serve the site over HTTPS.",
        )
    if not settings.CSRF_COOKIE_SECURE:
        yield _problem(
            "FG008",
            "error",
            "CSRF_COOKIE_SECURE",
            "The CSRF cookie is sent over plain HTTP and may be set by a network attacker.",
            "Set CSRF_COOKIE_SECURE=True and serve the site over HTTPS.",
        )
    if settings.SESSION_COOKIE_SAME_SITE == "None":
        yield _problem(
            "FG009",
            "warning",
            "SESSION_COOKIE_SAME_SITE",
            "SameSite=None sends the session cookie on cross-site requests.",
            "Set SESSION_COOKIE_SAME_SITE='Lax' (or 'Strict') unless you embed the app cross-site.",
        )


def _hsts(settings: Settings) -> Iterator[Problem]:
    if settings.HSTS_SECONDS == 0:
        yield _problem(
            "FG010",
            "warning",
            "HSTS_SECONDS",
            "HSTS is off: browsers may reach the site over plain HTTP first.",
            "Set HSTS_SECONDS=63072000 (two years) once the whole site is on HTTPS.",
        )
    elif settings.HSTS_SECONDS < _HSTS_MIN_SECONDS:
        yield _problem(
            "FG012",
            "warning",
            "HSTS_SECONDS",
            f"HSTS_SECONDS={settings.HSTS_SECONDS} is under one year; browsers forget the "
            f"HTTPS-only rule quickly.",
            f"Set HSTS_SECONDS to at least {_HSTS_MIN_SECONDS} "
            f"({find_setting('HSTS_SECONDS').default} is the default).",
        )


def _docs(settings: Settings) -> Iterator[Problem]:
    if settings.ENABLE_DOCS and settings.DOCS_AUTH_BACKEND is None:
        yield _problem(
            "FG013",
            "error",
            "ENABLE_DOCS",
            f"The API docs ({settings.DOCS_PATH}, {settings.OPENAPI_PATH}) are public: they "
            f"map every route for an attacker.",
            "Set ENABLE_DOCS=False in production, or protect them with DOCS_AUTH_BACKEND.",
        )


def _csrf(settings: Settings) -> Iterator[Problem]:
    if not settings.CSRF_ENABLED:
        yield _problem(
            "FG014",
            "error",
            "CSRF_ENABLED",
            "CSRF protection is off: other sites can submit requests with your users' cookies.",
            "Set CSRF_ENABLED=True (exempt single routes instead of the whole app).",
        )


def _logging(settings: Settings) -> Iterator[Problem]:
    if not settings.LOG_SECURITY_EVENTS:
        yield _problem(
            "FG015",
            "warning",
            "LOG_SECURITY_EVENTS",
            "Security events (refused hosts, limits, CSRF failures) are not logged.",
            "Set LOG_SECURITY_EVENTS=True and collect the flasgo.security logger.",
        )
    if settings.TRUST_INCOMING_REQUEST_ID:
        yield _problem(
            "FG016",
            "warning",
            "TRUST_INCOMING_REQUEST_ID",
            "Clients can choose the request id written to your logs.",
            "Set TRUST_INCOMING_REQUEST_ID=False unless your edge proxy overwrites X-Request-ID.",
        )


def _ssrf(settings: Settings) -> Iterator[Problem]:
    if not settings.SSRF_ENABLED:
        yield _problem(
            "FG017",
            "warning",
            "SSRF_ENABLED",
            "The SSRF guard is off: outbound helpers may reach internal addresses.",
            "Set SSRF_ENABLED=True; allow specific hosts with SSRF_ALLOWED_HOSTS instead.",
        )


def _shared_state(settings: Settings) -> Iterator[Problem]:
    workers = settings.WORKERS
    if workers is not None and workers > 1 and not settings.REDIS_URL:
        yield _problem(
            "FG018",
            "warning",
            "REDIS_URL",
            f"WORKERS={workers} without REDIS_URL: rate limits, the security-failure throttle "
            "and the cache are per worker, so each limit is multiplied by the worker count.",
            f"Set {_env('REDIS_URL', 'redis://host:6379/0')} to share them between workers.",
        )


_CHECKS: Final[tuple[_Check, ...]] = (
    _debug,
    _secret_key,
    _hosts,
    _cookies,
    _hsts,
    _docs,
    _csrf,
    _logging,
    _ssrf,
    _shared_state,
)
