"""The shipped catalog's Bedrock endpoints: unroutable (``no_credentials``, shown by
``zdrgate explain``) until AWS keys or a Bedrock API key are set, routable with them;
``region`` moves calls to another Region, and a key limited to the EU is served by an
``eu.`` profile in an EU Region, signed for that Region (checked by the fake)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import TODAY, GatewayFactory
from fake_bedrock import AWS_ENV, FakeBedrock, start_fake_bedrock
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Auth, Catalog
from zdrgate.cli import main
from zdrgate.config import parse_settings
from zdrgate.errors import ConfigError
from zdrgate.policy.constraints import Constraints
from zdrgate.policy.engine import PolicyEngine
from zdrgate.policy.reasons import Reason
from zdrgate.upstream.transport import HTTP1Transport, Origin, UpstreamResponse

MODEL = "anthropic/claude-sonnet-4.5"
NO_AWS = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_BEARER_TOKEN_BEDROCK": "",
}


def served(environ: dict[str, str], providers: dict[str, Any] | None = None) -> Catalog:
    settings = parse_settings({"providers": providers or {}})
    return build_catalog(load_packaged_catalog(), settings, environ, TODAY)


def bedrock_decisions(catalog: Catalog, region: str | None = None) -> tuple[list[str], list[Any]]:
    decision = PolicyEngine(180).decide(catalog.models[MODEL], TODAY, Constraints(region=region))
    approved = [
        a.endpoint.id for a in decision.approvals if a.endpoint.provider.id == "amazon-bedrock"
    ]
    rejected = [r for r in decision.rejections if r.endpoint.provider.id == "amazon-bedrock"]
    return approved, rejected


def test_the_catalog_speaks_converse_to_bedrock_runtime_hosts() -> None:
    provider = load_packaged_catalog().providers["amazon-bedrock"]
    assert provider.protocol.value == "bedrock"
    assert provider.base_url == "https://bedrock-runtime.us-east-1.amazonaws.com"
    assert (
        dict(provider.regional_base_urls)["eu"]
        == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    )
    assert "bedrock-runtime.eu-west-3.amazonaws.com" in provider.base_url_hosts
    assert all("*" not in host for host in provider.base_url_hosts)


def test_without_credentials_bedrock_is_unroutable_with_a_reason() -> None:
    approved, rejected = bedrock_decisions(served({}))
    assert approved == [] and len(rejected) == 6
    assert all(Reason.NO_CREDENTIALS in r.reasons for r in rejected)


def test_explain_names_the_missing_credentials() -> None:
    result = CliRunner().invoke(main, ["explain", MODEL, "--json"], env=NO_AWS)
    rows = [
        r
        for r in json.loads(result.output)["endpoints"]
        if r["endpoint"].startswith("amazon-bedrock/")
    ]
    assert rows and all(r["routable"] == "no" and "no_credentials" in r["reasons"] for r in rows)
    assert rows[0]["credentials_env"] == (
        "AWS_BEARER_TOKEN_BEDROCK or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    aws = {**NO_AWS, "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}
    result = CliRunner().invoke(main, ["explain", MODEL, "--json"], env=aws)
    rows = [
        r
        for r in json.loads(result.output)["endpoints"]
        if r["endpoint"].startswith("amazon-bedrock/")
    ]
    assert {r["routable"] for r in rows} == {"yes"}


@pytest.mark.parametrize(
    ("environ", "auth"),
    [
        (AWS_ENV, Auth.AWS_SIGV4),
        ({"AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key"}, Auth.BEARER),
        ({**AWS_ENV, "AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key"}, Auth.BEARER),
    ],
)
def test_aws_keys_or_a_bedrock_api_key_make_it_routable(
    environ: dict[str, str], auth: Auth
) -> None:
    catalog = served(environ)
    assert catalog.providers["amazon-bedrock"].auth is auth
    approved, rejected = bedrock_decisions(catalog)
    assert len(approved) == 6 and rejected == []


def test_half_a_key_pair_is_no_credentials() -> None:
    approved, _ = bedrock_decisions(served({"AWS_ACCESS_KEY_ID": "AKID"}))
    assert approved == []


def test_region_moves_the_base_url_and_its_geographys_profiles() -> None:
    catalog = served(AWS_ENV, {"amazon-bedrock": {"region": "eu-west-3"}})
    provider = catalog.providers["amazon-bedrock"]
    here = "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert provider.base_url == here and provider.aws_region == "eu-west-3"
    assert dict(provider.regional_base_urls)["eu"] == here
    assert (
        dict(provider.regional_base_urls)["us"] == "https://bedrock-runtime.us-east-1.amazonaws.com"
    )
    approved, rejected = bedrock_decisions(catalog, region="eu")
    assert approved == ["amazon-bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0@eu"]
    assert all(Reason.OUTSIDE_REGION in r.reasons for r in rejected)


@pytest.mark.parametrize("region", ["eu-fake-9", "EU-WEST-3", "eu-west-3.evil.example"])
def test_a_region_the_record_does_not_cover_is_refused(region: str) -> None:
    with pytest.raises((ConfigError, ValueError)):
        served(AWS_ENV, {"amazon-bedrock": {"region": region}})


def test_region_is_for_aws_providers_only() -> None:
    with pytest.raises(ConfigError, match="only AWS"):
        served({}, {"groq": {"region": "eu-west-1"}})
    mine = {"protocol": "openai", "base_url": "https://llm.example", "region": "eu-west-1"}
    with pytest.raises(ConfigError, match="only AWS"):
        served({}, {"mine": mine})
    with pytest.raises(ConfigError, match="aws-sigv4 is for AWS"):
        served({}, {"groq": {"auth": "aws-sigv4"}})


def test_an_origin_outside_bedrock_runtime_needs_an_attestation() -> None:
    catalog = served(AWS_ENV, {"amazon-bedrock": {"base_url": "https://bedrock.evil.example"}})
    _, rejected = bedrock_decisions(catalog)
    in_region = [r for r in rejected if r.endpoint.region is None]
    assert in_region and Reason.ORIGIN_NOT_ATTESTED in in_region[0].reasons


class ToFake(HTTP1Transport):
    """Sends every request to the fake Bedrock on loopback, noting where it was meant to go."""

    def __init__(self, fake: FakeBedrock) -> None:
        super().__init__()
        self.fake = fake
        self.origins: list[Origin] = []

    async def request(
        self,
        origin: Origin,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> UpstreamResponse:
        self.origins.append(origin)
        here = Origin("http", "127.0.0.1", self.fake.port)
        return await super().request(here, method, target, headers, body)


@pytest.fixture
def eu_bedrock() -> Iterator[FakeBedrock]:
    fake, server = start_fake_bedrock(region="eu-west-3")
    fake.host = "bedrock-runtime.eu-west-3.amazonaws.com"
    yield fake
    server.stop()


def test_an_eu_key_is_served_in_the_eu_and_signed_for_that_region(
    eu_bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    transport = ToFake(eu_bedrock)
    gw = make_gateway(
        {"amazon-bedrock": {"region": "eu-west-3"}},
        catalog=load_packaged_catalog(),
        environ=AWS_ENV,
        transport=transport,
    )
    made = httpx.post(gw.v1 + "/admin/keys", json={"region": "eu"}, headers=gw.auth())
    assert made.status_code == 201, made.text
    body = {"model": MODEL, "messages": [{"role": "user", "content": "bonjour"}]}
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "echo: bonjour"
    assert response.headers["x-zdr-endpoint"].startswith("amazon-bedrock/eu.anthropic.")
    assert [o.host for o in transport.origins] == ["bedrock-runtime.eu-west-3.amazonaws.com"]
    assert [r.auth for r in eu_bedrock.requests] == ["sigv4"]
    assert (
        eu_bedrock.requests[0].path
        == "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/converse"
    )
