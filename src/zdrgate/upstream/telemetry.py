"""The OTLP span exporter: the one outbound connection besides model calls and image
fetches, to the operator's own collector (``telemetry.otlp_endpoint``). It carries span
metadata only (``zdrgate.tracing``), never a prompt; no proxy from the environment."""

from __future__ import annotations

import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

EXPORT_TIMEOUT_SECONDS = 5.0


def otlp_exporter(endpoint: str) -> OTLPSpanExporter:
    session = requests.Session()
    session.trust_env = False  # no HTTP(S)_PROXY, no .netrc credentials
    return OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_SECONDS, session=session)
