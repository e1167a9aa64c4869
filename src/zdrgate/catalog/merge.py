"""Merging the operator's config and environment into the shipped catalog.

The result is the catalog the gateway serves: catalog providers with the operator's
base URL, credentials and ZDR attestation; providers the catalog does not know, with
their declared policy and models. Credentials are read here, once, at start-up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from zdrgate.catalog.aws import aws_credential_chain, geography, in_region
from zdrgate.catalog.model import (
    ATTESTABLE,
    Attestation,
    Auth,
    AwsCredentials,
    AwsCredentialSource,
    Catalog,
    Confidence,
    Endpoint,
    Model,
    PolicyRecord,
    Protocol,
    Provider,
    ZdrAvailability,
    origin_of,
)
from zdrgate.catalog.oauth import oauth_client
from zdrgate.catalog.origins import attested_origins, catalog_covers, checked_base_url
from zdrgate.config import ModelSettings, PolicyOverride, ProviderSettings, Settings
from zdrgate.errors import ConfigError
from zdrgate.protocols.table import SPECS, spec_for, variant_names


def build_catalog(
    base: Catalog,
    settings: Settings,
    environ: Mapping[str, str],
    today: dt.date | None = None,
) -> Catalog:
    """The catalog as configured: ``base`` plus ``settings.providers`` plus credentials.

    ``today`` (default: the system date) is what dates in the config are checked
    against: a date in the future is refused.
    """
    refuse_future_dates(settings, today or dt.date.today())
    providers = {
        pid: _with_credentials(p, settings.providers.get(pid), environ)
        for pid, p in base.providers.items()
    }
    for pid, conf in settings.providers.items():
        if pid not in providers:
            providers[pid] = _custom_provider(pid, conf, environ)
    providers = {
        pid: _oauth(_signing(p, conf, environ), conf, environ)
        for pid, p in providers.items()
        for conf in (settings.providers.get(pid) or ProviderSettings(),)
    }
    deployments = {pid: conf.deployments for pid, conf in settings.providers.items()}
    models = {mid: _rebind(m, providers, deployments) for mid, m in base.models.items()}
    for pid, conf in settings.providers.items():
        for model_conf in conf.models:
            _add_endpoint(models, providers[pid], model_conf, conf.deployments.get(model_conf.id))
        _check_deployments(pid, providers[pid], conf, models)
    return Catalog(providers=providers, models=models)


def _check_deployments(
    pid: str, provider: Provider, conf: ProviderSettings, models: dict[str, Model]
) -> None:
    """``deployments`` and ``api_version`` belong to a deployment protocol, and each
    mapped model must be one the provider serves (a typo would leave it unrouted)."""
    if not spec_for(provider.protocol).deployments:
        named = ", ".join(p.value for p, spec in SPECS.items() if spec.deployments)
        for key in ("deployments", "api_version"):
            if getattr(conf, key):
                raise ConfigError(f"providers.{pid}.{key}: only for a provider of protocol {named}")
        return
    for model_id in conf.deployments:
        model = models.get(model_id)
        if model is None or all(e.provider.id != pid for e in model.endpoints):
            raise ConfigError(
                f"providers.{pid}.deployments: {model_id!r} is not a model this provider "
                "serves (zdrgate models --all --json lists them)"
            )


# A date written today east of UTC is tomorrow for a gateway running on UTC.
_CLOCK_SLACK = dt.timedelta(days=1)


def refuse_future_dates(settings: Settings, today: dt.date) -> None:
    """A ``verified_on`` or ``attested_on`` in the future would never go stale."""
    for pid, conf in settings.providers.items():
        dates = {
            "policy.verified_on": conf.policy.verified_on if conf.policy else None,
            "zdr_attestation.attested_on": (
                conf.zdr_attestation.attested_on if conf.zdr_attestation else None
            ),
        }
        for key, value in dates.items():
            if value is not None and value > today + _CLOCK_SLACK:
                raise ConfigError(
                    f"providers.{pid}.{key}: {value.isoformat()} is in the future "
                    f"(today is {today.isoformat()}); write the date it happened"
                )


def _with_credentials(
    provider: Provider, conf: ProviderSettings | None, environ: Mapping[str, str]
) -> Provider:
    conf = conf or ProviderSettings()
    if conf.protocol and conf.protocol != provider.protocol.value:
        raise ConfigError(f"providers.{provider.id}.protocol cannot change a catalog provider")
    policy = provider.policy
    if conf.policy is not None:
        raise ConfigError(
            f"providers.{provider.id}.policy: the catalog's record of a known provider cannot "
            "be overridden; attest an agreement with zdr_attestation instead"
        )
    key_env = conf.api_key_env or provider.api_key_env
    policy = _attested(provider.id, policy, conf)
    provider = _in_region(provider, conf)
    base_url, covered = provider.base_url, True
    if conf.base_url:
        attestation = policy.attestation
        attested = origin_of(conf.base_url) in (attestation.origins if attestation else ())
        base_url = checked_base_url(
            f"providers.{provider.id}.base_url", conf.base_url, declared=attested
        )
        covered = attested or catalog_covers(provider, base_url)
    return dataclasses.replace(
        provider,
        base_url=base_url,
        requires_base_url=provider.requires_base_url and not conf.base_url,
        origin_covered=covered,
        api_key_env=key_env,
        api_key=conf.api_key or (environ.get(key_env) if key_env else None) or None,
        policy=policy,
        asset_origins=_origins(conf, provider.asset_origins),
        auth=Auth(conf.auth) if conf.auth else provider.auth,
        inline_image_urls=bool(conf.inline_image_urls),
        api_version=conf.api_version or provider.api_version,
    )


def _in_region(provider: Provider, conf: ProviderSettings) -> Provider:
    """``region`` moves a catalog provider's AWS runtime URL to that Region, and with it
    the cross-region profiles of the Region's geography (``eu-west-3``: ``eu.`` ids)."""
    if not conf.region:
        return provider
    _aws_only(provider.id, provider.protocol)
    provider = dataclasses.replace(provider, aws_region=conf.region)
    moved = in_region(provider.base_url, conf.region)
    if conf.base_url or moved is None:
        return provider  # an explicit base_url wins; SigV4 still signs for the Region
    if not catalog_covers(provider, moved):
        raise ConfigError(
            f"providers.{provider.id}.region: {conf.region} is not a Region the catalog's "
            "record covers; set base_url to it and attest the origin instead"
        )
    regional = dict(provider.regional_base_urls)
    if geography(conf.region) in regional:
        regional[geography(conf.region)] = moved
    return dataclasses.replace(
        provider, base_url=moved, regional_base_urls=tuple(sorted(regional.items()))
    )


