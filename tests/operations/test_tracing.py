"""OpenTelemetry spans: names, parents from traceparent, redacted queries, exclusions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from flasgo import Flasgo
from flasgo.tracing import redact_query
from tests.conftest import TEST_SECRET_KEY, AppFactory, ClientFactory

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def traced_app(make_app: AppFactory, **settings: Any) -> tuple[Flasgo, InMemorySpanExporter]:
    app = make_app(OTEL_ENABLED=True, OTEL_SET_GLOBAL_PROVIDER=False, **settings)
    exporter = InMemorySpanExporter()
    assert app.tracing is not None
    app.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = app.tracing.provider.get_tracer("handler")

    @app.get("/users/<int:user_id>")
    async def user(user_id: int) -> dict[str, int]:
        with tracer.start_as_current_span("load user"):
            return {"id": user_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app, exporter


def spans(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_a_span_per_request_named_by_route_template(
    make_app: AppFactory, make_client: ClientFactory
):
    app, exporter = traced_app(make_app, OTEL_SERVICE_NAME="shop", OTEL_SERVICE_VERSION="1.2")
    make_client(app).get("/users/7?email=ada@example.com&token=s3cret")

    found = spans(exporter)
    server, child = found["GET /users/<int:user_id>"], found["load user"]
    assert server.kind == trace.SpanKind.SERVER
    assert server.attributes is not None
    assert dict(server.attributes) == {
        "http.request.method": "GET",
        "url.path": "/users/7",
        "url.scheme": "http",
        "url.query": "email=REDACTED&token=REDACTED",
        "http.route": "/users/<int:user_id>",
        "http.response.status_code": 200,
    }
    assert server.parent is None
    assert child.parent is not None
    assert child.parent.span_id == server.context.span_id
    assert server.resource.attributes["service.name"] == "shop"
    assert server.resource.attributes["service.version"] == "1.2"


def test_a_valid_traceparent_continues_the_callers_trace(
    make_app: AppFactory, make_client: ClientFactory
):
    app, exporter = traced_app(make_app)
    header = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"
    make_client(app).get("/users/1", headers={"traceparent": header})

    server = spans(exporter)["GET /users/<int:user_id>"]
    assert format(server.context.trace_id, "032x") == PARENT_TRACE
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_SPAN


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"00-{'0' * 32}-{PARENT_SPAN}-01",  # all-zero trace id
        f"00-{PARENT_TRACE}-{'0' * 16}-01",  # all-zero span id
        f"ff-{PARENT_TRACE}-{PARENT_SPAN}-01",  # forbidden version
        f"00-{PARENT_TRACE.upper()}-{PARENT_SPAN}-01",  # upper-case hex
        f"00-{PARENT_TRACE}-{PARENT_SPAN}-01\r\nx-evil: 1",
        "00-" + "a" * 5000,
    ],
    ids=["garbage", "zero-trace", "zero-span", "version-ff", "upper", "crlf", "long"],
)
def test_a_malformed_traceparent_starts_a_new_trace(
    make_app: AppFactory, make_client: ClientFactory, header: str
):
    app, exporter = traced_app(make_app)
    response = make_client(app).get("/users/1", headers={"traceparent": header})

    assert response.status_code == 200
    server = spans(exporter)["GET /users/<int:user_id>"]
    assert server.parent is None
    assert format(server.context.trace_id, "032x") != PARENT_TRACE


def test_errors_unmatched_paths_and_odd_methods(make_app: AppFactory, make_client: ClientFactory):
    app, exporter = traced_app(make_app)
    client = make_client(app)
    client.get("/boom")
    client.get("/no/such/path")
    client.request("BREW", "/users/1")

    found = spans(exporter)
    assert found["GET /boom"].status.status_code == trace.StatusCode.ERROR
    assert found["GET"].attributes is not None
    assert found["GET"].attributes["http.response.status_code"] == 404
    assert "http.route" not in found["GET"].attributes
    brew = found["HTTP /users/<int:user_id>"]
    assert brew.attributes is not None
    assert brew.attributes["http.request.method"] == "_OTHER"


def test_excluded_paths_and_sampling(make_app: AppFactory, make_client: ClientFactory):
    app, exporter = traced_app(make_app, OTEL_EXCLUDED_PATHS={"/users/1"})
    client = make_client(app)
    client.get("/users/1")
    client.get("/users/2")
    paths = [
        span.attributes["url.path"]
        for span in exporter.get_finished_spans()
        if span.attributes is not None and "url.path" in span.attributes
    ]
    assert paths == ["/users/2"]

    unsampled, nothing = traced_app(make_app, OTEL_TRACE_SAMPLE_RATIO=0.0)
    assert make_client(unsampled).get("/users/3").status_code == 200
    assert nothing.get_finished_spans() == ()


def test_tracing_off_builds_nothing(make_app: AppFactory):
    app = make_app()
    app.freeze()
    assert app.tracing is None
    assert app.pipeline is not None
    assert app._http == app.pipeline.handle


@pytest.mark.parametrize(
    ("query", "redacted"),
    [
        (b"a=1&b=2", "a=REDACTED&b=REDACTED"),
        (b"flag&&x=", "flag=REDACTED&x=REDACTED"),
        (b"k" * 100 + b"=v", "k" * 64 + "=REDACTED"),
        (
            b"&".join(b"k%d=v" % n for n in range(40)),
            "&".join(f"k{n}=REDACTED" for n in range(32)),
        ),
    ],
)
def test_redact_query(query: bytes, redacted: str) -> None:
    assert redact_query(query) == redacted


GLOBAL_PROVIDER = """
from opentelemetry import trace
from flasgo import Flasgo

app = Flasgo({"OTEL_ENABLED": True})
assert trace.get_tracer_provider() is app.tracing.provider
off = Flasgo({"OTEL_ENABLED": True, "OTEL_SET_GLOBAL_PROVIDER": False})
assert trace.get_tracer_provider() is app.tracing.provider
print("ok")
"""


def test_the_global_provider_is_set_when_asked() -> None:
    # NOTE: OpenTelemetry sets the global provider once per process, so in a fresh one.
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(GLOBAL_PROVIDER)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_a_tracer_provider_of_your_own_is_used_and_left_running(
    make_client: ClientFactory,
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Upstream's constructor argument; OTEL_ENABLED stays at its default (off).
    app = Flasgo(settings={"SECRET_KEY": TEST_SECRET_KEY}, tracer_provider=provider)

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    with make_client(app) as client:  # runs the lifespan, shutdown included
        assert client.get("/ping").text == "pong"
    assert app.tracing is not None
    assert app.tracing.provider is provider
    assert list(spans(exporter)) == ["GET /ping"]
    # Not shut down by the app: the provider still records.
    with provider.get_tracer("after").start_as_current_span("later"):
        pass
    assert "later" in spans(exporter)
