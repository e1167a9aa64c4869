"""The hosts the gateway may have to call: its egress allowlist.

A host is on the list when some model's endpoint there is routable under the
configured policy once the provider's key is present (the key usually lives in a
Secret the machine that renders the manifests never sees; ``assume_keys=False`` asks
the environment instead). Only ``https`` upstreams: those are the ones that go through
an egress proxy; plain-http endpoints (self-hosted, on a private network) are listed
by :func:`direct_origins` for the operator's own network rule.

Usage::

    hosts = egress_hosts(settings)          # [("api.groq.com", 443), ...], sorted
    proxy = EgressProxy(hosts)              # zdrgate.upstream.egress
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.config import Settings
from zdrgate.policy import PolicyEngine

Host = tuple[str, int]


def routable_endpoints(
    settings: Settings,
    *,
    base: Catalog | None = None,
    environ: Mapping[str, str] | None = None,
    assume_keys: bool = True,
    today: dt.date | None = None,
) -> list[Endpoint]:
    base = base or load_packaged_catalog()
    env = dict(os.environ if environ is None else environ)
    if assume_keys:
        for provider in base.providers.values():
            if provider.api_key_env:
                env.setdefault(provider.api_key_env, "assumed")
        for conf in settings.providers.values():
            if conf.api_key_env:
                env.setdefault(conf.api_key_env, "assumed")
    day = today or dt.datetime.now(dt.UTC).date()
    catalog = build_catalog(base, settings, env, day)
    engine = PolicyEngine(settings.policy.max_verification_age_days)
    return [
        approval.endpoint
        for model in catalog.models.values()
        for approval in engine.decide(model, day).approvals
    ]


def egress_hosts(settings: Settings, **options: object) -> list[Host]:
    """``(host, port)`` of every https upstream a routable endpoint calls, sorted."""
    hosts = set()
    for endpoint in routable_endpoints(settings, **options):  # type: ignore[arg-type]
        parts = urlsplit(endpoint.base_url)
        if parts.scheme == "https" and parts.hostname:
            hosts.add((parts.hostname.lower(), parts.port or 443))
    return sorted(hosts)


def direct_origins(settings: Settings, **options: object) -> list[str]:
    """Plain-http upstreams (connected directly, never through the proxy)."""
    origins = {
        e.origin
        for e in routable_endpoints(settings, **options)  # type: ignore[arg-type]
        if urlsplit(e.base_url).scheme == "http"
    }
    return sorted(origins)
