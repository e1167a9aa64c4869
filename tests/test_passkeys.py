"""Passkeys end to end with a software authenticator: an EC P-256 key made here,
attestation "none" and signed assertions built byte by byte as a browser's
authenticator would, verified by the gateway's webauthn library. No mocks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI
from test_sessions import EMAIL, close_clients, login, with_password  # noqa: F401

ORIGIN_OVERRIDE = "https://ai.example.org"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One passkey: a P-256 key pair, a credential id and a signature counter."""

    def __init__(self, rp_id: str, origin: str) -> None:
        self.rp_id, self.origin = rp_id, origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.count = 0

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.count) + attested

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})  # EC2, ES256, P-256
        cred = self.credential_id
        attested = bytes(16) + struct.pack(">H", len(cred)) + cred + cose  # AAGUID 0
        auth_data = self._auth_data(0x45, attested)  # user present, verified, attested data
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"])
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
            },
        }

    def get(self, options: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        self.count += 1
        auth_data = self._auth_data(0x05)  # user present, verified
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
            },
        }


@pytest.fixture
def gw(
    db_url: str, tmp_path: Path, upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> RunningGateway:
    accounts = {"passkey_rp_id": "ai.example.org", "passkey_origin": ORIGIN_OVERRIDE}
    gateway = make_gateway(
        {"p": provider(upstream.base_url, [chat_model()])},
        extra={
            "storage": {"database_url": db_url, "data_dir": str(tmp_path)},
            "accounts": accounts,
        },
    )
    gateway.state.store.migrate()
    return gateway


def register(gw: RunningGateway) -> SoftAuthenticator:
    with_password(gw)
    client = login(gw)
    options = client.post("/auth/passkey/register/options")
    assert options.status_code == 200, options.text
    assert options.json()["rp"]["id"] == "ai.example.org"
    authenticator = SoftAuthenticator("ai.example.org", ORIGIN_OVERRIDE)
    made = client.post("/auth/passkey/register", json=authenticator.create(options.json()))
    assert made.status_code == 201, made.text
    assert made.json()["id"] == b64url(authenticator.credential_id)
    return authenticator


def test_a_passkey_registers_and_signs_in(gw: RunningGateway) -> None:
    authenticator = register(gw)
    options = httpx.post(gw.url + "/auth/passkey/login/options").json()
    signed = httpx.post(gw.url + "/auth/passkey/login", json=authenticator.get(options))
    assert signed.status_code == 200, signed.text
    assert signed.json()["account"]["email"] == EMAIL
    cookie = {"zdr_session": signed.cookies["zdr_session"]}
    assert httpx.get(gw.v1 + "/models", cookies=cookie).status_code == 200


def test_a_challenge_is_used_once_and_only_from_its_origin(gw: RunningGateway) -> None:
    authenticator = register(gw)
    options = httpx.post(gw.url + "/auth/passkey/login/options").json()
    answer = authenticator.get(options)
    assert httpx.post(gw.url + "/auth/passkey/login", json=answer).status_code == 200
    replayed = httpx.post(gw.url + "/auth/passkey/login", json=answer)
    assert replayed.status_code == 401
    options = httpx.post(gw.url + "/auth/passkey/login/options").json()
    phished = authenticator.get(options, origin="https://evil.example")
    assert httpx.post(gw.url + "/auth/passkey/login", json=phished).status_code == 401
    forged = authenticator.get(httpx.post(gw.url + "/auth/passkey/login/options").json())
    forged["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert httpx.post(gw.url + "/auth/passkey/login", json=forged).status_code == 401


def test_registering_needs_a_signed_in_account_and_its_csrf_token(gw: RunningGateway) -> None:
    assert httpx.post(gw.url + "/auth/passkey/register/options").status_code == 401
    with_password(gw)
    client = login(gw)
    del client.headers["X-CSRF-Token"]
    assert client.post("/auth/passkey/register/options").status_code == 403
