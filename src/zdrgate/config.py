"""Operator settings: the TOML contract of the brief, validated with pydantic.

Every key is optional (see ``docs/configuration.md``). Load with :func:`load_settings`;
``ZDRGATE_CONFIG`` names the file when ``--config`` is not given.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zdrgate.catalog.model import Auth
from zdrgate.errors import ConfigError
from zdrgate.protocols.table import protocol_names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    """Larger request bodies are answered with 413."""
    stream_keepalive_seconds: float = Field(default=5.0, gt=0)
    """While waiting for the first upstream byte, send an SSE comment this often."""
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    """A request's head and body must arrive within this long of its first byte (a new
    connection: of connecting), else 408 and the connection is closed (slowloris)."""
    write_timeout_seconds: float = Field(default=60.0, gt=0)
    """A response the client leaves unread this long closes the connection."""
    keep_alive_seconds: float = Field(default=5.0, gt=0)
    """An idle keep-alive connection is closed after this long."""
    max_connections: int = Field(default=16_384, gt=0)
    """Open client connections; a request past it is answered 503."""
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    """Request line and headers together; larger is a 431."""
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    """On SIGTERM, stop accepting and let open requests and streams finish for this
    long (their usage is recorded), then cut what is left."""
    worker_start_seconds: int = Field(default=60, gt=0)
    """With ``--workers N``: how long a worker may take to start (and to answer the
    supervisor's liveness ping) before it is replaced. uvicorn's default, 5 s, is shorter
    than a worker's start on a loaded machine, which then restarts workers forever."""
    public_url: str = ""
    """The address people reach the gateway at, e.g. ``https://ai.example.org``: the
    base of invite links. Empty: ``http://host:port``."""


class StorageSettings(_Strict):
    database_url: str = "sqlite:///zdrgate.db"
    redis_url: str = ""
    """Shared counters (rate limits, budgets) for several instances; empty: in memory."""
    redis_key_prefix: str = "zdrgate:"
    """Prefix of every Redis key zdrgate writes, so instances of two gateways can share
    one Redis without meeting."""
    data_dir: str = "."
    """Where the gateway keeps its own files (the first admin key, the receipt
    signing key). Never a prompt or a completion."""
    usage_flush_seconds: float = Field(default=1.0, ge=0)
    """Usage rows are written in batches gathered for this long after the first row.
    0: each row is written as soon as the writer is free (rows arriving meanwhile
    share the next write, a group commit) and a response's last bytes wait until its
    row is committed, so a killed process loses no row of a request whose client got
    the whole response: the setting for several instances."""
    migrate_on_start: bool = True
    """``serve`` upgrades the schema at start. Off (several instances on one
    database): run ``zdrgate migrate`` once per release; ``serve`` refuses to start on
    a schema that is not current."""


class LimitSettings(_Strict):
    failed_auth_per_minute: int = Field(default=20, gt=0)
    """Failed authentications a client address may make per minute; then 429."""


class PolicySettings(_Strict):
    max_verification_age_days: int = Field(default=180, gt=0)


class UpstreamSettings(_Strict):
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=300.0, gt=0)
    """Longest silence between two upstream bytes before the attempt fails; also the
    longest the gateway leaves an upstream connection paused for a slow client."""
    max_response_bytes: int = Field(default=128 * 1024 * 1024, gt=0)
    """Largest upstream response body (after gzip/deflate decoding), streams included."""
    failure_cooldown_seconds: float = Field(default=30.0, ge=0)
    """How long an endpoint that failed is tried last."""
    egress_proxy: str = ""
    """An HTTP proxy (``http://[user:password@]host:port``) that https upstream
    connections are tunnelled through with ``CONNECT``; TLS stays end to end, so the
    proxy sees host names only. Empty (default): direct connections."""

    @field_validator("egress_proxy")
    @classmethod
    def _proxy_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/")):
            raise ValueError("must be an http://host:port URL (the proxy carries CONNECT only)")
        return value


class ImageSettings(_Strict):
    pass_through_provider_urls: bool = False
    """Return an upstream's image URL as it is when the client asked for
    ``response_format: "url"``. Off: every image is returned as base64, and an image
    URL an upstream answers with is fetched (from the provider's ``asset_origins``
    only) and inlined. zdrgate itself never hosts an image URL."""
    max_fetch_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    """Largest image the gateway fetches (a provider's image URL, or a vision input
    a protocol needs inline)."""
    fetch_timeout_seconds: float = Field(default=30.0, gt=0)
    max_fetch_bytes_per_request: int = Field(default=32 * 1024 * 1024, gt=0)
    """All images fetched for one request together read at most this many bytes."""
    max_concurrent_fetches: int = Field(default=16, gt=0)
    """Image fetches in flight at once in one process; more wait (within their timeout)."""


