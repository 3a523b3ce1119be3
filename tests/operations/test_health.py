"""Health endpoints: /healthz, /readyz with pluggable checks, timeouts, draining at shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from flasgo import Flasgo
from flasgo.exceptions import ConfigurationError
from tests.conftest import AppFactory, ClientFactory


def test_health_endpoints_are_off_by_default(make_app: AppFactory, make_client: ClientFactory):
    client = make_client(make_app())
    assert client.get("/healthz").status_code == 404
    assert client.get("/readyz").status_code == 404


def test_liveness_and_readiness_without_checks(make_app: AppFactory, make_client: ClientFactory):
    app = make_app(HEALTH_ENABLED=True)
    client = make_client(app)

    live = client.get("/healthz")
    ready = client.get("/readyz")

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {}})
    assert live.headers["cache-control"] == "no-store"
    assert "/healthz" not in app.openapi()["paths"]


def test_readiness_runs_sync_and_async_checks(make_app: AppFactory, make_client: ClientFactory):
    app = make_app(HEALTH_ENABLED=True)
    calls: list[str] = []

    @app.health.check
    def database() -> None:
        calls.append("database")

    @app.health.check(name="queue")
    async def queue_ready() -> bool:
        calls.append("queue")
        return True

    response = make_client(app).get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "queue": "ok"}}
    assert sorted(calls) == ["database", "queue"]


def test_a_failing_check_makes_readiness_503_without_leaking_its_error(
    make_app: AppFactory, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
):
    app = make_app(HEALTH_ENABLED=True)
    app.health.add("ok", lambda: None)
    app.health.add("false", lambda: False)

    async def broken() -> None:
        raise OSError("connection refused by db.internal:5432 password=hunter2")

    app.health.add("broken", broken)
    client = make_client(app)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"ok": "ok", "false": "failed", "broken": "failed"},
    }
    assert "hunter2" not in response.text
    assert "hunter2" not in caplog.text
    assert "readiness-check-failed check=broken error=OSError" in caplog.text
    # Liveness runs no checks: a failing dependency does not get the process restarted.
    assert client.get("/healthz").status_code == 200


def test_a_hanging_async_check_times_out_with_503(make_app: AppFactory, make_client: ClientFactory):
    app = make_app(HEALTH_ENABLED=True, HEALTH_CHECK_TIMEOUT_SECONDS=0.05)

    @app.health.check
    async def hangs() -> None:
        await asyncio.Event().wait()

    response = make_client(app).get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"hangs": "timeout"}}


def test_a_hanging_sync_check_times_out_with_503(make_app: AppFactory, make_client: ClientFactory):
    app = make_app(HEALTH_ENABLED=True, HEALTH_CHECK_TIMEOUT_SECONDS=0.05)
    release = threading.Event()

    @app.health.check
    def blocks() -> None:
        release.wait(10)  # bounded, so a broken build cannot hang the suite

    try:
        response = make_client(app).get("/readyz")
    finally:
        release.set()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"blocks": "timeout"}}


def test_readiness_is_503_once_shutdown_starts(make_app: AppFactory, make_client: ClientFactory):
    app = make_app(HEALTH_ENABLED=True)
    client = make_client(app)
    with client:
        assert client.get("/readyz").status_code == 200
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (503, {"status": "draining"})
    assert client.get("/healthz").status_code == 200


def test_health_paths_answer_get_only(make_app: AppFactory, make_client: ClientFactory):
    client = make_client(make_app(HEALTH_ENABLED=True, CSRF_ENABLED=False))
    response = client.post("/readyz")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_health_endpoints_keep_the_host_check(
    make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
):
    client = make_client(make_app(HEALTH_ENABLED=True))
    response = client.get("/healthz", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert security_events == ["host-check-failed"]


def test_check_names_must_be_new_and_checks_callable() -> None:
    app = Flasgo()
    app.health.add("db", lambda: None)
    with pytest.raises(ValueError, match="new, non-empty name"):
        app.health.add("db", lambda: None)
    with pytest.raises(ValueError, match="new, non-empty name"):
        app.health.add("", lambda: None)
    with pytest.raises(TypeError, match="not callable"):
        app.health.add("x", "not a function")  # type: ignore[arg-type]


def test_health_timeout_setting_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="HEALTH_CHECK_TIMEOUT_SECONDS must be"):
        Flasgo({"HEALTH_CHECK_TIMEOUT_SECONDS": 0})


def test_redis_url_adds_a_redis_check(
    make_app: AppFactory, make_client: ClientFactory, redis_url: str
):
    app = make_app(HEALTH_ENABLED=True, REDIS_URL=redis_url)
    with make_client(app) as client:
        response = client.get("/readyz")
    assert response.json() == {"status": "ready", "checks": {"redis": "ok"}}


def test_an_unreachable_redis_is_not_ready(make_app: AppFactory, make_client: ClientFactory):
    # NOTE: port 1 on loopback refuses connections at once.
    app = make_app(HEALTH_ENABLED=True, REDIS_URL="redis://127.0.0.1:1/0")
    with make_client(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"redis": "failed"}}
