"""The operator's ``[providers.<id>.oauth]`` read into an :class:`OAuthClient`: an OAuth
client's id and secret, or a Google service account's key file. Checked when the
gateway starts (a wrong file or key stops the start); no token is requested here.

Usage::

    client = oauth_client("providers.azure.oauth", conf.oauth, os.environ)
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from zdrgate.catalog.model import OAuthClient
from zdrgate.catalog.origins import checked_base_url
from zdrgate.config import OAuthSettings
from zdrgate.errors import ConfigError

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret


def oauth_client(where: str, conf: OAuthSettings, environ: Mapping[str, str]) -> OAuthClient:
    if conf.service_account_file is not None:
        if conf.client_id or conf.client_secret or conf.client_secret_env:
            raise ConfigError(f"{where}: a service account file, or a client id and secret")
        return _service_account(where, conf)
    secret = conf.client_secret or (
        environ.get(conf.client_secret_env) if conf.client_secret_env else None
    )
    if not conf.token_url or not conf.client_id or not secret:
        raise ConfigError(
            f"{where}: token_url, client_id and client_secret (or client_secret_env, set "
            "in the environment) are needed, or a service_account_file"
        )
    return OAuthClient(
        token_url=_url(where, conf.token_url),
        scope=conf.scope,
        client_id=conf.client_id,
        client_secret=secret,
    )


def _service_account(where: str, conf: OAuthSettings) -> OAuthClient:
    assert conf.service_account_file is not None
    info = _key_file(where, Path(conf.service_account_file))
    try:
        key = load_pem_private_key(str(info["private_key"]).encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}.service_account_file: its private_key is not a key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(f"{where}.service_account_file: its private_key is not an RSA key")
    return OAuthClient(
        token_url=_url(where, token_url_of(conf, info)),
        scope=conf.scope,
        client_id=str(info["client_email"]),
        private_key=str(info["private_key"]),
        key_id=str(info.get("private_key_id") or ""),
    )


def token_url_of(conf: OAuthSettings, info: dict[str, Any] | None = None) -> str:
    """Where tokens come from: ``token_url``; else a service account file's
    ``token_uri`` (``info``: the file, read here when not given and readable); else
    Google's token endpoint."""
    if conf.token_url:
        return conf.token_url
    if info is None and conf.service_account_file:
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            read = orjson.loads(Path(conf.service_account_file).read_bytes())
            info = read if isinstance(read, dict) else None
    uri = (info or {}).get("token_uri")
    return uri if isinstance(uri, str) and uri else GOOGLE_TOKEN_URL


def _key_file(where: str, path: Path) -> dict[str, Any]:
    try:
        info = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not JSON"
        raise ConfigError(f"{where}.service_account_file: {path}: {reason}") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f"{where}.service_account_file: not a service account key file")
    if not info.get("client_email") or not info.get("private_key"):
        raise ConfigError(f"{where}.service_account_file: no client_email or private_key")
    return info


def _url(where: str, url: str) -> str:
    """https anywhere; http only at a loopback or private address (as a base_url)."""
    return checked_base_url(f"{where}.token_url", url, declared=True)
