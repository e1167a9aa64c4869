"""/metrics: Prometheus text built from metadata only, with bounded label values."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import GatewayFactory, RunningGateway, chat_model, provider
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
