"""OpenTelemetry tracing (``otel`` extra): one server span per HTTP request.

With ``OTEL_ENABLED`` the app builds an SDK `TracerProvider` (``service.name`` and
``service.version`` from ``OTEL_SERVICE_NAME``/``OTEL_SERVICE_VERSION``, a parent-based
ratio sampler from ``OTEL_TRACE_SAMPLE_RATIO``), installs it as the global provider when
``OTEL_SET_GLOBAL_PROVIDER``, and exports over OTLP/HTTP when
``opentelemetry-exporter-otlp-proto-http`` is installed (configured by the standard
``OTEL_EXPORTER_OTLP_*`` variables); add your own processors to ``app.tracing.provider``.

Each request's span continues the caller's trace from a valid ``traceparent`` header; a
malformed one starts a new trace (never an error). The span is named ``METHOD <route
template>`` once routing is known (``METHOD`` alone when no route took the request, ``HTTP``
for methods outside the standard set) and carries the path, the status and the query's keys
with every value replaced by ``REDACTED``. Paths in ``OTEL_EXCLUDED_PATHS`` are not traced.
The handler runs inside the span, so spans it starts are its children.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from flasgo.context import find_request
from flasgo.exceptions import ConfigurationError

if TYPE_CHECKING:
    from flasgo.settings import Settings

__all__ = ["Tracing", "redact_query", "traced"]

Entry = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_KEY_BYTES = 64
_MAX_KEYS = 32
_CARRIED = (b"traceparent", b"tracestate")

log = logging.getLogger("flasgo.tracing")


def redact_query(query: bytes) -> str:
    """`query` with each value replaced by ``REDACTED`` (keys kept, cut to 64 bytes)."""
    fields = [field for field in query.split(b"&") if field][:_MAX_KEYS]
    # SECURITY: values carry tokens, emails and the like; only the keys reach the trace.
    return "&".join(
        field.partition(b"=")[0][:_MAX_KEY_BYTES].decode("latin-1") + "=REDACTED"
        for field in fields
    )


class Tracing:
    """The app's tracer provider and tracer.

    Args:
        settings: The app's settings (``OTEL_*``).
        provider: A tracer provider the caller made and owns (``Flasgo(tracer_provider=...)``):
            used as it is, never shut down here; None builds one from the settings.

    Raises:
        ConfigurationError: The otel extra is not installed.
    """

    def __init__(self, settings: Settings, provider: Any = None) -> None:
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
        except ImportError:
            raise ConfigurationError(
                "OTEL_ENABLED needs OpenTelemetry, which is not installed; "
                "pip install 'flasgo[otel]'"
            ) from None
        self.owned = provider is None
        if provider is None:
            attributes = {"service.name": settings.OTEL_SERVICE_NAME}
            if settings.OTEL_SERVICE_VERSION is not None:
                attributes["service.version"] = settings.OTEL_SERVICE_VERSION
            provider = TracerProvider(
                resource=Resource.create(attributes),
                sampler=ParentBased(TraceIdRatioBased(settings.OTEL_TRACE_SAMPLE_RATIO)),
            )
            _add_otlp_exporter(provider)
            if settings.OTEL_SET_GLOBAL_PROVIDER:
                trace.set_tracer_provider(provider)
        self.provider = provider
        self.tracer = self.provider.get_tracer("flasgo")
        self.propagator = TraceContextTextMapPropagator()
        self.excluded = settings.OTEL_EXCLUDED_PATHS
        self.server_kind = trace.SpanKind.SERVER

    async def shutdown(self) -> None:
        """Flush and stop the span processors (lifespan shutdown) of a provider made here."""
        if self.owned:
            self.provider.shutdown()


def _add_otlp_exporter(provider: Any) -> None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError:
        log.info("tracing-without-exporter: install opentelemetry-exporter-otlp-proto-http")
        return
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))


def traced(entry: Entry, tracing: Tracing) -> Entry:
    """`entry` with each request inside a server span."""
    from opentelemetry.trace import Status, StatusCode

    tracer, propagator, excluded = tracing.tracer, tracing.propagator, tracing.excluded
    kind = tracing.server_kind

    async def trace_request(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path in excluded:
            await entry(scope, receive, send)
            return
        carrier = {
            name.decode(): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _CARRIED
        }
        method = scope["method"]
        name = method if method in _METHODS else "HTTP"
        attributes: dict[str, Any] = {
            "http.request.method": name if name != "HTTP" else "_OTHER",
            "url.path": path,
            "url.scheme": scope.get("scheme", "http"),
        }
        if query := scope.get("query_string"):
            attributes["url.query"] = redact_query(query)
        with tracer.start_as_current_span(
            name, context=propagator.extract(carrier), kind=kind, attributes=attributes
        ) as span:

            async def watch(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    request = find_request()
                    if request is not None and request.rule is not None:
                        span.update_name(f"{name} {request.rule.rule}")
                        span.set_attribute("http.route", request.rule.rule)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await entry(scope, receive, watch)

    return trace_request
