"""Provider preference lists are bounded, and so is the decision cache (finding 8)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.catalog.model import (
    Confidence,
    Endpoint,
    Model,
    PolicyRecord,
    Protocol,
    Provider,
    ZdrAvailability,
)
from zdrgate.policy import Constraints, PolicyEngine

TODAY = dt.date(2026, 11, 27)
ZDR = PolicyRecord(0, False, ZdrAvailability.DEFAULT, ("e",), TODAY, Confidence.HIGH)


@pytest.fixture
def gw(upstream: FakeOpenAI, make_gateway: GatewayFactory) -> RunningGateway:
    return make_gateway({"p": provider(upstream.base_url, [chat_model("ok")])})


def chat(gw: RunningGateway, prefs: dict[str, Any]) -> httpx.Response:
    body = {
        "model": "test/chat",
        "messages": [{"role": "user", "content": "x"}],
        "provider": prefs,
    }
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())


@pytest.mark.parametrize("field", ["only", "ignore", "order"])
def test_long_lists_are_a_400(gw: RunningGateway, upstream: FakeOpenAI, field: str) -> None:
    response = chat(gw, {field: [f"p{i}" for i in range(65)]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert field in (error["param"] or "")
    assert upstream.count() == 0


@pytest.mark.parametrize("field", ["only", "ignore", "order"])
def test_long_names_are_a_400(gw: RunningGateway, field: str) -> None:
    response = chat(gw, {field: ["x" * 129]})
    assert response.status_code == 400
    assert field in (response.json()["error"]["param"] or "")


def test_lists_at_the_cap_still_route(gw: RunningGateway) -> None:
    names = ["p", *(f"other{i}" for i in range(63))]
    assert chat(gw, {"only": names, "order": names}).status_code == 200


def model_with(endpoints: int) -> Model:
    eps = []
    for i in range(endpoints):
        url = "https://p.invalid"
        prov = Provider(f"p{i}", f"P{i}", Protocol.OPENAI, url, "", ZDR, api_key="k")
        eps.append(Endpoint("a/m", prov, "m", ZDR, prompt_price=1.0, completion_price=1.0))
    return Model("a/m", "M", tuple(eps))


def test_junk_provider_names_do_not_make_new_cache_entries() -> None:
    engine = PolicyEngine(180)
    model = model_with(2)
    for i in range(500):
        junk = frozenset(f"junk-{i}-{j}" for j in range(64))
        decision = engine.decide(model, TODAY, Constraints(only=junk, ignore=junk))
        assert not decision.approvals  # only= names no provider of the model
    assert engine.cache_entries() == 1
    kept = engine.decide(model, TODAY, Constraints(only=frozenset({"p1", "junk"})))
    assert [a.endpoint.provider.id for a in kept.approvals] == ["p1"]


def test_cache_cost_is_bounded_not_just_its_entry_count() -> None:
    engine = PolicyEngine(180)
    big = model_with(400)
    for i in range(200):  # distinct prices cannot be folded: each is a new key
        engine.decide(big, TODAY, Constraints(max_prompt_price=1.0 + i / 1000))
    assert engine.cache_cost() <= PolicyEngine.CACHE_COST_MAX
    assert engine.cache_entries() < 200
    # the newest decision is still cached
    last = Constraints(max_prompt_price=1.0 + 199 / 1000)
    assert engine.decide(big, TODAY, last) is engine.decide(big, TODAY, last)
