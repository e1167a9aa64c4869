"""Every model-serving route is signed and audited: a new one fails here until the
receipt test and the audit's probes cover it."""

from __future__ import annotations

from starlette.routing import Route

from test_deny_all import NO_MODEL, ROUTE_BODIES
from test_receipts_e2e import PLAIN, STREAMS
from zdrgate.audit.probes import probes
from zdrgate.server.app import _routes


def model_serving() -> set[str]:
    found = set()
    for route in _routes():
        assert isinstance(route, Route)
        for method in route.methods or ():
            key = (method, route.path)
            if method == "POST" and key in ROUTE_BODIES and key not in NO_MODEL:
                found.add(route.path)
    return found


def test_every_model_serving_route_is_checked_for_receipts() -> None:
    served = model_serving()
    assert served >= {"/v1/chat/completions", "/v1/messages", "/v1/embeddings"}
    assert {"/v1" + path for path, _, _ in PLAIN} == served


def test_every_streaming_route_ends_with_a_receipt_test() -> None:
    from test_deny_all import STREAMING  # noqa: PLC0415

    assert {"/v1" + path for path, _, _ in STREAMS} == {path for _, path in STREAMING}


def test_the_audit_probes_every_model_serving_route() -> None:
    assert {p.path for p in probes("zdrcanary0-x")} >= model_serving()
