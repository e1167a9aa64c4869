"""What ``zdrgate audit`` found: the probes sent, every place scanned (and those it
could not scan), every hit and problem.

Usage::

    report = AuditReport(canary)
    report.place("database", "postgresql: 120 rows", hits)
    report.ok, report.as_json()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from zdrgate.audit.probes import ProbeResult


@dataclass(slots=True)
class AuditReport:
    canary: str
    probes: list[ProbeResult] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    not_scanned: list[str] = field(default_factory=list)
    crash: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.hits and not self.problems and not self.off_path()

    def off_path(self) -> list[str]:
        """Probes that did not take their path (a deployment that does not route the
        audit's models to the fakes answers 404): what they would have shown is unshown."""
        return [f"probe {p.name!r} got {p.status}, not {p.expect}: it did not take its path"
                for p in self.probes if p.status != p.expect]

    def place(self, name: str, scanned: str, hits: Iterable[tuple[str, str]]) -> None:
        found = [{"place": name, "where": where, "encoding": enc} for where, enc in hits]
        self.places.append({"place": name, "scanned": scanned, "hits": len(found)})
        self.hits += found

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "canary": self.canary,
                "probes": [{"name": p.name, "status": p.status} for p in self.probes],
                "places": self.places, "hits": self.hits,
                "problems": self.problems + self.off_path(), "not_scanned": self.not_scanned,
                "crash": self.crash}
