"""The container image and the Kubernetes manifests: rendered with `kubectl kustomize`
and validated against the Kubernetes schemas (kubernetes-validate), as CI does.

Under CI=true a missing kubectl fails these tests (scripts/test installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from conftest import REDIS_URL
from zdrgate.cli import main
from zdrgate.config import parse_settings

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ("single", "scaled")


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is not installed (scripts/test installs it)")
        pytest.skip("kubectl is not installed")
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(ROOT / "deploy/k8s/overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def gateway_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "zdrgate"]
    return deployment


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_validate_against_the_kubernetes_schemas(overlay: str) -> None:
    docs = render(overlay)
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_non_root_on_a_read_only_root(overlay: str) -> None:
    docs = render(overlay)
    pods = [d["spec"]["template"]["spec"] for d in of_kind(docs, "Deployment")]
    pods += [d["spec"]["template"]["spec"] for d in of_kind(docs, "Job")]
    pods += [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in of_kind(docs, "CronJob")]
    assert pods
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_map_is_a_valid_zdrgate_config(overlay: str) -> None:
    (config_map,) = of_kind(render(overlay), "ConfigMap")
    settings = parse_settings(tomllib.loads(config_map["data"]["zdrgate.toml"]))
    assert settings.server.host == "0.0.0.0"
    assert settings.storage.data_dir == "/var/lib/zdrgate"
    if overlay == "scaled":
        assert settings.storage.database_url.startswith("postgresql://")
        assert settings.storage.redis_url.startswith("redis://")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_commands_name_what_zdrgate_has(overlay: str) -> None:
    docs = render(overlay)
    deployment = gateway_deployment(docs)
    (gateway,) = deployment["spec"]["template"]["spec"]["containers"]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    commands = set(main.commands)  # type: ignore[attr-defined]
    for job in of_kind(docs, "Job") + of_kind(docs, "CronJob"):
        spec = job["spec"].get("jobTemplate", job)["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert container["args"][0] in commands
    result = CliRunner().invoke(main, ["migrate", "--help"])
    assert result.exit_code == 0


def test_scaled_overlay_has_autoscaling_disruption_budget_and_migration() -> None:
    docs = render("scaled")
    deployment = gateway_deployment(docs)
    assert deployment["spec"]["replicas"] >= 2
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    (job,) = of_kind(docs, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_reaches_only_dns_the_proxy_and_datastores(overlay: str) -> None:
    docs = render(overlay)
    policies = {p["metadata"]["name"]: p for p in of_kind(docs, "NetworkPolicy")}
    gateway = [p for p in policies.values() if _selects(p, "gateway")]
    assert {p["metadata"]["name"] for p in gateway} == (
        {"zdrgate", "zdrgate-datastores"} if overlay == "scaled" else {"zdrgate"}
    )
    assert set(policies["zdrgate"]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for policy in gateway:
        for rule in policy["spec"]["egress"]:
            peers = rule.get("to", [])
            if not peers:  # DNS only
                assert {p["port"] for p in rule["ports"]} == {53}
            for peer in peers:  # pods by label, never an address range
                assert set(peer) == {"podSelector"}
    (to_proxy,) = [
        rule
        for rule in policies["zdrgate"]["spec"]["egress"]
        for peer in rule.get("to", [])
        if peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "egress-proxy"
    ]
    assert to_proxy["ports"] == [{"port": 3128, "protocol": "TCP"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_egress_proxy_reaches_public_https_only_for_the_gateway(overlay: str) -> None:
    docs = render(overlay)
    (policy,) = [p for p in of_kind(docs, "NetworkPolicy") if _selects(p, "egress-proxy")]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == (
        "gateway"
    )
    blocks = [
        (peer["ipBlock"], rule["ports"])
        for rule in policy["spec"]["egress"]
        for peer in rule.get("to", [])
    ]
    assert blocks
    for block, ports in blocks:
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
            block["except"]
        )
        assert ports == [{"port": 443, "protocol": "TCP"}]


def _selects(policy: dict[str, Any], component: str) -> bool:
    labels = policy["spec"]["podSelector"]["matchLabels"]
    return bool(labels.get("app.kubernetes.io/component") == component)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_proxy_allows_exactly_the_hosts_the_configured_catalog_can_route_to(
    overlay: str, tmp_path: Path
) -> None:
    from zdrgate.egress import egress_hosts  # noqa: PLC0415
    from zdrgate.upstream.egress import EgressProxy  # noqa: PLC0415

    docs = render(overlay)
    (config_map,) = of_kind(docs, "ConfigMap")
    text = config_map["data"]["zdrgate.toml"]
    settings = parse_settings(tomllib.loads(text))
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    proxy_pod = deployments["zdrgate-egress-proxy"]["spec"]["template"]["spec"]
    gateway_pod = deployments["zdrgate"]["spec"]["template"]["spec"]
    assert proxy_pod["containers"][0]["args"][0] == "egress-proxy"
    assert proxy_pod["containers"][0]["args"][0] in main.commands  # type: ignore[attr-defined]
    config_of = {
        name: next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v)
        for name, pod in (("proxy", proxy_pod), ("gateway", gateway_pod))
    }
    assert config_of["proxy"] == config_of["gateway"] == config_map["metadata"]["name"]
    (service,) = [s for s in of_kind(docs, "Service") if s["metadata"]["name"].endswith("proxy")]
    assert settings.upstream.egress_proxy == (
        f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    )
    expected = _https_hosts_routable_with_every_key(settings)
    assert ("api.groq.com", 443) in expected
    assert set(egress_hosts(settings)) == expected
    assert EgressProxy(egress_hosts(settings)).allowed == expected
    config = tmp_path / "zdrgate.toml"
    config.write_text(text)
    listed = CliRunner().invoke(main, ["deploy", "egress-hosts", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.split() == [f"{h}:{p}" for h, p in sorted(expected)]


def test_an_attested_provider_adds_its_host_and_only_routable_ones_count() -> None:
    import datetime as dt  # noqa: PLC0415

    from zdrgate.egress import egress_hosts  # noqa: PLC0415

    base = tomllib.loads((ROOT / "deploy/k8s/base/zdrgate.toml").read_text())
    plain = set(egress_hosts(parse_settings(base)))
    assert ("api.openai.com", 443) not in plain  # OpenAI retains unless attested
    recent = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)).isoformat()
    agreement = {"reference": "ZDR amendment", "attested_on": recent}
    attested = {**base, "providers": {"openai": {"zdr_attestation": agreement}}}
    openai = {("api.openai.com", 443), ("eu.api.openai.com", 443)}  # and its EU region
    assert set(egress_hosts(parse_settings(attested))) == plain | openai
    cilium = CliRunner().invoke(main, ["deploy", "egress-hosts", "--format", "cilium"])
    assert cilium.exit_code == 0 and "toFQDNs" in cilium.output


def _https_hosts_routable_with_every_key(settings: Any) -> set[tuple[str, int]]:
    """The same question as zdrgate.egress, asked without it: each routable endpoint."""
    import datetime as dt  # noqa: PLC0415
    from urllib.parse import urlsplit  # noqa: PLC0415

    from zdrgate.catalog.load import load_packaged_catalog  # noqa: PLC0415
    from zdrgate.catalog.merge import build_catalog  # noqa: PLC0415
    from zdrgate.policy import PolicyEngine  # noqa: PLC0415

    base = load_packaged_catalog()
    keys = {p.api_key_env: "k" for p in base.providers.values() if p.api_key_env}
    today = dt.datetime.now(dt.UTC).date()
    catalog = build_catalog(base, settings, keys, today)
    engine = PolicyEngine(settings.policy.max_verification_age_days)
    hosts = set()
    for model in catalog.models.values():
        for approval in engine.decide(model, today).approvals:
            url = urlsplit(approval.endpoint.base_url)
            if url.scheme == "https":
                hosts.add((str(url.hostname), url.port or 443))
            if approval.endpoint.provider.id == "amazon-bedrock":  # IRSA asks STS for keys
                hosts.add((f"sts.{approval.endpoint.provider.aws_region}.amazonaws.com", 443))
    return hosts


def test_token_and_credential_endpoints_are_on_the_proxys_list(tmp_path: Path) -> None:
    """An OAuth provider's token endpoint, and STS for AWS, go through the proxy too;
    a service account key file the proxy's pod does not have is no reason to fail."""
    import datetime as dt  # noqa: PLC0415

    from zdrgate.egress import egress_hosts  # noqa: PLC0415

    base = tomllib.loads((ROOT / "deploy/k8s/base/zdrgate.toml").read_text())
    plain = set(egress_hosts(parse_settings(base)))
    recent = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)).isoformat()
    vertex = "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/google"
    oauth = {
        "azure": {
            "base_url": "https://res.openai.azure.com/openai/v1",
            "zdr_attestation": {"reference": "approval", "attested_on": recent},
            "deployments": {"openai/gpt-4o": "gpt4o"},
            "oauth": {"token_url": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                      "client_id": "app", "client_secret_env": "NOT_HERE", "scope": "s"},
        },
        "google-vertex": {
            "base_url": vertex,
            "zdr_attestation": {"reference": "caching off", "attested_on": recent},
            "oauth": {"service_account_file": str(tmp_path / "not-mounted-here.json"),
                      "scope": "https://www.googleapis.com/auth/cloud-platform"},
        },
    }  # fmt: skip
    hosts = set(egress_hosts(parse_settings({**base, "providers": oauth})))
    assert ("login.microsoftonline.com", 443) in hosts - plain
    assert ("oauth2.googleapis.com", 443) in hosts - plain
    assert ("res.openai.azure.com", 443) in hosts


