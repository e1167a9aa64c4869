"""Per-endpoint health kept in memory: recent failures, latency, throughput.

One board per process. It only ever holds endpoint ids and numbers. With several
instances, ``on_change`` tells the others when an endpoint starts or stops failing
(``zdrgate.cluster``), and they :meth:`apply_remote` it: an endpoint's circuit opened by
failures one instance saw is respected by all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_ALPHA = 0.2  # weight of the newest sample in the moving averages


@dataclass(slots=True)
class EndpointHealth:
    failures: int = 0
    last_failure: float = float("-inf")
    latency_s: float | None = None  # time to first byte, moving average
    throughput_tps: float | None = None  # completion tokens per second, moving average


class HealthBoard:
    def __init__(
        self, cooldown_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._entries: dict[str, EndpointHealth] = {}
        self.on_change: Callable[[str, bool], None] | None = None
        """Called with (endpoint id, healthy) when this process sees an endpoint fail,
        or succeed after failing; never per request otherwise."""

    def get(self, endpoint_id: str) -> EndpointHealth:
        entry = self._entries.get(endpoint_id)
        if entry is None:
            entry = self._entries[endpoint_id] = EndpointHealth()
        return entry

    def failed_recently(self, endpoint_id: str) -> bool:
        entry = self._entries.get(endpoint_id)
        return entry is not None and self._clock() - entry.last_failure < self._cooldown

    def record_failure(self, endpoint_id: str) -> None:
        self._fail(endpoint_id)
        if self.on_change is not None:
            self.on_change(endpoint_id, False)

    def record_success(self, endpoint_id: str, latency_s: float) -> None:
        entry = self.get(endpoint_id)
        was_failing = entry.failures > 0
        entry.failures = 0
        entry.last_failure = float("-inf")
        entry.latency_s = _ewma(entry.latency_s, latency_s)
        if was_failing and self.on_change is not None:
            self.on_change(endpoint_id, True)

    def apply_remote(self, endpoint_id: str, healthy: bool) -> None:
        """Another instance saw this endpoint fail (or recover)."""
        if healthy:
            entry = self.get(endpoint_id)
            entry.failures = 0
            entry.last_failure = float("-inf")
        else:
            self._fail(endpoint_id)

    def _fail(self, endpoint_id: str) -> None:
        entry = self.get(endpoint_id)
        entry.failures += 1
        entry.last_failure = self._clock()

    def record_throughput(self, endpoint_id: str, tokens: int, seconds: float) -> None:
        if tokens > 0 and seconds > 0:
            entry = self.get(endpoint_id)
            entry.throughput_tps = _ewma(entry.throughput_tps, tokens / seconds)


def _ewma(old: float | None, new: float) -> float:
    return new if old is None else (1 - _ALPHA) * old + _ALPHA * new
