"""Short-lived bearer tokens the gateway obtains itself (``auth = "oauth"``): Microsoft
Entra ID's client-credentials grant for Azure OpenAI, and a Google service account's
signed assertion for Vertex AI. A fake token endpoint on 127.0.0.1 answers as those
servers do (a JSON token with ``expires_in``; ``invalid_client`` with a description that
names the client); the fake Azure resource accepts only the token it issued."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import openai
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import TODAY, GatewayFactory
from fake_azure import ENTRA_TOKEN, FakeAzure
from fake_openai import ServerThread
from test_azure_openai import ATTESTED, CHAT, DEPLOYMENTS, HELLO, azure_only
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Auth, OAuthClient, Provider
from zdrgate.config import parse_settings
from zdrgate.errors import ConfigError
from zdrgate.upstream.oauth import TokenCache, assertion
from zdrgate.upstream.transport import HTTP1Transport

SECRET = "client-secret-value"
SCOPE = "https://cognitiveservices.azure.com/.default"


class FakeTokenEndpoint:
    """``POST /tenant/oauth2/v2.0/token`` (form-encoded), as Entra ID answers it."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.refuse = False
        self.expires_in: object = 3599
        self.public_key: Any = None  # verifies a service account's assertion
        app = web.Application()
        app.router.add_post("/tenant/oauth2/v2.0/token", self.token)
        self.server = ServerThread(app)
        self.port = self.server.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tenant/oauth2/v2.0/token"

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.forms.append({k: str(v) for k, v in form.items()})
        if self.refuse or not self._valid(form):
            error = {"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"}
            return web.json_response(error, status=401)
        token = {"token_type": "Bearer", "expires_in": self.expires_in, "access_token": ENTRA_TOKEN}
        return web.json_response(token)

    def _valid(self, form: Any) -> bool:
        if form.get("grant_type") == "client_credentials":
            return form.get("client_secret") == SECRET and form.get("scope") == SCOPE
        claims = jwt.decode(
            form["assertion"], self.public_key, algorithms=["RS256"], audience=self.url
        )
        return bool(claims["iss"] == "zdrgate@project.iam.gserviceaccount.com")


@pytest.fixture
def tokens() -> Iterator[FakeTokenEndpoint]:
    fake = FakeTokenEndpoint()
    yield fake
    fake.server.stop()


def entra(endpoint: FakeTokenEndpoint, **extra: Any) -> dict[str, Any]:
    return {
        "token_url": endpoint.url,
        "client_id": "app-id",
        "client_secret_env": "AZURE_CLIENT_SECRET",
        "scope": SCOPE,
        **extra,
    }


def azure_oauth(azure: FakeAzure, endpoint: FakeTokenEndpoint) -> dict[str, Any]:
    origin = f"http://127.0.0.1:{azure.port}"
    return {
        "base_url": azure.base_url,
        "zdr_attestation": {**ATTESTED, "origins": [origin]},
        "deployments": DEPLOYMENTS,
        "oauth": entra(endpoint),
    }


def sdk(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0)


ENVIRON = {"AZURE_CLIENT_SECRET": SECRET}


# ---------------------------------------------------------------- end to end


def test_an_entra_token_is_obtained_once_and_sent_as_a_bearer(
    azure: FakeAzure, tokens: FakeTokenEndpoint, make_gateway: GatewayFactory
) -> None:
    conf = azure_oauth(azure, tokens)
    gateway = make_gateway({"azure": conf}, catalog=azure_only(), environ=ENVIRON)
    with sdk(gateway) as client:
        first = client.chat.completions.create(model=CHAT, messages=HELLO)
        streamed = list(client.chat.completions.create(model=CHAT, messages=HELLO, stream=True))
    assert first.choices[0].message.content == "echo: hello"
    assert streamed and len(azure.calls) == 2
    for call in azure.calls:
        assert call.headers["Authorization"] == f"Bearer {ENTRA_TOKEN}"
        assert "api-key" not in call.headers
    [form] = tokens.forms  # one token for both calls
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "app-id",
        "client_secret": SECRET,
        "scope": SCOPE,
    }  # and nothing of the conversation


def test_a_refused_token_sends_nothing_upstream_and_relays_nothing(
    azure: FakeAzure, tokens: FakeTokenEndpoint, make_gateway: GatewayFactory
) -> None:
    tokens.refuse = True
    conf = azure_oauth(azure, tokens)
    gateway = make_gateway({"azure": conf}, catalog=azure_only(), environ=ENVIRON)
    with sdk(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=CHAT, messages=HELLO)
    assert caught.value.status_code == 502
    body = json.dumps(caught.value.body)
    assert "upstream_auth_failed" in body
    assert "AADSTS" not in body and "bad secret" not in body  # the endpoint's words dropped
    assert azure.calls == []  # no call went out without a token
    assert len(tokens.forms) == 1


def test_an_oauth_client_counts_as_credentials(
    tokens: FakeTokenEndpoint,
) -> None:
    base = {"base_url": "https://res.openai.azure.com/openai", "deployments": DEPLOYMENTS}
    with_client = {"azure": {**base, "oauth": entra(tokens)}}
    catalog = build_catalog(load_packaged_catalog(), parse_settings({"providers": with_client}),
                            ENVIRON, today=TODAY)  # fmt: skip
    provider = catalog.providers["azure"]
    assert provider.auth is Auth.OAUTH and provider.has_credentials
    assert provider.oauth is not None and provider.oauth.client_secret == SECRET
    assert SECRET not in repr(provider)


