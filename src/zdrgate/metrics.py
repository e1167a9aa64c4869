"""Prometheus metrics built from usage events: metadata only, bounded label values.

Usage::

    metrics = Metrics(catalog)
    metrics.observe(event)          # per request, from the usage event (a few dict ops)
    text = metrics.exposition()     # at scrape time: the Prometheus text format

Names follow the OpenTelemetry GenAI semantic conventions where they exist
(``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``,
``gen_ai.server.time_to_first_token``, with their attributes ``gen_ai.operation.name``,
``gen_ai.provider.name``, ``gen_ai.request.model``, ``error.type``), written the way
OpenTelemetry's Prometheus exporter writes them (dots as underscores, unit suffixes).
zdrgate's own metrics start with ``zdrgate_``.

Every label value comes from the catalog (model ids, endpoint ids, provider ids) or a
fixed set (routes, status classes, error kinds): a client string can neither appear in
a label (it could be content) nor grow the number of series. Counting happens in plain
dicts on the request path; the metric families are built only when scraped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

if TYPE_CHECKING:
    from zdrgate.accounts.usage_event import UsageEvent
    from zdrgate.catalog.model import Catalog
    from zdrgate.limits.levels import BudgetLevels

DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
OPERATIONS = {
    "chat.completions": "chat",
    "messages": "chat",
    "responses": "chat",
    "images.generations": "generate_content",
    "embeddings": "embeddings",
}
KIND = re.compile(r"[a-z0-9_]{1,48}")
_MAX_KINDS = 64  # distinct error kinds kept; any beyond count as "other"

Key = tuple[str, ...]


class _Histogram:
    __slots__ = ("buckets", "counts", "sums")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts: dict[Key, list[int]] = {}
        self.sums: dict[Key, float] = {}

    def observe(self, key: Key, value: float) -> None:
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0] * (len(self.buckets) + 1)
            self.sums[key] = 0.0
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[key] += value

    def family(self, name: str, doc: str, labels: list[str], unit: str = "") -> Metric:
        family = HistogramMetricFamily(name, doc, labels=labels, unit=unit)
        for key, counts in self.counts.items():
            cumulative, running = [], 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                cumulative.append((_bound(bound), running))
            family.add_metric(list(key), cumulative, self.sums[key])
        return family


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


class Metrics:
    """Counters and histograms of one process; a registry renders them on scrape."""

    def __init__(self, catalog: Catalog) -> None:
        self._models = frozenset(catalog.models)
        self._providers = {
            e.id: e.provider.id for m in catalog.models.values() for e in m.endpoints
        }
        self.routable: Callable[[], Iterable[tuple[str, int]]] | None = None
        """Set by the app: (model id, routable endpoint count) pairs, read on scrape."""
        self._kinds: set[str] = set()
        self.requests: dict[Key, int] = {}
        self.cost: dict[Key, float] = {}
        self.fallbacks: dict[Key, int] = {}
        self.duration = _Histogram(DURATION_BUCKETS)
        self.tokens = _Histogram(TOKEN_BUCKETS)
        self.ttft = _Histogram(DURATION_BUCKETS)
        self._budgets: BudgetLevels | None = None  # read at scrape time, see exposition
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, event: UsageEvent, ttft_seconds: float | None = None) -> None:
        model = event.model if event.model in self._models else "unknown"
        endpoint = event.endpoint if event.endpoint in self._providers else "none"
        provider = self._providers.get(endpoint, "none")
        operation = OPERATIONS.get(event.route, "other")
        kind = self._kind(event.error_kind)
        key = (operation, model, endpoint, _status_class(event.status), kind)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.duration.observe((operation, provider, model, kind), event.latency_ms / 1000.0)
        if event.prompt_tokens:
            self.tokens.observe((operation, provider, model, "input"), event.prompt_tokens)
        if event.completion_tokens:
            self.tokens.observe((operation, provider, model, "output"), event.completion_tokens)
        if event.cost_usd:
            cost_key = (model, endpoint)
            self.cost[cost_key] = self.cost.get(cost_key, 0.0) + event.cost_usd
        if event.attempts > 1:
            self.fallbacks[(model,)] = self.fallbacks.get((model,), 0) + event.attempts - 1
        if ttft_seconds is not None:
            self.ttft.observe((operation, provider, model), ttft_seconds)

    def _kind(self, kind: str | None) -> str:
        if kind is None:
            return ""
        if kind in self._kinds:
            return kind
        if KIND.fullmatch(kind) and len(self._kinds) < _MAX_KINDS:
            self._kinds.add(kind)
            return kind
        return "other"

    def exposition(self, budgets: BudgetLevels | None = None) -> bytes:
        """The scrape; ``budgets`` (read from the counters just before) adds the
        budget families."""
        self._budgets = budgets
        try:
            return generate_latest(self.registry)
        finally:
            self._budgets = None

    def collect(self) -> Iterator[Metric]:
        """Called by the registry at scrape time."""
        requests = CounterMetricFamily(
            "zdrgate_requests",
            "Model-serving requests by operation, model, endpoint, status class, error kind.",
            labels=[
                "gen_ai_operation_name",
                "gen_ai_request_model",
                "endpoint",
                "status",
                "error_type",
            ],
        )
        yield _filled(requests, self.requests.items())
        yield self.duration.family(
            "gen_ai_client_operation_duration",
            "GenAI operation duration (whole request, all attempts).",
            ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"],
            unit="seconds",
        )
        yield self.tokens.family(
            "gen_ai_client_token_usage",
            "Tokens used per request, by type (input, output).",
            [
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
                "gen_ai_token_type",
            ],
        )
        yield self.ttft.family(
            "gen_ai_server_time_to_first_token",
            "Time from the request to the first streamed chunk.",
            ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
            unit="seconds",
        )
        cost = CounterMetricFamily(
            "zdrgate_cost_usd", "Cost metered, in USD.", labels=["gen_ai_request_model", "endpoint"]
        )
        yield _filled(cost, self.cost.items())
        fallbacks = CounterMetricFamily(
            "zdrgate_fallbacks", "Attempts beyond the first.", labels=["gen_ai_request_model"]
        )
        yield _filled(fallbacks, self.fallbacks.items())
        if self.routable is not None:
            routable = GaugeMetricFamily(
                "zdrgate_routable_endpoints",
                "Endpoints of each model that may receive a prompt right now.",
                labels=["gen_ai_request_model"],
            )
            yield _filled(routable, (((model,), count) for model, count in self.routable()))
        if self._budgets is not None:
            yield from budget_families(self._budgets)


def budget_families(levels: BudgetLevels) -> Iterator[Metric]:
    """Budgets by scope (key, account, team) and window (day, month): never an id."""
    pair = ["scope", "window"]
    yield _filled(
        GaugeMetricFamily(
            "zdrgate_budget_remaining_ratio",
            "Lowest fraction left of any budget checked today, by scope and window.",
            labels=pair,
        ),
        levels.lowest.items(),
    )
    yield _filled(
        GaugeMetricFamily(
            "zdrgate_budgets",
            "Budgets checked today by level: ok, low (under 10 % left), spent.",
            labels=[*pair, "level"],
        ),
        levels.counts.items(),
    )
    yield _filled(
        CounterMetricFamily(
            "zdrgate_budget_refusals",
            "Requests refused (402) because a budget was spent, by scope and window.",
            labels=pair,
        ),
        levels.refusals.items(),
    )


F = TypeVar("F", GaugeMetricFamily, CounterMetricFamily)


def _filled(family: F, samples: Iterable[tuple[tuple[str, ...], float]]) -> F:
    """``family`` with one sample per ``(labels, value)``."""
    for labels, value in samples:
        family.add_metric(list(labels), value)
    return family


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"