def _aws_only(pid: str, protocol: Protocol) -> None:
    if spec_for(protocol).auth is not Auth.AWS_SIGV4:
        raise ConfigError(f"providers.{pid}.region: only AWS (bedrock) providers have a region")


def _signing(provider: Provider, conf: ProviderSettings, environ: Mapping[str, str]) -> Provider:
    """A provider whose calls are SigV4-signed gets the AWS keys; one that has a key
    of its own (a Bedrock API key) and no ``auth`` setting sends that as a bearer."""
    spec = spec_for(provider.protocol)
    if conf.instance_role and not spec.signing_name:
        raise ConfigError(f"providers.{provider.id}.instance_role: only for AWS (bedrock)")
    style = provider.auth or spec.auth
    if style is not Auth.AWS_SIGV4:
        return provider
    if not spec.signing_name:
        raise ConfigError(f"providers.{provider.id}.auth: aws-sigv4 is for AWS (bedrock) providers")
    if provider.api_key and not conf.auth:
        return dataclasses.replace(provider, auth=Auth.BEARER)
    found = aws_credential_chain(environ, provider.aws_region, conf.instance_role)
    keys = found if isinstance(found, AwsCredentials) else None
    source = found if isinstance(found, AwsCredentialSource) else None
    return dataclasses.replace(
        provider, auth=Auth.AWS_SIGV4, aws_credentials=keys, aws_source=source
    )


def _oauth(provider: Provider, conf: ProviderSettings, environ: Mapping[str, str]) -> Provider:
    """A provider with ``[oauth]`` sends tokens the gateway obtains (``auth = "oauth"``)."""
    where = f"providers.{provider.id}"
    if conf.oauth is None:
        if provider.auth is Auth.OAUTH:
            raise ConfigError(f"{where}.auth: oauth needs a [{where}.oauth] table")
        return provider
    if conf.auth not in (None, Auth.OAUTH.value):
        raise ConfigError(f"{where}.oauth: tokens travel as auth = \"oauth\", not {conf.auth!r}")
    client = oauth_client(where + ".oauth", conf.oauth, environ)
    return dataclasses.replace(provider, auth=Auth.OAUTH, oauth=client)


def _origins(conf: ProviderSettings, default: tuple[str, ...]) -> tuple[str, ...]:
    if conf.asset_origins is None:
        return default
    return tuple(o.rstrip("/") for o in conf.asset_origins)


def _attested(pid: str, policy: PolicyRecord, conf: ProviderSettings) -> PolicyRecord:
    given = conf.zdr_attestation
    if given is None:
        return policy
    attestation = Attestation(
        reference=given.reference,
        attested_on=given.attested_on,
        origins=attested_origins(f"providers.{pid}.zdr_attestation.origins", given.origins),
    )
    return dataclasses.replace(policy, attestation=attestation)


