"""Every bad input gets a clear 4xx in the OpenAI envelope, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI


@pytest.fixture
def gw(upstream: FakeOpenAI, make_gateway: GatewayFactory) -> RunningGateway:
    return make_gateway(
        {"p": provider(upstream.base_url, [chat_model("ok")])},
        extra={"server": {"max_body_bytes": 4096}},
    )


def post(
    gw: RunningGateway, content: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        gw.v1 + "/chat/completions",
        content=content,
        headers={"content-type": "application/json", **gw.auth(), **(headers or {})},
    )


def assert_envelope(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


CASES = [
    (b"{not json", 400, "invalid_json"),
    (b"", 400, None),
    (b"[1, 2]", 400, None),
    (b'{"model": "test/chat"}', 400, "missing_required_parameter"),
    (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_value"),
    (b'{"model": "test/chat", "messages": "hello"}', 400, "invalid_value"),
    (b'{"model": "test/chat", "messages": [{"role": "wizard", "content": "x"}]}', 400, None),
    (
        b'{"model": "test/chat", "messages": [{"role": "user", "content": "x"}], "temperature": 9}',
        400,
        "invalid_value",
    ),
    (
        b'{"model": "test/chat", "messages": [{"role": "user", "content": "x"}], "bogus": 1}',
        400,
        "unknown_parameter",
    ),
    (
        b'{"model": "nope/none", "messages": [{"role": "user", "content": "x"}]}',
        404,
        "model_not_found",
    ),
]


@pytest.mark.parametrize(("body", "status", "code"), CASES)
def test_bad_bodies(gw: RunningGateway, body: bytes, status: int, code: str | None) -> None:
    assert_envelope(post(gw, body), status, code)
    ok = post(gw, b'{"model": "test/chat", "messages": [{"role": "user", "content": "x"}]}')
    assert ok.status_code == 200


def test_invalid_value_message_does_not_echo_the_input(gw: RunningGateway) -> None:
    body = (
        b'{"model": "test/chat", "messages": [{"role": "user", "content": {"nested": "s3cr3t"}}]}'
    )
    error = assert_envelope(post(gw, body), 400)
    assert "s3cr3t" not in error["message"]


def test_unknown_parameter_is_named(gw: RunningGateway) -> None:
    body = b'{"model": "test/chat", "messages": [{"role": "user", "content": "x"}], "bogus": 1}'
    assert assert_envelope(post(gw, body), 400)["param"] == "bogus"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer zdr-abc-def"},
    ],
)
def test_missing_or_invalid_key(gw: RunningGateway, headers: dict[str, str]) -> None:
    response = httpx.post(gw.v1 + "/chat/completions", json={"model": "test/chat"}, headers=headers)
    error = assert_envelope(response, 401, "invalid_api_key")
    assert error["type"] == "authentication_error"
    assert_envelope(httpx.get(gw.v1 + "/models", headers=headers), 401)


def test_oversized_body_is_413(gw: RunningGateway, upstream: FakeOpenAI) -> None:
    big = (
        b'{"model": "test/chat", "messages": [{"role": "user", "content": "'
        + b"a" * 10_000
        + b'"}]}'
    )
    assert_envelope(post(gw, big), 413, "request_too_large")

    def chunks():  # no content-length: the limit still holds
        yield big[:2000]
        yield big[2000:]

    response = httpx.post(gw.v1 + "/chat/completions", content=chunks(), headers=gw.auth())
    assert_envelope(response, 413, "request_too_large")
    assert upstream.count() == 0


def test_unknown_route_and_method(gw: RunningGateway) -> None:
    assert_envelope(httpx.get(gw.v1 + "/nope", headers=gw.auth()), 404)
    assert_envelope(httpx.get(gw.v1 + "/chat/completions", headers=gw.auth()), 405)


@pytest.mark.parametrize("route", ["/files", "/batches", "/assistants", "/vector_stores/x"])
def test_storage_features_are_refused(gw: RunningGateway, route: str) -> None:
    response = httpx.post(gw.v1 + route, json={}, headers=gw.auth())
    assert_envelope(response, 400, "storage_feature_refused")


def test_file_ids_are_refused(gw: RunningGateway, upstream: FakeOpenAI) -> None:
    body = (
        b'{"model": "test/chat", "messages": [{"role": "user", "content": '
        b'[{"type": "file", "file": {"file_id": "file-123"}}]}]}'
    )
    assert_envelope(post(gw, body), 400, "storage_feature_refused")
    assert upstream.count() == 0
