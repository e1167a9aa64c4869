"""The CLI, with click's CliRunner, and `zdrgate serve` with no config at all."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from auth_helpers import authenticator
from fake_openai import start_fake_openai
from test_canary import free_port, write_config
from zdrgate.accounts.store import Store
from zdrgate.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_models_json_lists_at_least_300_zdr_capable_models() -> None:
    code, out = run("models", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) >= 300
    assert all(r["zdr_endpoints"] >= 1 for r in rows)
    assert len({p for r in rows for p in r["zdr_providers"]}) >= 15


def test_models_filters() -> None:
    _, out = run("models", "--json", "--provider", "groq")
    rows = json.loads(out)
    assert rows and all("groq" in r["zdr_providers"] or r["endpoints"] for r in rows)
    _, out = run("models", "--json", "--modality", "image")
    assert all("image" in r["output_modalities"] for r in json.loads(out))
    _, everything = run("models", "--json", "--all")
    assert len(json.loads(everything)) > len(json.loads(run("models", "--json")[1]))


def test_zdr_only_lists_models_routable_with_the_credentials_present() -> None:
    _, none = run("models", "--json", "--zdr-only", env={"GROQ_API_KEY": ""})
    _, groq = run("models", "--json", "--zdr-only", env={"GROQ_API_KEY": "gsk-test"})
    ids = {r["id"] for r in json.loads(groq)} - {r["id"] for r in json.loads(none)}
    assert "meta-llama/llama-3.3-70b-instruct" in ids


def test_explain_gives_a_reason_per_endpoint() -> None:
    code, out = run("explain", "openai/gpt-4o-mini", "--json", env={"OPENAI_API_KEY": ""})
    assert code == 0
    rows = json.loads(out)["endpoints"]
    openai_row = next(r for r in rows if r["endpoint"].startswith("openai/"))
    assert openai_row["routable"] == "no"
    assert "agreement_not_attested" in openai_row["reasons"]
    assert "no_credentials" in openai_row["reasons"]
    code, out = run("explain", "openai/gpt-4o-mini")
    assert code == 0 and "agreement_not_attested" in out


def test_explain_unknown_model_fails_clearly() -> None:
    result = CliRunner().invoke(main, ["explain", "nope/none"])
    assert result.exit_code == 1
    assert "not in the catalog" in result.output


def test_attestation_in_config_makes_openai_routable(tmp_path: Path) -> None:
    config = tmp_path / "z.toml"
    attested_on = (dt.date.today() - dt.timedelta(days=10)).isoformat()  # attestations age
    config.write_text(
        '[providers.openai]\napi_key = "sk-test"\n'
        f'zdr_attestation = {{ reference = "ZDR amendment", attested_on = "{attested_on}" }}\n'
    )
    _, out = run("explain", "openai/gpt-4o-mini", "--json", "--config", str(config))
    rows = json.loads(out)["endpoints"]
    assert next(r for r in rows if r["endpoint"] == "openai/gpt-4o-mini")["routable"] == "yes"


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "z.toml"
    config.write_text("[server]\nport = 'eighty'\n")
    result = CliRunner().invoke(main, ["models", "--config", str(config)])
    assert result.exit_code == 1
    assert "server.port" in result.output


async def test_keys_create_makes_a_working_hashed_key(tmp_path: Path) -> None:
    config = tmp_path / "z.toml"
    config.write_text(f'[storage]\ndatabase_url = "sqlite:///{tmp_path}/k.db"\n')
    code, out = run("keys", "create", "--name", "ci", "--config", str(config))
    key = out.strip()
    assert code == 0 and key.startswith("zdr-")
    store = Store(f"sqlite:///{tmp_path}/k.db")
    principal = await authenticator(store).authenticate(f"Bearer {key}")
    assert not principal.is_admin
    store.close()
    assert key.split("-", 2)[2].encode() not in (tmp_path / "k.db").read_bytes()


def test_serve_with_no_config_and_no_keys(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("ZDRGATE_MASTER_KEY", None)
    env.pop("ZDRGATE_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdrgate", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        key, said = _read_key_file(proc)
        assert proc.stderr is not None
        lines = [proc.stderr.readline() for _ in range(3)]
        assert any(line.startswith("No model is routable yet") for line in lines), lines
        assert key not in said + "".join(lines)  # only the file's path is printed
        assert stat.S_IMODE((tmp_path / "first-admin-key").stat().st_mode) == 0o600
        url = f"http://127.0.0.1:{port}/v1"
        headers = {"Authorization": f"Bearer {key}"}
        _wait_ready(url, headers)
        models = httpx.get(url + "/models", headers=headers).json()["data"]
        assert len(models) >= 300
        body = {
            "model": "meta-llama/llama-3.3-70b-instruct",
            "messages": [{"role": "user", "content": "hi"}],
        }
        response = httpx.post(url + "/chat/completions", json=body, headers=headers)
        assert response.status_code == 404
        message = response.json()["error"]["message"]
        assert "set GROQ_API_KEY to make it routable" in message
        assert (tmp_path / "zdrgate.db").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


def _read_key_file(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """The first admin key from the file whose path serve printed, and what it printed."""
    assert proc.stderr is not None
    said = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        said += line
        found = re.search(r"^\s+(/\S+/first-admin-key)$", line)
        if found:
            return Path(found.group(1)).read_text().strip(), said
    raise AssertionError(f"serve did not say where the first admin key is: {said!r}")


def _wait_ready(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 120  # not a timing test: a loaded CI machine starts slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/models", headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("gateway did not become ready")


def test_serve_with_two_workers(tmp_path: Path) -> None:
    upstream, server = start_fake_openai()
    port = free_port()
    config = tmp_path / "zdrgate.toml"
    (tmp_path / "data").mkdir()
    write_config(config, upstream, port)
    env = {**os.environ, "ZDRGATE_MASTER_KEY": "two-workers-0123456789abcdef0123456789"}
    env.pop("ZDRGATE_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdrgate", "serve", "--config", str(config), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        headers = {"Authorization": "Bearer two-workers-0123456789abcdef0123456789"}
        url = f"http://127.0.0.1:{port}/v1"
        _wait_ready(url, headers)
        body = {"model": "canary/ok", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(6):
            response = httpx.post(url + "/chat/completions", json=body, headers=headers)
            assert response.status_code == 200
        assert upstream.count("ok") == 6
    finally:
        proc.terminate()
        proc.wait(15)
        server.stop()


def test_explain_names_the_protocol_each_endpoint_speaks() -> None:
    code, out = run("explain", "openai/gpt-5-codex", "--json")
    assert code == 0
    rows = json.loads(out)["endpoints"]
    assert {row["endpoint"]: row["protocol"] for row in rows} == {
        "azure/gpt-5-codex": "responses",
        "openai/gpt-5-codex": "responses",
        "openai/gpt-5-codex@eu": "responses",
    }
    code, out = run("explain", "openai/gpt-4o-mini")
    assert "protocol" in out.splitlines()[0] and " openai " in out
