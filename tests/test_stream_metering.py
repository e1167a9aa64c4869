"""A client that leaves a stream before the upstream's usage chunk is still metered for
what it was sent (issue 11, item 15): estimated tokens, never 0."""

from __future__ import annotations

import time

import httpx

from conftest import GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI
from fake_responses import start_fake_responses
from test_usage_rows import rows_of
from zdrgate.service.tally import CHARS_PER_TOKEN

PROMPT = "How long is a piece of string, roughly?"


def test_a_client_that_disconnects_early_is_metered_for_what_was_streamed(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("drip")])})
    body = {
        "model": "test/chat",
        "stream": True,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    text = ""
    with httpx.stream("POST", gw.v1 + "/chat/completions", json=body, headers=gw.auth()) as r:
        for line in r.iter_lines():
            if '"content":"' in line.replace(" ", "") and '"content":""' not in line:
                text += line
                break  # one content chunk, then the client leaves
    deadline = time.monotonic() + 10
    while upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    [row] = rows_of(gw, 1)
    assert row["error_kind"] == "cancelled"
    assert row["completion_tokens"] >= 1  # what was streamed, not 0
    assert row["prompt_tokens"] == -(-len(PROMPT) // CHARS_PER_TOKEN)


def test_a_client_that_leaves_a_fanned_out_stream_closes_every_upstream_stream(
    make_gateway: GatewayFactory,
) -> None:
    """n = 2 over a one-choice protocol: two upstream streams. The client leaves after
    the first content: both are closed, and the one usage row says cancelled."""
    fake, server = start_fake_responses()
    try:
        gw = make_gateway(
            {"r": provider(fake.base_url, [chat_model("drip")], protocol="responses")}
        )
        body = {"model": "test/chat", "stream": True, "n": 2,
                "messages": [{"role": "user", "content": PROMPT}]}  # fmt: skip
        with httpx.stream("POST", gw.v1 + "/chat/completions", json=body, headers=gw.auth()) as r:
            for line in r.iter_lines():
                if '"content":"' in line.replace(" ", "") and '"content":""' not in line:
                    break  # one content chunk, then the client leaves
        deadline = time.monotonic() + 10
        while fake.disconnects < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.disconnects == 2 and len(fake.requests) == 2
        [row] = rows_of(gw, 1)
        assert row["error_kind"] == "cancelled" and row["completion_tokens"] >= 1
    finally:
        server.stop()
