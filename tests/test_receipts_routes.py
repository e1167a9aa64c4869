"""The JWKS route, POST /v1/receipts/verify and `zdrgate receipt verify`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from conftest import GatewayFactory
from zdrgate.cli import main
from zdrgate.receipts import ReceiptFacts, digest, stripped

FACTS = ReceiptFacts("test/chat", "fake/ok", "fake", None, "sha256:00", "2026-11-01", 0)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_jwks_and_verify_route(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({})
    signer = gw.state.receipts
    token = signer.sign("req_x", FACTS, stripped([], []), digest(b"in"), digest(b"out"))
    keys = httpx.get(gw.url + "/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in keys] == [signer.ring.kid]
    assert keys[0]["kty"] == "OKP" and "d" not in keys[0]
    url = gw.v1 + "/receipts/verify"
    ok = httpx.post(url, json={"receipt": token, "request": b64(b"in"), "response": b64(b"out")})
    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert ok.json()["claims"]["jti"] == "req_x"
    bad = httpx.post(url, json={"receipt": token, "response": b64(b"OUT")}).json()
    assert bad["valid"] is False and bad["checks"]["res"] == "mismatch"
    refused = httpx.post(url, json={"receipt": token, "response": "not base64!"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "response"


def test_cli_verifies_a_saved_exchange(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway({})
    token = gw.state.receipts.sign("req_y", FACTS, stripped([], []), digest(b"in"), digest(b"out"))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(httpx.get(gw.url + "/.well-known/jwks.json").text)
    (tmp_path / "req.json").write_bytes(b"in")
    head = f"HTTP/1.1 200 OK\r\nzdr-receipt: {token}\r\n\r\n".encode()
    (tmp_path / "good.http").write_bytes(head + b"out")
    (tmp_path / "bad.http").write_bytes(head + b"0ut")
    runner = CliRunner()
    args = ["receipt", "verify", "--jwks", str(jwks), "--request", str(tmp_path / "req.json")]
    good = runner.invoke(main, [*args, "--exchange", str(tmp_path / "good.http"), "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.output)["checks"] == {"signature": "ok", "req": "ok", "res": "ok"}
    bad = runner.invoke(main, [*args, "--exchange", str(tmp_path / "bad.http")])
    assert bad.exit_code == 1 and "res: mismatch" in bad.output
    # Without --jwks, the deployment's own key history (in its database) is used.
    config = tmp_path / "zdrgate.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path}"\n'
                      f'database_url = "sqlite:///{tmp_path}/zdrgate.db"\n')
    local = runner.invoke(main, ["receipt", "verify", "--config", str(config), token])
    assert local.exit_code == 0, local.output
