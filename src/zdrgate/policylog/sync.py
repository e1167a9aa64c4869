"""What changed in the served policy records since the log last recorded them.

Usage (at every start, after migrations)::

    changes = record_changes(log.record_state(), served_catalog, packaged_catalog)
    log.append(changes, ring)

One entry per provider and (old digest, new digest) pair, naming every endpoint that
moved between them. The reason is ``initial`` for the first start with a log,
``catalog_upgrade`` when the served record is the packaged catalog's own, and
``config_change`` when the operator's config shaped it (an override or attestation).
"""

from __future__ import annotations

from collections import defaultdict

from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.policylog.entry import Change, Why


def served_records(catalog: Catalog) -> dict[str, Endpoint]:
    """Every endpoint of the catalog by id."""
    return {e.id: e for model in catalog.models.values() for e in model.endpoints}


def record_changes(
    logged: dict[str, str], served: Catalog, packaged: Catalog | None = None
) -> list[Change]:
    now = served_records(served)
    base = {k: e.policy.digest() for k, e in served_records(packaged).items()} if packaged else {}
    groups: dict[tuple[str, str | None, str | None, Why], list[str]] = defaultdict(list)
    for endpoint_id, endpoint in now.items():
        digest = endpoint.policy.digest()
        old = logged.get(endpoint_id)
        if old == digest:
            continue
        why = Why.INITIAL if not logged else (
            Why.CATALOG_UPGRADE if base.get(endpoint_id) == digest else Why.CONFIG_CHANGE
        )
        groups[(endpoint.provider.id, old, digest, why)].append(endpoint_id)
    for endpoint_id, old in logged.items():
        if endpoint_id not in now:
            provider = endpoint_id.split("/", 1)[0]
            why = Why.CATALOG_UPGRADE if endpoint_id not in base or not packaged else (
                Why.CONFIG_CHANGE)
            groups[(provider, old, None, why)].append(endpoint_id)
    return [
        Change(provider, tuple(sorted(ids)), old, new, why)
        for (provider, old, new, why), ids in sorted(groups.items(), key=_order)
    ]


def _order(item: tuple[tuple[str, str | None, str | None, Why], list[str]]) -> tuple[str, ...]:
    (provider, old, new, why), ids = item
    return (provider, old or "", new or "", why.value, min(ids))
