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
    (deployment,) = of_kind(docs, "Deployment")
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
    (deployment,) = of_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    (job,) = of_kind(docs, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_egress_is_never_to_private_networks(overlay: str) -> None:
    policies = of_kind(render(overlay), "NetworkPolicy")
    main_policy = next(p for p in policies if p["metadata"]["name"] == "zdrgate")
    assert set(main_policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    blocks = [
        peer["ipBlock"]
        for rule in main_policy["spec"]["egress"]
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]
    assert blocks
    for block in blocks:
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
            block["except"]
        )


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
    assert bootstrap_admin_key(store, None, str(tmp_path), migrate_on_start=False) is not None
    store.close()