# ---------------------------------------------------------------- the token cache


def client_of(endpoint: FakeTokenEndpoint) -> Provider:
    oauth = OAuthClient(endpoint.url, SCOPE, client_id="app-id", client_secret=SECRET)
    shipped = load_packaged_catalog().providers["azure"]
    return Provider(**{**_fields(shipped), "auth": Auth.OAUTH, "oauth": oauth})


def _fields(provider: Provider) -> dict[str, Any]:
    return {name: getattr(provider, name) for name in provider.__slots__}  # type: ignore[attr-defined]


def test_one_request_for_many_waiting_calls_then_renewal_before_expiry(
    tokens: FakeTokenEndpoint,
) -> None:
    now = [1000.0]
    provider = client_of(tokens)

    async def run() -> list[str]:
        transport = HTTP1Transport()
        await transport.start()
        cache = TokenCache(transport, monotonic=lambda: now[0])
        try:
            got = await asyncio.gather(*(cache.token(provider) for _ in range(20)))
            assert len(tokens.forms) == 1  # twenty calls, one request
            now[0] += 3599 - 300 - 1  # not yet: renewed 300 s before expiry
            got.append(await cache.token(provider))
            assert len(tokens.forms) == 1
            now[0] += 2
            got.append(await cache.token(provider))
            assert len(tokens.forms) == 2
            tokens.expires_in = 60  # short tokens: renewed at half life
            now[0] += 10_000
            await cache.token(provider)
            now[0] += 29
            await cache.token(provider)
            assert len(tokens.forms) == 3
            now[0] += 2
            await cache.token(provider)
            assert len(tokens.forms) == 4
            return got
        finally:
            await transport.close()

    assert set(asyncio.run(run())) == {ENTRA_TOKEN}


def test_a_service_account_asserts_its_identity_with_its_key(
    tokens: FakeTokenEndpoint, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens.public_key = key.public_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps({
        "type": "service_account",
        "client_email": "zdrgate@project.iam.gserviceaccount.com",
        "private_key": pem,
        "private_key_id": "k1",
        "token_uri": tokens.url,
    }))  # fmt: skip
    conf = {"google-vertex": {"oauth": {
        "service_account_file": str(key_file),
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }}}  # fmt: skip
    catalog = build_catalog(load_packaged_catalog(), parse_settings({"providers": conf}), {},
                            today=TODAY)  # fmt: skip
    provider = catalog.providers["google-vertex"]
    assert provider.auth is Auth.OAUTH and provider.oauth is not None
    assert provider.oauth.token_url == tokens.url and pem not in repr(provider)
    signed = assertion(provider.oauth, 1_700_000_000)
    header = jwt.get_unverified_header(signed)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    claims = jwt.decode(signed, key.public_key(), algorithms=["RS256"], audience=tokens.url,
                        options={"verify_exp": False})  # fmt: skip
    assert claims == {
        "iss": "zdrgate@project.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": tokens.url,
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
    }

    async def run() -> str:
        transport = HTTP1Transport()
        await transport.start()
        try:
            return await TokenCache(transport).token(provider)
        finally:
            await transport.close()

    assert asyncio.run(run()) == ENTRA_TOKEN  # the fake verified the signature
    assert tokens.forms[0]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


# ---------------------------------------------------------------- what the config refuses


def merged(conf: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    settings = parse_settings({"providers": {"azure": conf}})
    return build_catalog(load_packaged_catalog(), settings, environ or ENVIRON, today=TODAY)


@pytest.mark.parametrize(
    ("conf", "environ", "message"),
    [
        ({"auth": "oauth"}, None, r"auth: oauth needs a \[providers.azure.oauth\] table"),
        ({"auth": "api-key", "oauth": {"scope": SCOPE}}, None, 'as auth = "oauth"'),
        ({"oauth": {"scope": SCOPE, "client_id": "a"}}, None, "token_url, client_id"),
        ({"oauth": {"token_url": "https://login.example/t", "client_id": "a",
                    "client_secret_env": "UNSET", "scope": SCOPE}}, {}, "client_secret"),
        ({"oauth": {"token_url": "http://login.example/t", "client_id": "a",
                    "client_secret": "s", "scope": SCOPE}}, None, "token_url"),
        ({"oauth": {"service_account_file": "/nonexistent/sa.json", "scope": SCOPE}}, None,
         "No such file"),
    ],
)  # fmt: skip
def test_a_config_that_cannot_obtain_tokens_stops_the_start(
    conf: dict[str, Any], environ: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        merged(conf, environ)


def test_a_file_that_is_not_a_service_account_key_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    with pytest.raises(ConfigError, match="not a service account key file"):
        merged({"oauth": {"service_account_file": str(path), "scope": SCOPE}})
    path.write_text(json.dumps({
        "type": "service_account", "client_email": "a@b", "private_key": "not a key",
    }))  # fmt: skip
    with pytest.raises(ConfigError, match="its private_key is not a key"):
        merged({"oauth": {"service_account_file": str(path), "scope": SCOPE}})