def _custom_provider(pid: str, conf: ProviderSettings, environ: Mapping[str, str]) -> Provider:
    if conf.protocol is None or conf.base_url is None:
        raise ConfigError(
            f"providers.{pid}: not in the catalog, so 'protocol' and 'base_url' are required"
        )
    key_env = conf.api_key_env or ""
    policy = _declared_policy(conf.policy)
    if conf.region:
        _aws_only(pid, Protocol(conf.protocol))
    return Provider(
        id=pid,
        name=conf.name or pid,
        protocol=Protocol(conf.protocol),
        auth=Auth(conf.auth) if conf.auth else None,
        base_url=checked_base_url(f"providers.{pid}.base_url", conf.base_url, declared=True),
        api_key_env=key_env,
        policy=_attested(pid, policy, conf),
        api_key=conf.api_key or (environ.get(key_env) if key_env else None) or None,
        aws_region=conf.region or "us-east-1",
        asset_origins=_origins(conf, ()),
        # A self-hosted server sits on the operator's network: it must not be handed
        # a client's URL to fetch (SSRF from inside). The gateway fetches it, guarded.
        inline_image_urls=conf.inline_image_urls is not False,
        api_version=conf.api_version,
    )


def _declared_policy(conf: PolicyOverride | None) -> PolicyRecord:
    """An operator-declared record; a provider without one is unknown, hence not routable."""
    if conf is None:
        return PolicyRecord(None, None, ZdrAvailability.UNKNOWN, (), None, Confidence.UNKNOWN)
    evidence = [conf.evidence] if isinstance(conf.evidence, str) else conf.evidence
    return PolicyRecord(
        retention_days=conf.retention_days,
        trains_on_data=conf.trains_on_data,
        zdr=ZdrAvailability(conf.zdr),
        evidence=tuple(e for e in evidence if e),
        verified_on=conf.verified_on,
        confidence=Confidence(conf.confidence),
        notes="declared by the operator",
    )


def _rebind(
    model: Model, providers: dict[str, Provider], deployments: dict[str, dict[str, str]]
) -> Model:
    """Point a model's endpoints at the configured providers, keeping their own records,
    with the deployment the operator named for the model (if any)."""
    endpoints = tuple(
        _rebind_endpoint(
            e, providers[e.provider.id], deployments.get(e.provider.id, {}).get(model.id)
        )
        for e in model.endpoints
    )
    return dataclasses.replace(model, endpoints=endpoints)


def _rebind_endpoint(endpoint: Endpoint, provider: Provider, deployment: str | None) -> Endpoint:
    # An endpoint with a record of its own keeps it. The operator's attestation of an
    # agreement with the provider reaches it only if that record needs an agreement:
    # a record that offers no ZDR (DALL-E, a free tier) stays as the catalog has it.
    policy = endpoint.policy
    if policy is endpoint.provider.policy:
        policy = provider.policy
    elif policy.zdr in ATTESTABLE and provider.policy.attestation is not None:
        policy = dataclasses.replace(policy, attestation=provider.policy.attestation)
    return dataclasses.replace(endpoint, provider=provider, policy=policy, deployment=deployment)


def _model_protocol(provider: Provider, conf: ModelSettings) -> Protocol | None:
    """The protocol a declared model speaks instead of its provider's, if the protocol
    table pairs the two (``responses`` on an ``openai`` or ``azure-openai`` provider)."""
    if conf.protocol is None or conf.protocol == provider.protocol.value:
        return None
    allowed = variant_names(provider.protocol)
    if conf.protocol not in allowed:
        raise ConfigError(
            f"providers.{provider.id}.models {conf.id!r}: protocol {conf.protocol!r} is not "
            f"spoken by a {provider.protocol.value!r} provider (allowed: "
            f"{', '.join(allowed) or 'none'})"
        )
    return Protocol(conf.protocol)


def _add_endpoint(
    models: dict[str, Model], provider: Provider, conf: ModelSettings, deployment: str | None
) -> None:
    endpoint = Endpoint(
        protocol=_model_protocol(provider, conf),
        model_id=conf.id,
        provider=provider,
        upstream_id=conf.upstream_id or conf.id,
        policy=provider.policy,
        context_length=conf.context_length,
        input_modalities=tuple(conf.input_modalities),
        output_modalities=tuple(conf.output_modalities),
        capabilities=frozenset(conf.capabilities),
        prompt_price=conf.prompt_price,
        completion_price=conf.completion_price,
        image_price=conf.image_price,
        deployment=deployment,
    )
    existing = models.get(conf.id)
    if existing is None:
        models[conf.id] = Model(
            id=conf.id,
            name=conf.name or conf.id,
            endpoints=(endpoint,),
            context_length=conf.context_length,
            input_modalities=tuple(conf.input_modalities),
            output_modalities=tuple(conf.output_modalities),
        )
    else:
        models[conf.id] = dataclasses.replace(existing, endpoints=(*existing.endpoints, endpoint))
