"""Prometheus metrics (``metrics`` extra: prometheus-client), served at ``METRICS_PATH``.

`Metrics` owns an app-local registry with the ``flasgo_*`` families: requests by method, route
template and status; a latency histogram; requests in flight; security refusals by reason
(fed by `Pipeline.refuse`, which every refusal passes through); event-loop lag when
``METRICS_EVENT_LOOP_ENABLED``. The route label is the rule (``/users/<int:id>``), or
``<unmatched>`` for requests no route took, so a scanner cannot grow the label set.

With several worker processes set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before the
workers start (prometheus-client's multiprocess mode): every worker writes its values there
and the endpoint, whichever worker answers, reports the sum.

The endpoint answers GET only, to ``Authorization: Bearer <METRICS_BEARER_TOKEN>``; anything
else is refused with 401 (``metrics-auth-failed``) and counts against the client like any
failed security check. Rendering runs in the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from flasgo.exceptions import ConfigurationError, HTTPException
from flasgo.request import Request  # NOTE: the handler's annotation is read at runtime
from flasgo.response import Response
from flasgo.security.refusal import Refusal

if TYPE_CHECKING:
    from flasgo.concurrency import ThreadPool
    from flasgo.settings import Settings

__all__ = ["UNMATCHED", "Metrics", "MetricsApp", "Refuser", "install_metrics"]

UNMATCHED = "<unmatched>"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOUNDS = (*(repr(bound) for bound in _LATENCY_BUCKETS), "+Inf")
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_CHALLENGE = {"www-authenticate": 'Bearer realm="metrics"'}
_REQUESTS_HELP = "HTTP requests answered, by method, route template and status."
_LATENCY_HELP = "Time from a request's arrival to the end of its response, by route template."
_IN_FLIGHT_HELP = "HTTP requests being handled now."
_REFUSALS_HELP = "Requests refused by a security check or a limit, by reason code."
_UNAUTHORIZED = "Metrics need Authorization: Bearer <METRICS_BEARER_TOKEN>."


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ConfigurationError(
            "METRICS_ENABLED needs prometheus-client, which is not installed; "
            "pip install 'flasgo[metrics]'"
        ) from None
    return prometheus_client


class _LocalRecorder:
    """The request families of one process, kept in plain dicts and exported on scrape.

    PERF: prometheus-client takes a lock and walks its buckets on every update (several µs a
    request on the benchmark machine); here a request costs two dict updates and a bisect,
    and only the scrape builds the metric families. Every update runs on the event loop's
    thread, so no lock is needed.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.counts: dict[tuple[str, str, int], int] = {}
        # Per (method, route): a count per latency bucket (the last one +Inf), then the sum.
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.refusals: dict[str, int] = {}

    def begin(self) -> None:
        self.in_flight += 1

    def end(self, method: str, route: str, status: int, seconds: float) -> None:
        self.in_flight -= 1
        if method not in _METHODS:
            method = "OTHER"  # SECURITY: clients choose methods; the label set stays bounded
        key = (method, route, status)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        buckets = self.latency.get((method, route))
        if buckets is None:
            buckets = self.latency[method, route] = [0.0] * (len(_LATENCY_BUCKETS) + 2)
        buckets[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        buckets[-1] += seconds

    def refused(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def collect(self) -> Iterator[Any]:
        """The families, for prometheus-client's registry (called on scrape)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        requests = CounterMetricFamily(
            "flasgo_http_requests", _REQUESTS_HELP, labels=("method", "route", "status")
        )
        for (method, route, status), count in list(self.counts.items()):
            requests.add_metric((method, route, str(status)), count)
        yield requests
        latency = HistogramMetricFamily(
            "flasgo_http_request_duration_seconds", _LATENCY_HELP, labels=("method", "route")
        )
        for labels, buckets in list(self.latency.items()):
            cumulative: list[tuple[str, float]] = []
            running = 0.0
            for bound, hits in zip(_BOUNDS, buckets, strict=False):
                running += hits
                cumulative.append((bound, running))
            latency.add_metric(labels, cumulative, buckets[-1])
        yield latency
        yield GaugeMetricFamily(
            "flasgo_http_requests_in_flight", _IN_FLIGHT_HELP, value=self.in_flight
        )
        refusals = CounterMetricFamily(
            "flasgo_security_refusals", _REFUSALS_HELP, labels=("reason",)
        )
        for reason, count in list(self.refusals.items()):
            refusals.add_metric((reason,), count)
        yield refusals


class _SharedRecorder:
    """The request families through prometheus-client's metric objects, whose values live in
    ``PROMETHEUS_MULTIPROC_DIR`` so that every worker's count adds up (slower per request)."""

    def __init__(self, prometheus: Any, registry: Any) -> None:
        self.requests = prometheus.Counter(
            "flasgo_http_requests", _REQUESTS_HELP, ("method", "route", "status"),
            registry=registry,
        )  # fmt: skip
        self.latency = prometheus.Histogram(
            "flasgo_http_request_duration_seconds", _LATENCY_HELP, ("method", "route"),
            buckets=_LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.in_flight = prometheus.Gauge(
            "flasgo_http_requests_in_flight", _IN_FLIGHT_HELP, registry=registry,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.refusals = prometheus.Counter(
            "flasgo_security_refusals", _REFUSALS_HELP, ("reason",), registry=registry
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def begin(self) -> None:
        self.in_flight.inc()

    def end(self, method: str, route: str, status: int, seconds: float) -> None:
        self.in_flight.dec()
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            shown = method if method in _METHODS else "OTHER"
            children = (
                self.requests.labels(shown, route, str(status)),
                self.latency.labels(shown, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()


class Metrics:
    """The app's metric families and how they are rendered.

    `begin` and `end` bracket each request (`flasgo.observer`), `refused` counts a refusal
    (`Pipeline.refuse`).

    Args:
        settings: The app's settings (``METRICS_*``).
    """

    def __init__(self, settings: Settings) -> None:
        prometheus = _prometheus()
        self.registry = prometheus.CollectorRegistry()
        self.lag_interval = settings.METRICS_EVENT_LOOP_INTERVAL_SECONDS
        self.samples_lag = settings.METRICS_EVENT_LOOP_ENABLED
        self.shared = bool(os.environ.get(MULTIPROCESS_ENV))
        recorder: _LocalRecorder | _SharedRecorder
        if self.shared:
            recorder = _SharedRecorder(prometheus, self.registry)
        else:
            recorder = _LocalRecorder()
            self.registry.register(recorder)
        # PERF: the recorder's bound methods, so a request pays one attribute lookup each.
        self.begin = recorder.begin
        self.end = recorder.end
        self.refused = recorder.refused
        self.loop_lag = prometheus.Histogram(
            "flasgo_event_loop_lag_seconds",
            "How late the event loop woke a sleeper (sampled every "
            "METRICS_EVENT_LOOP_INTERVAL_SECONDS).",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self._sampler: asyncio.Task[None] | None = None

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition text and its content type (OpenMetrics when `accept` asks)."""
        prometheus = _prometheus()
        from prometheus_client.exposition import choose_encoder

        registry = self.registry
        if self.shared:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = prometheus.CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        encode, content_type = choose_encoder(accept or "")
        return encode(registry), content_type

    # -- event-loop lag --------------------------------------------------------------------

    @property
    def sampling(self) -> bool:
        """Whether the event-loop lag sampler is running."""
        return self._sampler is not None and not self._sampler.done()

    async def start_sampler(self) -> None:
        """Start sampling event-loop lag (lifespan startup) when the settings ask for it."""
        if self.samples_lag and self._sampler is None:
            self._sampler = asyncio.create_task(self._sample(), name="flasgo-loop-lag")

    async def stop_sampler(self) -> None:
        """Stop the sampler (lifespan shutdown)."""
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.lag_interval
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            self.loop_lag.observe(max(0.0, loop.time() - started - interval))


class Refuser(Protocol):
    """The one refusal path (`flasgo.pipeline.Pipeline.refuse`)."""

    async def refuse(self, request: Request, refusal: Refusal) -> HTTPException:
        """Log and count `refusal`; the error to send."""
        ...


class MetricsApp(Protocol):
    """What the metrics endpoint needs from the app (`flasgo.Flasgo` is one)."""

    settings: Settings
    thread_pool: ThreadPool

    @property
    def pipeline(self) -> Refuser | None:
        """The compiled pipeline (set once the app is frozen)."""
        ...

    def add_route(
        self,
        rule: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        """Register `endpoint` for `rule`."""
        ...


def install_metrics(app: MetricsApp, metrics: Metrics) -> None:
    """Register the metrics endpoint at ``METRICS_PATH`` (called when ``METRICS_ENABLED``)."""
    expected = f"Bearer {app.settings.METRICS_BEARER_TOKEN}".encode()

    async def metrics_endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        # SECURITY: constant-time comparison; the token is never logged.
        if not hmac.compare_digest(given, expected):
            pipeline = app.pipeline
            assert pipeline is not None  # requests arrive only once the app is frozen
            error = HTTPException(401, _UNAUTHORIZED, _CHALLENGE)
            raise await pipeline.refuse(request, Refusal(error, "metrics-auth-failed"))
        body, content_type = await app.thread_pool.run(
            metrics.render, request.headers.get("accept")
        )
        return Response(body, content_type=content_type)

    # The metrics endpoint is not part of the API the OpenAPI document describes.
    app.add_route(
        app.settings.METRICS_PATH,
        metrics_endpoint,
        name="flasgo_metrics",
        include_in_schema=False,
    )