def test_dockerfile_parses_and_runs_non_root_without_a_shell() -> None:
    commands = dockerfile.parse_file(str(ROOT / "deploy/Dockerfile"))
    final_stage = commands[max(i for i, c in enumerate(commands) if c.cmd == "FROM") :]
    assert "distroless" in final_stage[0].value[0]
    user = [c.value[0] for c in final_stage if c.cmd == "USER"]
    assert user and not user[-1].startswith(("0", "root"))
    entry = [c for c in final_stage if c.cmd == "ENTRYPOINT"]
    assert entry and entry[-1].json  # exec form: no /bin/sh -c
    assert not any(c.cmd == "RUN" for c in final_stage)  # nothing runs in the final stage
    copied = [c.value for c in final_stage if c.cmd == "COPY"]
    config_src = next(v[-2] for v in copied if v[-1] == "/etc/zdrgate/zdrgate.toml")
    parse_settings(tomllib.loads((ROOT / config_src).read_text()))


def test_readyz_says_ready_and_names_a_failing_database(tmp_path: Path) -> None:
    from starlette.testclient import TestClient  # noqa: PLC0415

    from zdrgate.server.app import create_app  # noqa: PLC0415

    storage = {"database_url": f"sqlite:///{tmp_path}/z.db", "data_dir": str(tmp_path)}
    settings = parse_settings({"storage": storage})
    with TestClient(create_app(settings, environ={})) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "checks": {"catalog": "ok", "database": "ok", "migrations": "ok"},
        }
    broken = parse_settings(
        {
            "storage": {
                "database_url": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
                "data_dir": str(tmp_path),
            }
        }
    )
    app = create_app(broken, environ={})
    client = TestClient(app)  # no lifespan: the database is never reached at start
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"] == "unreachable"
    assert "nobody" not in answer.text