class ReceiptSettings(_Strict):
    issuer: str = ""
    """The ``iss`` claim of receipts: this deployment's public URL. Empty:
    ``http://{server.host}:{server.port}``."""
    signing_key_file: str = ""
    """A PEM Ed25519 private key given by the operator. Empty: the key is generated
    at first start into ``storage.data_dir`` (mode 0600)."""
    signing_key_env: str = "ZDRGATE_RECEIPT_KEY"
    """An environment variable that, when set, holds the PEM key (wins over the file)."""
    lifetime_days: int = Field(default=365, gt=0)
    """How long a receipt stays verifiable: a retired signing key stays in the JWKS
    this many days after it was replaced."""


class EvidenceSettings(_Strict):
    on_change: Literal["keep", "suspend"] = "keep"
    """When evidence watch finds a provider's evidence pages changed: ``keep`` its
    endpoints routable until their verification ages out (``max_verification_age_days``),
    or ``suspend`` them until an admin runs ``zdrgate catalog verify``."""
    timeout_seconds: float = Field(default=20.0, gt=0)
    """Connect and read timeout of each evidence page fetch."""
    refresh_seconds: float = Field(default=60.0, gt=0)
    """How often a running gateway re-reads the log for suspended providers."""


class WebSettings(_Strict):
    enabled: bool = True
    """Serve the web app (chat, models, privacy, account pages) at ``/``. Off: only
    the API and ``/healthz`` are served."""
    site_name: str = "zdrgate"
    """The name shown in the pages' header and title (branding)."""
    operator_name: str = ""
    """Who runs this deployment, as the privacy page names it."""
    operator_contact: str = ""
    """How people reach the operator about privacy (an email address or a URL), shown on
    the privacy page."""


class AttestationSettings(_Strict):
    reference: str = Field(min_length=1)
    attested_on: dt.date
    origins: list[str] = Field(default_factory=list)
    """Upstream origins (``https://host[:port]``) besides the catalog's that the
    agreement covers: where an overridden ``base_url`` points (docs/security.md)."""


class PolicyOverride(_Strict):
    retention_days: float | None = None
    trains_on_data: bool | None = None
    evidence: str | list[str] = Field(default_factory=list)
    verified_on: dt.date | None = None
    zdr: Literal["default", "self_serve", "by_agreement", "enterprise", "none", "unknown"] = (
        "default"
    )
    confidence: Literal["high", "medium", "low", "unknown"] = "high"


class ModelSettings(_Strict):
    id: str
    upstream_id: str | None = None
    name: str | None = None
    input_modalities: list[str] = Field(default_factory=lambda: ["text"])
    output_modalities: list[str] = Field(default_factory=lambda: ["text"])
    prompt_price: float | None = None
    completion_price: float | None = None
    image_price: float | None = None
    context_length: int | None = None
    capabilities: list[str] = Field(default_factory=lambda: ["tools", "structured_output"])
    protocol: str | None = None
    """The wire protocol of this model's calls when not the provider's: ``responses``
    for a model OpenAI or Azure OpenAI serves only on the Responses API (the ``-pro``
    and ``-codex`` models). Default: the provider's."""

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str | None) -> str | None:
        return _one_of(value, protocol_names())

    @field_validator("id")
    @classmethod
    def _public_id(cls, value: str) -> str:
        if "/" not in value:
            raise ValueError("model id must look like 'author/slug'")
        return value


class OAuthSettings(_Strict):
    """``[providers.<id>.oauth]``: the gateway obtains short-lived bearer tokens itself
    (``auth = "oauth"``). Either an OAuth client (``token_url``, ``client_id`` and its
    secret: Microsoft Entra ID for Azure OpenAI) or a Google service account key file
    (``service_account_file``: Vertex AI)."""

    token_url: str | None = None
    """The token endpoint, e.g.
    ``https://login.microsoftonline.com/TENANT/oauth2/v2.0/token``; for a service
    account, default: the file's ``token_uri``."""
    scope: str
    """E.g. ``https://cognitiveservices.azure.com/.default`` (Azure OpenAI),
    ``https://www.googleapis.com/auth/cloud-platform`` (Vertex AI)."""
    client_id: str | None = None
    client_secret_env: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    service_account_file: str | None = None


_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_API_VERSION = re.compile(r"^[a-z0-9][a-z0-9.-]{0,31}$")


