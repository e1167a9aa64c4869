"""/metrics: Prometheus text built from metadata only, with bounded label values."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REDIS_URL, GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI

CANARY = "CANARY-metrics-7f3a9c"


def gateway_with(upstream: FakeOpenAI, make_gateway: GatewayFactory) -> RunningGateway:
    models = [chat_model("ok"), chat_model("fail500", model_id="test/broken")]
    return make_gateway({"zdr": provider(upstream.base_url, models)})


def scrape(gw: RunningGateway) -> str:
    response = httpx.get(gw.url + "/metrics", headers=gw.auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def send(gw: RunningGateway, model: str, stream: bool = False, **extra: object) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": CANARY}], "stream": stream}
    response = httpx.post(
        gw.v1 + "/chat/completions", json={**body, **extra}, headers=gw.auth(), timeout=10
    )
    return response.status_code


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def test_metrics_count_requests_tokens_and_cost_without_content(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = gateway_with(upstream, make_gateway)
    assert send(gw, "test/chat") == 200
    assert send(gw, "test/chat", stream=True) == 200
    assert send(gw, "test/broken") in (502, 503)
    time.sleep(0.2)  # streams meter when they end
    text = scrape(gw)
    assert CANARY not in text and CANARY.lower() not in text.lower()
    requests = samples(text, "zdrgate_requests_total")
    ok = [
        v for labels, v in requests if labels["endpoint"] == "zdr/ok" and labels["status"] == "2xx"
    ]
    assert ok == [2.0]
    failed = [labels for labels, _ in requests if labels["status"] == "5xx"]
    assert failed and failed[0]["gen_ai_request_model"] == "test/broken"
    tokens = samples(text, "gen_ai_client_token_usage_count")
    assert {labels["gen_ai_token_type"] for labels, _ in tokens} == {"input", "output"}
    assert samples(text, "zdrgate_cost_usd_total")[0][1] > 0
    duration = samples(text, "gen_ai_client_operation_duration_seconds_count")
    assert sum(v for _, v in duration) == 3
    ttft = samples(text, "gen_ai_server_time_to_first_token_seconds_count")
    assert [v for _, v in ttft] == [1.0]  # the one stream
    routable = dict(
        (labels["gen_ai_request_model"], v)
        for labels, v in samples(text, "zdrgate_routable_endpoints")
    )
    assert routable == {"test/chat": 1.0, "test/broken": 1.0}


def test_client_strings_never_become_label_values(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = gateway_with(upstream, make_gateway)
    for i in range(30):
        assert send(gw, f"{CANARY}/model-{i}") == 404
    # An unknown model with a known fallback: the row and the label are catalog ids.
    assert send(gw, f"{CANARY}/first", models=[f"{CANARY}/first", "test/chat"]) == 200
    text = scrape(gw)
    assert CANARY not in text
    models = {
        labels["gen_ai_request_model"] for labels, _ in samples(text, "zdrgate_requests_total")
    }
    assert models <= {"test/chat", "unknown"}


def test_metrics_need_an_admin_key_unless_public(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = gateway_with(upstream, make_gateway)
    assert httpx.get(gw.url + "/metrics").status_code == 401
    public = make_gateway(
        {"zdr": provider(upstream.base_url, [chat_model()])}, extra={"metrics": {"public": True}}
    )
    assert httpx.get(public.url + "/metrics").status_code == 200
    off = make_gateway(
        {"zdr": provider(upstream.base_url, [chat_model()])}, extra={"metrics": {"enabled": False}}
    )
    response = httpx.get(off.url + "/metrics", headers=off.auth())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.services
@pytest.mark.parametrize("counters", ["memory", "redis"])
def test_budget_metrics_say_how_much_is_left_by_scope_and_window(
    counters: str,
    upstream: FakeOpenAI,
    make_gateway: GatewayFactory,
    request: pytest.FixtureRequest,
) -> None:
    storage = {}
    if counters == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        storage = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    gw = make_gateway(
        {"zdr": provider(upstream.base_url, [chat_model("ok")])}, extra={"storage": storage}
    )
    # The fake answers with 18 tokens at $1 per million: one request spends the team's month.
    team = admin(gw, "/admin/teams", {"name": f"{CANARY}-team", "budget_month_usd": 0.00001})
    made = admin(gw, "/admin/keys", {"team": team["id"], "name": f"{CANARY}-key"})
    roomy = admin(gw, "/admin/keys", {"budget_day_usd": 100.0})
    for key in (made["key"], roomy["key"]):
        assert send(RunningGateway(gw.url, gw.state, key), "test/chat") == 200
    assert send(RunningGateway(gw.url, gw.state, made["key"]), "test/chat") == 402
    text = scrape(gw)
    for secret in (CANARY, team["id"], made["id"], roomy["id"]):
        assert secret not in text
    lowest = {
        (labels["scope"], labels["window"]): v
        for labels, v in samples(text, "zdrgate_budget_remaining_ratio")
    }
    assert lowest[("team", "month")] == 0.0
    assert 0.99 < lowest[("key", "day")] < 1.0
    levels = {
        (labels["scope"], labels["window"], labels["level"]): v
        for labels, v in samples(text, "zdrgate_budgets")
    }
    assert levels[("team", "month", "spent")] == 1 and levels[("key", "day", "ok")] == 1
    assert sum(levels.values()) == 2
    refusals = {
        (labels["scope"], labels["window"]): v
        for labels, v in samples(text, "zdrgate_budget_refusals_total")
    }
    assert refusals[("team", "month")] == 1 and sum(refusals.values()) == 1


def admin(gw: RunningGateway, path: str, body: dict[str, object]) -> dict[str, Any]:
    reply = httpx.post(gw.v1 + path, json=body, headers=gw.auth(), timeout=10)
    assert reply.is_success, reply.text
    result: dict[str, Any] = reply.json()
    return result
