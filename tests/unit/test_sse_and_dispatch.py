from __future__ import annotations

import dataclasses

import pytest

from unit.test_policy_engine import endpoint
from zdrgate.adapters.sse import SSEDecoder
from zdrgate.upstream import UpstreamFailure
from zdrgate.upstream.dispatch import checked_url


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
    assert checked_url(endpoint(), "/chat/completions") == "https://p.invalid/v1/chat/completions"
