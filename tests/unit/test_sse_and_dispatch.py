from __future__ import annotations

import dataclasses

import orjson
import pytest

from unit.test_policy_engine import endpoint
from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols import spec_for
from zdrgate.protocols.sse import SSEDecoder
from zdrgate.upstream import UpstreamFailure
from zdrgate.upstream.dispatch import auth_headers, checked_url
from zdrgate.upstream.http1 import Origin
from zdrgate.wire.chat import ChatRequest


def test_sse_decoder_handles_splits_anywhere() -> None:
    raw = 'event: x\ndata: {"t": "é"}\n\ndata: [DONE]\n\n'.encode()
    for cut in range(len(raw)):
        decoder = SSEDecoder()
        events = decoder.feed(raw[:cut]) + decoder.feed(raw[cut:]) + decoder.flush()
        assert [(e.event, e.data) for e in events] == [("x", '{"t": "é"}'), ("message", "[DONE]")]


def test_sse_decoder_ignores_comments_and_keeps_multiline_data() -> None:
    events = SSEDecoder().feed(b": ping\r\ndata: a\r\ndata: b\r\n\r\n")
    assert [(e.event, e.data) for e in events] == [("message", "a\nb")]


@pytest.mark.parametrize("path", ["@evil.example/x", ".evil.example/x", ":8443/x"])
def test_dispatch_refuses_a_url_outside_the_endpoint_origin(path: str) -> None:
    ep = endpoint()
    bare = dataclasses.replace(
        ep, provider=dataclasses.replace(ep.provider, base_url="https://p.invalid")
    )
    with pytest.raises(UpstreamFailure):
        checked_url(bare, path)


def test_dispatch_accepts_a_path_under_the_base() -> None:
    origin, target = checked_url(endpoint(), "/chat/completions")
    assert origin == Origin("https", "p.invalid", 443)
    assert target == "/v1/chat/completions"


def test_dispatch_keeps_the_query_and_an_explicit_port() -> None:
    ep = endpoint()
    local = dataclasses.replace(
        ep, provider=dataclasses.replace(ep.provider, base_url="http://127.0.0.1:8081/v1beta")
    )
    origin, target = checked_url(local, "/models/m:generateContent?alt=sse")
    assert origin == Origin("http", "127.0.0.1", 8081)
    assert origin.host_header == b"127.0.0.1:8081"
    assert target == "/v1beta/models/m:generateContent?alt=sse"


@pytest.mark.parametrize("base", ["ftp://p.invalid/v1", "https://user@p.invalid/v1", "https:///v1"])
def test_dispatch_refuses_a_base_url_it_cannot_send_to_safely(base: str) -> None:
    ep = endpoint()
    bad = dataclasses.replace(ep, provider=dataclasses.replace(ep.provider, base_url=base))
    with pytest.raises(UpstreamFailure):
        checked_url(bad, "/chat/completions")


@pytest.mark.parametrize(
    ("protocol", "auth", "expected"),
    [
        (Protocol.OPENAI, None, {"authorization": "Bearer k"}),
        (Protocol.ANTHROPIC, None, {"x-api-key": "k"}),
        (Protocol.GEMINI, None, {"x-goog-api-key": "k"}),
        (Protocol.GEMINI, Auth.BEARER, {"authorization": "Bearer k"}),
        (Protocol.OPENAI, Auth.API_KEY, {"api-key": "k"}),
        (Protocol.ANTHROPIC_VERTEX, None, {"authorization": "Bearer k"}),
    ],
)
def test_credentials_travel_in_the_provider_header(
    protocol: Protocol, auth: Auth | None, expected: dict[str, str]
) -> None:
    ep = endpoint()
    provider = dataclasses.replace(ep.provider, protocol=protocol, auth=auth)
    assert auth_headers(dataclasses.replace(ep, provider=provider)) == expected


def test_vertex_anthropic_uses_raw_predict_without_model_in_the_body() -> None:
    ep = endpoint()
    provider = dataclasses.replace(ep.provider, protocol=Protocol.ANTHROPIC_VERTEX)
    vertex = dataclasses.replace(ep, provider=provider, upstream_id="claude-sonnet-4-5@20250929")
    request = ChatRequest.model_validate(
        {"model": "a/m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    )
    call = spec_for(Protocol.ANTHROPIC_VERTEX).require_chat().build_chat(vertex, request)
    assert call.path == "/models/claude-sonnet-4-5@20250929:streamRawPredict"
    body = orjson.loads(call.body)
    assert "model" not in body and body["anthropic_version"] == "vertex-2023-10-16"
    assert body["stream"] is True


def test_sse_fast_path_and_line_path_agree_at_every_split() -> None:
    stream = (
        b'data: {"a":1}\n\nevent: named\ndata: b\n\ndata: x\ndata: y\n\n'
        b'data: {"c":3}\r\n\r\n: comment\n\ndata: \xc3\xa9t\xc3\xa9\n\ndata: last\n\n'
    )
    expected = [
        ("message", '{"a":1}'), ("named", "b"), ("message", "x\ny"),
        ("message", '{"c":3}'), ("message", "été"), ("message", "last"),
    ]
    for cut in range(len(stream) + 1):
        decoder = SSEDecoder()
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.flush()
        assert [(e.event, e.data) for e in events] == expected, cut
