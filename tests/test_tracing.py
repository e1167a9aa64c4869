"""OTLP traces: one span per request with GenAI attributes, exported over OTLP/HTTP to a
collector on loopback, and no prompt in any byte of the export."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from conftest import GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI

CANARY = "CANARY-trace-5d1e0b"


class Collector:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                collector.bodies.append(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def spans(self) -> list[object]:
        found = []
        for body in self.bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    found.extend(scope.spans)
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()


def attributes(span: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in span.attributes:  # type: ignore[attr-defined]
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def test_each_request_is_one_span_of_metadata(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, collector: Collector
) -> None:
    models = [chat_model("ok"), chat_model("bad400", model_id="test/bad")]
    gw = make_gateway(
        {"zdr": provider(upstream.base_url, models)},
        extra={"telemetry": {"otlp_endpoint": collector.url, "service_name": "zdr-test"}},
    )
    for model, stream in (("test/chat", False), ("test/chat", True), ("test/bad", False)):
        body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": CANARY}]}
        httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth(), timeout=10)
    gw.state.gateway.usage.spans.shutdown()  # type: ignore[union-attr] - flush now
    spans = collector.spans()
    assert len(spans) == 3
    raw = b"".join(collector.bodies)
    assert CANARY.encode() not in raw and b"echo" not in raw
    by_status = {attributes(s)["http.response.status_code"]: s for s in spans}
    ok = attributes(by_status[200])
    assert ok["gen_ai.operation.name"] == "chat"
    assert ok["gen_ai.request.model"] == "test/chat"
    assert ok["gen_ai.provider.name"] == "zdr"
    assert ok["gen_ai.usage.output_tokens"] > 0  # type: ignore[operator]
    assert by_status[200].name == "chat test/chat"
    failed = attributes(by_status[400])
    assert failed["error.type"]
    assert b"zdr-test" in raw  # the resource's service.name
