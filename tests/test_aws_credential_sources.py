"""Where SigV4's AWS keys come from, in the AWS SDKs' order: the key variables, a web
identity (EKS IRSA: STS AssumeRoleWithWebIdentity), a profile of the shared credentials
file, the container credentials endpoint (ECS, EKS Pod Identity), and (when the operator
asks for it) the EC2 instance's role (IMDSv2). The temporary keys are
obtained when first needed, renewed before they expire, and never relayed. Fakes on
127.0.0.1 answer as STS (XML) and the container endpoint (JSON) do; the fake Bedrock
checks each SigV4 signature against the keys they hand out."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from conftest import GatewayFactory
from fake_bedrock import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, FakeBedrock, start_fake_bedrock
from fake_openai import ServerThread
from test_protocol_bedrock import sigv4_provider
from zdrgate.catalog.aws import aws_credential_chain
from zdrgate.catalog.model import AwsCredentials, AwsCredentialSource, Provider
from zdrgate.errors import ConfigError
from zdrgate.upstream.aws_keys import AwsKeyCache
from zdrgate.upstream.transport import HTTP1Transport

ROLE = "arn:aws:iam::123456789012:role/zdrgate"
WEB_TOKEN = "eyJ-projected-service-account-token"
POD_TOKEN = "pod-identity-authorization-token"
STS_SESSION = SESSION_TOKEN  # the one the fake Bedrock accepts
HELLO: Any = [{"role": "user", "content": "hello"}]


class FakeAwsCredentials:
    """STS (``POST /`` AssumeRoleWithWebIdentity, XML), a container credentials endpoint
    (``GET /creds``, JSON) and EC2's instance metadata service (IMDSv2: ``PUT
    /latest/api/token``, then the role's name and keys); all hand out the fake Bedrock's
    keys."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.refuse = False
        self.lifetime = dt.timedelta(hours=1)
        app = web.Application()
        app.router.add_post("/", self.sts)
        app.router.add_get("/creds", self.container)
        app.router.add_put("/latest/api/token", self.imds_token)
        app.router.add_get("/latest/meta-data/iam/security-credentials/", self.imds_roles)
        app.router.add_get("/latest/meta-data/iam/security-credentials/{role}", self.imds_keys)
        self.server = ServerThread(app)
        self.port = self.server.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def expiration(self) -> str:
        return (dt.datetime.now(dt.UTC) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def sts(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append(form)
        valid = form.get("Action") == "AssumeRoleWithWebIdentity" and form.get("RoleArn") == ROLE
        if self.refuse or not valid or form.get("WebIdentityToken") != WEB_TOKEN:
            return web.Response(status=403, text="<ErrorResponse><Error><Code>AccessDenied"
                                "</Code><Message>Not authorized for role zdrgate</Message>"
                                "</Error></ErrorResponse>", content_type="text/xml")  # fmt: skip
        keys = (ACCESS_KEY, SECRET_KEY, STS_SESSION, self.expiration())
        return web.Response(text=STS_ANSWER.format(*keys), content_type="text/xml")

    async def container(self, request: web.Request) -> web.Response:
        self.calls.append({"authorization": request.headers.get("authorization", "")})
        if self.refuse or request.headers.get("authorization") != POD_TOKEN:
            return web.json_response({"message": "invalid token"}, status=401)
        return web.json_response({
            "AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET_KEY, "Token": STS_SESSION,
            "AccountId": "123456789012", "Expiration": self.expiration(),
        })  # fmt: skip


    async def imds_token(self, request: web.Request) -> web.Response:
        self.calls.append({"imds": "token"})
        if not request.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            return web.Response(status=400)
        return web.Response(text=IMDS_SESSION)

    def _imds_refused(self, request: web.Request) -> bool:
        return self.refuse or request.headers.get("x-aws-ec2-metadata-token") != IMDS_SESSION

    async def imds_roles(self, request: web.Request) -> web.Response:
        self.calls.append({"imds": "roles"})
        if self._imds_refused(request):
            return web.Response(status=401)
        return web.Response(text="zdrgate-role")

    async def imds_keys(self, request: web.Request) -> web.Response:
        self.calls.append({"imds": request.match_info["role"]})
        if self._imds_refused(request) or request.match_info["role"] != "zdrgate-role":
            return web.Response(status=401)
        return web.json_response({
            "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": ACCESS_KEY,
            "SecretAccessKey": SECRET_KEY, "Token": STS_SESSION, "Expiration": self.expiration(),
        })  # fmt: skip


IMDS_SESSION = "imds-session-token"
STS_ANSWER = """<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:zdrgate:zdrgate</SubjectFromWebIdentityToken>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/zdrgate/zdrgate</Arn></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{}</AccessKeyId>
      <SecretAccessKey>{}</SecretAccessKey>
      <SessionToken>{}</SessionToken>
      <Expiration>{}</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""


@pytest.fixture
def aws() -> Iterator[FakeAwsCredentials]:
    fake = FakeAwsCredentials()
    yield fake
    fake.server.stop()


@pytest.fixture
def bedrock() -> Iterator[FakeBedrock]:
    fake, server = start_fake_bedrock()
    yield fake
    server.stop()


def irsa(aws: FakeAwsCredentials, tmp_path: Path) -> dict[str, str]:
    token_file = tmp_path / "token"
    token_file.write_text(WEB_TOKEN + "\n")
    return {
        "AWS_ROLE_ARN": ROLE,
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ENDPOINT_URL_STS": aws.url + "/",
    }


def pod_identity(aws: FakeAwsCredentials, tmp_path: Path) -> dict[str, str]:
    token_file = tmp_path / "pod-token"
    token_file.write_text(POD_TOKEN)
    return {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": aws.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
    }


def ask(gateway: Any, times: int = 1) -> list[str]:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0) as client:
        answers = [client.chat.completions.create(model="test/ok", messages=HELLO)
                   for _ in range(times)]  # fmt: skip
    return [answer.choices[0].message.content or "" for answer in answers]


# ---------------------------------------------------------------- end to end


@pytest.mark.parametrize("source", ["web identity", "pod identity"])
def test_temporary_keys_sign_the_calls_and_are_obtained_once(
    source: str, aws: FakeAwsCredentials, bedrock: FakeBedrock, make_gateway: GatewayFactory,
    tmp_path: Path,
) -> None:
    environ = irsa(aws, tmp_path) if source == "web identity" else pod_identity(aws, tmp_path)
    gateway = make_gateway({"aws": sigv4_provider(bedrock, ["ok"])}, environ=environ)
    assert ask(gateway, times=2) == ["echo: hello"] * 2
    assert [r.auth for r in bedrock.requests] == ["sigv4", "sigv4"]  # verified signatures
    assert {r.headers["x-amz-security-token"] for r in bedrock.requests} == {STS_SESSION}
    assert len(aws.calls) == 1  # one set of keys for both calls
    if source == "web identity":
        [form] = aws.calls
        assert form["RoleArn"] == ROLE and form["RoleSessionName"] == "zdrgate"
        assert form["DurationSeconds"] == "3600"
    assert all("hello" not in str(call) for call in aws.calls)  # no content went there


def test_a_refused_role_sends_nothing_and_relays_nothing(
    aws: FakeAwsCredentials, bedrock: FakeBedrock, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    aws.refuse = True
    gateway = make_gateway({"aws": sigv4_provider(bedrock, ["ok"])}, environ=irsa(aws, tmp_path))
    body = {"model": "test/ok", "messages": HELLO}
    response = httpx.post(gateway.v1 + "/chat/completions", json=body, headers=gateway.auth())
    assert response.status_code == 502 and "upstream_auth_failed" in response.text
    assert "AccessDenied" not in response.text and "Not authorized" not in response.text
    assert bedrock.requests == []


def test_a_profile_of_the_shared_credentials_file(
    bedrock: FakeBedrock, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other\n\n"
        f"[work]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        f"aws_session_token = {STS_SESSION}\n"
    )
    environ = {"AWS_SHARED_CREDENTIALS_FILE": str(path), "AWS_PROFILE": "work"}
    gateway = make_gateway({"aws": sigv4_provider(bedrock, ["ok"])}, environ=environ)
    assert ask(gateway) == ["echo: hello"]
    assert bedrock.requests[0].headers["x-amz-security-token"] == STS_SESSION


# ---------------------------------------------------------------- the order and the checks


def test_the_sdks_order(aws: FakeAwsCredentials, tmp_path: Path) -> None:
    keys = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"}
    both = {**keys, **irsa(aws, tmp_path), **pod_identity(aws, tmp_path)}
    assert isinstance(aws_credential_chain(both, "eu-west-3"), AwsCredentials)
    del both["AWS_ACCESS_KEY_ID"]
    found = aws_credential_chain(both, "eu-west-3")
    assert isinstance(found, AwsCredentialSource) and found.kind == "web_identity"
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n"
    )
    container = {**pod_identity(aws, tmp_path), "HOME": str(home)}
    found = aws_credential_chain(container, "eu-west-3")
    assert isinstance(found, AwsCredentials) and found.access_key_id == "AKIDFILE"
    del container["HOME"]
    found = aws_credential_chain(container, "eu-west-3")
    assert isinstance(found, AwsCredentialSource) and found.kind == "container"
    regional = aws_credential_chain({k: v for k, v in irsa(aws, tmp_path).items()
                                     if k != "AWS_ENDPOINT_URL_STS"}, "eu-west-3")  # fmt: skip
    assert isinstance(regional, AwsCredentialSource)
    assert regional.url == "https://sts.eu-west-3.amazonaws.com/"
    relative = aws_credential_chain({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds/x"}, "x")
    assert isinstance(relative, AwsCredentialSource)
    assert relative.url == "http://169.254.170.2/v2/creds/x"
    assert aws_credential_chain({}, "us-east-1") is None


@pytest.mark.parametrize(
    "environ",
    [
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://metadata.example/creds"},
        {"AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": "/t",
         "AWS_ENDPOINT_URL_STS": "http://sts.example/"},
    ],
)  # fmt: skip
def test_credentials_are_fetched_only_over_https_or_from_a_known_local_address(
    environ: dict[str, str],
) -> None:
    with pytest.raises(ConfigError, match="must be https"):
        aws_credential_chain(environ, "us-east-1")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "@evil.example/creds"}, "a path on"),
        ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://user:SECRETPW@creds.example/x"},
         "credentials in the URL"),
        ({"AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": "/t",
          "AWS_ENDPOINT_URL_STS": "http://user:SECRETPW@sts.example/"}, "credentials in the URL"),
    ],
)  # fmt: skip
def test_a_credential_url_cannot_point_elsewhere_or_carry_a_secret(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        aws_credential_chain(environ, "us-east-1")
    assert "SECRETPW" not in str(caught.value) and "evil" not in str(caught.value)


def test_a_profile_without_keys_is_no_reason_to_stop(tmp_path: Path) -> None:
    """An SSO profile (no keys) or a missing file: Bedrock says no_credentials instead."""
    path = tmp_path / "credentials"
    path.write_text("[sso]\nsso_session = corp\n")
    environ = {"AWS_SHARED_CREDENTIALS_FILE": str(path), "AWS_PROFILE": "sso"}
    assert aws_credential_chain(environ, "us-east-1") is None
    environ["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "missing")
    assert aws_credential_chain(environ, "us-east-1") is None


def test_keys_are_renewed_five_minutes_before_they_expire(
    aws: FakeAwsCredentials, tmp_path: Path
) -> None:
    source = aws_credential_chain(irsa(aws, tmp_path), "us-east-1")
    assert isinstance(source, AwsCredentialSource)
    provider = Provider("aws", "AWS", "bedrock", "https://x", "", None,  # type: ignore[arg-type]
                        aws_source=source)  # fmt: skip
    now = [0.0]

    async def run() -> None:
        transport = HTTP1Transport()
        await transport.start()
        cache = AwsKeyCache(transport, monotonic=lambda: now[0])
        try:
            first = await cache.keys(provider)
            assert first.session_token == STS_SESSION and len(aws.calls) == 1
            now[0] += 3600 - 300 - 5  # the answer's Expiration is an hour ahead
            await cache.keys(provider)
            assert len(aws.calls) == 1
            now[0] += 10
            await cache.keys(provider)
            assert len(aws.calls) == 2
        finally:
            await transport.close()

    asyncio.run(run())


def test_the_ec2_instance_role_when_the_operator_asks_for_it(
    aws: FakeAwsCredentials, bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    environ = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": aws.url}
    assert aws_credential_chain(environ, "us-east-1") is None  # not asked: never consulted
    conf = {**sigv4_provider(bedrock, ["ok"]), "instance_role": True}
    gateway = make_gateway({"aws": conf}, environ=environ)
    assert ask(gateway, times=2) == ["echo: hello"] * 2
    assert {r.headers["x-amz-security-token"] for r in bedrock.requests} == {STS_SESSION}
    assert aws.calls == [{"imds": "token"}, {"imds": "roles"}, {"imds": "zdrgate-role"}]


def test_instance_role_is_for_aws_providers_only() -> None:
    from zdrgate.catalog.load import load_packaged_catalog  # noqa: PLC0415
    from zdrgate.catalog.merge import build_catalog  # noqa: PLC0415
    from zdrgate.config import parse_settings  # noqa: PLC0415

    settings = parse_settings({"providers": {"groq": {"instance_role": True}}})
    with pytest.raises(ConfigError, match="instance_role: only for AWS"):
        build_catalog(load_packaged_catalog(), settings, {})


@pytest.mark.parametrize("content", [None, b"\xff\xfe not utf-8", b"   "])
def test_an_unreadable_web_identity_token_fails_the_call_not_the_gateway(
    aws: FakeAwsCredentials, bedrock: FakeBedrock, make_gateway: GatewayFactory,
    tmp_path: Path, content: bytes | None,
) -> None:
    environ = irsa(aws, tmp_path)
    token_file = Path(environ["AWS_WEB_IDENTITY_TOKEN_FILE"])
    if content is None:
        token_file.unlink()
    else:
        token_file.write_bytes(content)
    gateway = make_gateway({"aws": sigv4_provider(bedrock, ["ok"])}, environ=environ)
    body = {"model": "test/ok", "messages": HELLO}
    response = httpx.post(gateway.v1 + "/chat/completions", json=body, headers=gateway.auth())
    assert response.status_code == 502 and "upstream_auth_failed" in response.text
    assert aws.calls == [] and bedrock.requests == []
