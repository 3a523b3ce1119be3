"""Fixtures shared by the whole suite: the app factory, the client factory, security events, Redis.

A test builds a tiny app with `make_app`, registers its routes inline and drives it through a
client from `make_client` (or ``app.test_client()``, which is the same thing). A refusal test
asserts the status and the reason code: `refusal` gives both for one response, from
`security_events` (the names of the events logged on ``flasgo.security`` during the test, in
order); where no event is logged (404, 405, body limits) the reason is the response's detail.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeAlias

import pytest

from flasgo import Flasgo
from flasgo.ratelimit import RateLimitBackend
from flasgo.security.events import security_log
from flasgo.security.throttle import SecurityFailureThrottle
from flasgo.sessions import SessionBackend
from flasgo.testing import TestClient, TestResponse
from tests.asgi import Result
from tests.redis_server import redis_url

__all__ = [
    "TEST_SECRET_KEY",
    "AppBuilder",
    "AppFactory",
    "ClientFactory",
    "RefusalCheck",
    "make_app",
    "make_client",
    "redis_url",
    "refusal",
    "security_events",
]

# NOTE: a fixed key keeps signed values (sessions, CSRF tokens) the same from run to run and
# keeps the "generated key" warning out of the logs; tests of the missing-key path build
# `Flasgo()` themselves.
TEST_SECRET_KEY = "test-secret-key-" + "k" * 32


class AppFactory(Protocol):
    """Build a `Flasgo` app with the suite's defaults; keyword settings override them."""

    def __call__(
        self,
        *,
        session_backend: SessionBackend | None = None,
        rate_limiter: RateLimitBackend | None = None,
        security_throttle: SecurityFailureThrottle | None = None,
        **settings: Any,
    ) -> Flasgo: ...


# A test file's own builder: the shared factory plus the routes that file's tests drive.
AppBuilder: TypeAlias = Callable[..., Flasgo]


class RefusalCheck(Protocol):
    """``refusal(response)`` -> ``(status, *reason codes its request logged)``."""

    def __call__(self, response: TestResponse | Result, /) -> tuple[object, ...]: ...


class ClientFactory(Protocol):
    """Build a `TestClient` for `app`; keyword options are `TestClient`'s."""

    def __call__(self, app: Any, /, **options: Any) -> TestClient: ...


def _make_app(
    *,
    session_backend: SessionBackend | None = None,
    rate_limiter: RateLimitBackend | None = None,
    security_throttle: SecurityFailureThrottle | None = None,
    **settings: Any,
) -> Flasgo:
    # NOTE: every security default stays on (CSRF included): a test that switches one off
    # says so in its own call, so the suite keeps exercising the defaults users get.
    return Flasgo(
        {"SECRET_KEY": TEST_SECRET_KEY, **settings},
        session_backend=session_backend,
        rate_limiter=rate_limiter,
        security_throttle=security_throttle,
    )


def _make_client(app: Any, /, **options: Any) -> TestClient:
    return TestClient(app, **options)


# NOTE: both factories are stateless, so they are session-scoped: Hypothesis tests can use them
# without the function-scoped-fixture health check.
@pytest.fixture(scope="session")
def make_app() -> AppFactory:
    """The app factory: ``make_app(CSRF_ENABLED=False)`` -> a `Flasgo` with no routes yet."""
    return _make_app


@pytest.fixture(scope="session")
def make_client() -> ClientFactory:
    """The client factory: ``make_client(app, base_url="https://localhost")`` -> `TestClient`."""
    return _make_client


class _EventRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.events: list[str] = []
        self.by_request: list[tuple[str, str]] = []  # (request id, event)

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "security", None)
        if isinstance(fields, dict):
            self.events.append(str(fields["event"]))
            self.by_request.append((str(fields["request_id"]), str(fields["event"])))


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """Undo what loading an app file does to ``sys.path`` and ``sys.modules``.

    A test that loads ``app.py`` through the CLI would otherwise leave module ``app`` behind,
    and the next test's ``app.py`` would be refused as a different module of the same name.
    """
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


@pytest.fixture
def _security_recorder() -> Iterator[_EventRecorder]:
    recorder = _EventRecorder()
    level = security_log.level
    security_log.addHandler(recorder)
    security_log.setLevel(logging.DEBUG)
    try:
        yield recorder
    finally:
        security_log.removeHandler(recorder)
        security_log.setLevel(level)


@pytest.fixture
def security_events(_security_recorder: _EventRecorder) -> list[str]:
    """The names of the security events logged during the test, in order (a live list)."""
    return _security_recorder.events


@pytest.fixture
def refusal(_security_recorder: _EventRecorder) -> RefusalCheck:
    """The status of a response and the security events its request logged, in order.

    ``assert refusal(client.get("/x")) == (401, "permission-denied")``: the events are matched
    to the response by its ``X-Request-ID``, so each request is checked on its own; a request
    that logged nothing gives ``(200,)``, and so does a success without an ``X-Request-ID``
    (error responses always carry one). `response` is a `TestResponse` or a `tests.asgi`
    `Result`.
    """

    def check(response: TestResponse | Result, /) -> tuple[object, ...]:
        if isinstance(response, Result):
            status, request_id = response.status, response.header("x-request-id")
        else:
            status, request_id = response.status_code, response.headers.get("x-request-id")
        if request_id is None and status < 400:
            return (status,)  # NOTE: only error responses always carry their request id
        assert request_id, "an error response without X-Request-ID: its events are unknown"
        events = [event for rid, event in _security_recorder.by_request if rid == request_id]
        return (status, *events)

    return check
