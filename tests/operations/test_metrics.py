"""Prometheus metrics: the families, the protected endpoint, refusals, lag, multiprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from flasgo import Flasgo
from flasgo.exceptions import ConfigurationError
from tests.conftest import TEST_SECRET_KEY, AppFactory, ClientFactory

pytest.importorskip("prometheus_client")

TOKEN = "metrics-token-" + "m" * 40
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]


def metrics_app(make_app: AppFactory, **settings: Any) -> Flasgo:
    app = make_app(METRICS_ENABLED=True, METRICS_BEARER_TOKEN=TOKEN, **settings)

    @app.get("/users/<int:user_id>")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.get("/in-flight")
    async def in_flight() -> dict[str, float | None]:
        assert app.metrics is not None
        return {"value": app.metrics.registry.get_sample_value("flasgo_http_requests_in_flight")}

    return app


def sample(app: Flasgo, name: str, **labels: str) -> float | None:
    assert app.metrics is not None
    value: float | None = app.metrics.registry.get_sample_value(name, labels)
    return value


def test_requests_are_counted_by_route_template_method_and_status(
    make_app: AppFactory, make_client: ClientFactory
):
    app = metrics_app(make_app)
    client = make_client(app)
    client.get("/users/1")
    client.get("/users/2")
    client.get("/users/x")  # no route takes it: 404 under one label, not the path
    client.get("/nowhere/at/all")

    matched = {"method": "GET", "route": "/users/<int:user_id>"}
    assert sample(app, "flasgo_http_requests_total", **matched, status="200") == 2
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert sample(app, "flasgo_http_requests_total", **unmatched) == 2
    assert sample(app, "flasgo_http_request_duration_seconds_count", **matched) == 2
    assert sample(app, "flasgo_http_requests_in_flight") == 0


def test_in_flight_counts_the_request_being_handled(
    make_app: AppFactory, make_client: ClientFactory
):
    app = metrics_app(make_app)
    assert make_client(app).get("/in-flight").json() == {"value": 1.0}


def test_unknown_methods_share_one_label(make_app: AppFactory, make_client: ClientFactory):
    app = metrics_app(make_app)
    make_client(app).request("BREW", "/users/1")
    labels = {"method": "OTHER", "route": "/users/<int:user_id>", "status": "405"}
    assert sample(app, "flasgo_http_requests_total", **labels) == 1


def test_the_endpoint_serves_the_exposition_with_the_token(
    make_app: AppFactory, make_client: ClientFactory
):
    app = metrics_app(make_app)
    client = make_client(app)
    client.get("/users/7")

    response = client.get("/metrics", headers=AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert (
        'flasgo_http_requests_total{method="GET",route="/users/<int:user_id>",status="200"} 1.0'
        in response.text
    )
    assert "flasgo_event_loop_lag_seconds_bucket" in response.text
    assert "/metrics" not in app.openapi()["paths"]


def test_openmetrics_is_served_when_asked_for(make_app: AppFactory, make_client: ClientFactory):
    client = make_client(metrics_app(make_app))
    accept = {"accept": "application/openmetrics-text; version=1.0.0", **AUTH}
    response = client.get("/metrics", headers=accept)
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token-" + "w" * 40},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": "Bearer \u00e9"},
    ],
    ids=["missing", "wrong", "other-scheme", "longer", "non-ascii"],
)
def test_the_endpoint_refuses_without_the_token(
    make_app: AppFactory,
    make_client: ClientFactory,
    security_events: list[str],
    headers: dict[str, str],
):
    app = metrics_app(make_app)
    response = make_client(app).get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert TOKEN not in response.text
    assert security_events == ["metrics-auth-failed"]
    assert sample(app, "flasgo_security_refusals_total", reason="metrics-auth-failed") == 1


def test_failed_scrapes_count_towards_the_security_throttle(
    make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
):
    app = metrics_app(make_app, SECURITY_FAILURE_RATE_LIMIT=2)
    client = make_client(app)
    statuses = [client.get("/metrics").status_code for _ in range(3)]
    # Once throttled, even the right token is turned away before it is checked.
    throttled = client.get("/metrics", headers=AUTH)

    assert statuses == [401, 401, 429]
    assert throttled.status_code == 429
    assert (
        security_events
        == ["metrics-auth-failed"] * 2 + ["security-failure-rate-limit-exceeded"] * 2
    )
    assert sample(app, "flasgo_security_refusals_total", reason="metrics-auth-failed") == 2


def test_security_refusals_are_counted_by_reason(
    make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
):
    app = metrics_app(make_app)
    client = make_client(app)
    client.get("/users/1", headers={"host": "evil.example"})
    client.get("/users/1", headers={"host": "evil.example"})

    assert security_events == ["host-check-failed", "host-check-failed"]
    assert sample(app, "flasgo_security_refusals_total", reason="host-check-failed") == 2
    refused = {"method": "GET", "route": "<unmatched>", "status": "400"}
    assert sample(app, "flasgo_http_requests_total", **refused) == 2


def test_metrics_path_is_configurable(make_app: AppFactory, make_client: ClientFactory):
    client = make_client(metrics_app(make_app, METRICS_PATH="/internal/prometheus"))
    assert client.get("/internal/prometheus", headers=AUTH).status_code == 200
    assert client.get("/metrics", headers=AUTH).status_code == 404


def test_metrics_off_leaves_the_request_path_untouched(make_app: AppFactory):
    app = make_app()
    app.freeze()
    assert app.metrics is None
    assert app.pipeline is not None
    # PERF: no wrapper at all, the server calls the pipeline's entry directly.
    assert app._http == app.pipeline.handle


def test_metrics_need_a_token() -> None:
    with pytest.raises(ConfigurationError, match="METRICS_ENABLED=True requires"):
        Flasgo({"METRICS_ENABLED": True})


def test_event_loop_lag_is_sampled_while_the_app_runs(
    make_app: AppFactory, make_client: ClientFactory
):
    app = metrics_app(make_app, METRICS_EVENT_LOOP_INTERVAL_SECONDS=0.01)
    with make_client(app):
        assert app.metrics is not None
        assert app.metrics.sampling
        for _ in range(500):  # bounded wait for the first samples; asserts no timing
            if (sample(app, "flasgo_event_loop_lag_seconds_count") or 0) >= 2:
                break
            time.sleep(0.01)
        assert (sample(app, "flasgo_event_loop_lag_seconds_count") or 0) >= 2
    assert not app.metrics.sampling


def test_event_loop_lag_sampling_can_be_turned_off(
    make_app: AppFactory, make_client: ClientFactory
):
    app = metrics_app(make_app, METRICS_EVENT_LOOP_ENABLED=False)
    with make_client(app):
        assert app.metrics is not None
        assert not app.metrics.sampling


WORKER = """
import sys
from flasgo import Flasgo

app = Flasgo({{"SECRET_KEY": {key!r}, "METRICS_ENABLED": True, "METRICS_BEARER_TOKEN": {token!r}}})

@app.get("/hit")
async def hit():
    return "hit"

client = app.test_client()
for _ in range(int(sys.argv[1])):
    client.get("/hit")
response = client.get("/metrics", headers={{"authorization": "Bearer {token}"}})
print(response.text)
"""


def test_workers_sharing_a_multiprocess_folder_report_the_sum(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER.format(key=TEST_SECRET_KEY, token=TOKEN)))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "shared")}
    (tmp_path / "shared").mkdir()

    def run(hits: int) -> str:
        done = subprocess.run(
            [sys.executable, str(script), str(hits)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    run(3)
    report = run(4)

    line = 'flasgo_http_requests_total{method="GET",route="/hit",status="200"} 7.0'
    assert line in report, json.dumps(report)