def test_without_migrate_on_start_serve_waits_for_zdrgate_migrate(tmp_path: Path) -> None:
    from zdrgate.accounts.store import Store  # noqa: PLC0415
    from zdrgate.errors import ConfigError  # noqa: PLC0415
    from zdrgate.server.run import bootstrap_admin_key  # noqa: PLC0415

    url = f"sqlite:///{tmp_path}/z.db"
    config = tmp_path / "z.toml"
    config.write_text(f'[storage]\ndatabase_url = "{url}"\nmigrate_on_start = false\n')
    store = Store(url)
    with pytest.raises(ConfigError, match="zdrgate migrate"):
        bootstrap_admin_key(store, None, str(tmp_path), migrate_on_start=False)
    result = CliRunner().invoke(main, ["migrate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("schema migrated from an empty database to revision 0")
    again = CliRunner().invoke(main, ["migrate", "--config", str(config)])
    assert again.output.startswith("schema is up to date (revision 0")
    assert bootstrap_admin_key(store, None, str(tmp_path), migrate_on_start=False) is not None
    store.close()


@pytest.mark.services
def test_readyz_checks_redis_when_it_is_configured(tmp_path: Path, redis_prefix: str) -> None:
    from starlette.testclient import TestClient  # noqa: PLC0415

    from zdrgate.server.app import create_app  # noqa: PLC0415

    def storage(redis_url: str) -> dict[str, Any]:
        return {
            "storage": {
                "database_url": f"sqlite:///{tmp_path}/z.db",
                "data_dir": str(tmp_path),
                "redis_url": redis_url,
                "redis_key_prefix": redis_prefix,
            }
        }

    with TestClient(create_app(parse_settings(storage(REDIS_URL)), environ={})) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["redis"] == "ok"
    away = create_app(parse_settings(storage("redis://127.0.0.1:9/0")), environ={})
    answer = TestClient(away).get("/readyz")  # no lifespan: nothing connects at start
    assert answer.status_code == 503
    assert answer.json()["checks"]["redis"] == "unreachable"
