"""Evidence watch (``zdrgate catalog watch``): see :mod:`zdrgate.watch.watch`."""

from zdrgate.watch.normalize import normalize, page_digest
from zdrgate.watch.watch import (
    WatchReport,
    evidence_urls,
    reverify,
    under_review,
    watch_evidence,
)

__all__ = [
    "WatchReport",
    "evidence_urls",
    "normalize",
    "page_digest",
    "reverify",
    "under_review",
    "watch_evidence",
]
