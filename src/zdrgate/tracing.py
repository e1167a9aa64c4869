"""Optional OpenTelemetry traces, one span per model-serving request, metadata only.

Spans are made from the usage event when a request ends, not by instrumenting the
request path: a span can then hold only what a usage row holds (ids, counts, status,
timing), never a prompt, a completion or a header. Attribute names follow the GenAI
semantic conventions (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``error.type``); the span name is
``"{operation} {model}"`` as they prescribe. Off unless ``telemetry.otlp_endpoint`` is set
(needs ``pip install 'zdrgate[otel]'``).

Usage::

    spans = SpanRecorder.otlp("http://collector:4318/v1/traces", service_name="zdrgate")
    spans.observe(event, ttft_seconds=None)   # from the usage recorder
    spans.shutdown()                          # flush at exit
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from zdrgate.metrics import KIND, OPERATIONS

if TYPE_CHECKING:
    from zdrgate.accounts.usage_event import UsageEvent
    from zdrgate.catalog.model import Catalog


class SpanRecorder:
    def __init__(self, exporter: SpanExporter, catalog: Catalog, service_name: str) -> None:
        resource = Resource.create({"service.name": service_name})
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("zdrgate")
        self._models = frozenset(catalog.models)
        self._providers = {
            e.id: e.provider.id for m in catalog.models.values() for e in m.endpoints
        }

    @classmethod
    def otlp(cls, endpoint: str, catalog: Catalog, service_name: str) -> SpanRecorder:
        from zdrgate.upstream.telemetry import otlp_exporter  # noqa: PLC0415

        return cls(otlp_exporter(endpoint), catalog, service_name)

    def observe(self, event: UsageEvent, ttft_seconds: float | None = None) -> None:
        model = event.model if event.model in self._models else "unknown"
        endpoint = event.endpoint if event.endpoint in self._providers else None
        operation = OPERATIONS.get(event.route, "other")
        end_ns = time.time_ns()
        start_ns = end_ns - int(event.latency_ms * 1_000_000)
        attributes: dict[str, str | int | float | bool] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": event.prompt_tokens,
            "gen_ai.usage.output_tokens": event.completion_tokens,
            "http.response.status_code": event.status,
            "zdrgate.route": event.route,
            "zdrgate.stream": event.stream,
            "zdrgate.attempts": event.attempts,
            "zdrgate.cost_usd": event.cost_usd,
        }
        if endpoint is not None:
            attributes["gen_ai.provider.name"] = self._providers[endpoint]
            attributes["zdrgate.endpoint"] = endpoint
        if ttft_seconds is not None:
            attributes["gen_ai.server.time_to_first_token"] = ttft_seconds
        span = self._tracer.start_span(
            f"{operation} {model}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=start_ns,
        )
        if event.status >= 400:
            # error.type is the gateway's own code (a fixed set), never upstream text.
            kind = event.error_kind or str(event.status)
            span.set_attribute("error.type", kind if KIND.fullmatch(kind) else "other")
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end_ns)

    def shutdown(self) -> None:
        self._provider.shutdown()