class ProviderSettings(_Strict):
    protocol: str | None = None
    """A name from the protocol table (``zdrgate.protocols.table``): openai, anthropic,
    anthropic-vertex, gemini, azure-openai, bedrock, responses."""
    auth: str | None = None
    """How the key travels (bearer, x-api-key, x-goog-api-key, api-key, aws-sigv4, or
    oauth: a token obtained with ``[providers.<id>.oauth]``);
    default: the protocol's own (its spec's ``auth``; for bedrock, the Bedrock API key
    as a bearer token when one is set, else SigV4 from the AWS variables)."""
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    """The AWS Region (bedrock): where the catalog's Bedrock endpoints without a
    geography prefix are called, and where that Region's geography sends its
    cross-region profiles (``eu-west-3``: the ``eu.`` ids too); SigV4 signs for it
    when the host names no Region. Default: ``us-east-1``."""
    instance_role: bool = False
    """AWS (bedrock): when no other AWS credential source is set, take temporary keys
    from the EC2 instance's role (IMDSv2, ``http://169.254.169.254``, or
    ``AWS_EC2_METADATA_SERVICE_ENDPOINT``). Off by default: a gateway not on EC2 would
    wait on an address that never answers."""
    name: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    zdr_attestation: AttestationSettings | None = None
    policy: PolicyOverride | None = None
    asset_origins: list[str] | None = None
    """Origins (``https://host``) whose image URLs the gateway may fetch and inline."""
    inline_image_urls: bool | None = None
    """Fetch a client's image URLs (SSRF-guarded) and send the bytes inline instead of
    the URL. Default: on for a provider the catalog does not know (self-hosted), off
    for catalog providers."""
    models: list[ModelSettings] = Field(default_factory=list)
    oauth: OAuthSettings | None = None
    """Short-lived bearer tokens the gateway obtains and renews (``auth = "oauth"``)."""
    deployments: dict[str, str] = Field(default_factory=dict)
    """Azure OpenAI: public model id -> the name of the deployment that serves it on the
    resource (``"openai/gpt-4o" = "gpt4o-prod"``). A catalog model left out is not routed
    there (``deployment_not_mapped``)."""
    api_version: str | None = None
    """Azure OpenAI's ``api-version`` query parameter. Default: ``2024-10-21`` on the
    deployment-path API (``base_url`` ending ``/openai``), none on the v1 API
    (``base_url`` ending ``/openai/v1``)."""

    @field_validator("deployments")
    @classmethod
    def _deployment_names(cls, value: dict[str, str]) -> dict[str, str]:
        for model_id, name in value.items():
            if not _DEPLOYMENT.match(name):
                raise ValueError(
                    f"{model_id!r}: {name!r} is not a deployment name (letters, digits, "
                    "'.', '_', '-'; up to 64)"
                )
        return value

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str | None) -> str | None:
        if value is not None and not _API_VERSION.match(value):
            raise ValueError("must look like 2024-10-21, 2025-04-01-preview or preview")
        return value

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str | None) -> str | None:
        return _one_of(value, protocol_names())

    @field_validator("auth")
    @classmethod
    def _known_auth(cls, value: str | None) -> str | None:
        return _one_of(value, tuple(a.value for a in Auth))


def _one_of(value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)}")
    return value


class TelemetrySettings(_Strict):
    otlp_endpoint: str = ""
    """OTLP/HTTP traces endpoint of the operator's collector, e.g.
    ``http://otel-collector:4318/v1/traces``; empty: no traces. One span per request,
    metadata only (needs ``pip install 'zdrgate[otel]'``)."""
    service_name: str = "zdrgate"
    """The ``service.name`` resource attribute of the spans."""


class MetricsSettings(_Strict):
    enabled: bool = True
    """Serve Prometheus metrics at ``/metrics`` (metadata only: docs/deploy.md)."""
    public: bool = False
    """Off: ``/metrics`` needs an admin key (Prometheus sends it as a bearer token).
    On: no key (for a scrape port reachable only inside the cluster)."""


class AccountSettings(_Strict):
    signup: Literal["open", "invite", "closed"] = "invite"
    """Who may make an account: anyone (``open``), holders of an admin's invite link
    (``invite``), or no one (``closed``: admins make accounts)."""
    session_hours: float = Field(default=168.0, gt=0)
    """How long a web session lasts after sign-in."""
    passkey_rp_id: str = ""
    """The WebAuthn relying party id (a host name); empty: the request's host."""
    passkey_origin: str = ""
    """The origin browsers sign passkey answers for; empty: the request's origin."""


class Settings(_Strict):
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    policy: PolicySettings = PolicySettings()
    upstream: UpstreamSettings = UpstreamSettings()
    images: ImageSettings = ImageSettings()
    limits: LimitSettings = LimitSettings()
    accounts: AccountSettings = AccountSettings()
    web: WebSettings = WebSettings()
    metrics: MetricsSettings = MetricsSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    receipts: ReceiptSettings = ReceiptSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from ``path``, else ``$ZDRGATE_CONFIG``, else defaults."""
    chosen = path or os.environ.get("ZDRGATE_CONFIG") or None
    if chosen is None:
        return Settings()
    try:
        raw = tomllib.loads(Path(chosen).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {chosen}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {chosen} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {chosen} is not UTF-8 text") from exc
    return parse_settings(raw, source=str(chosen))


def parse_settings(raw: dict[str, object], *, source: str = "config") -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None
