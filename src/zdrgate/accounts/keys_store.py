"""API key rows: create (the plaintext is returned once), read with the owner's and
team's limits, change limits, rotate, expire, revoke.

Usage::

    with store.begin() as conn:
        key, row = create_key(conn, KeySpec(name="ci", account_id=account.id,
                                            limits=Limits(rpm=60, budget_day_usd=5.0)))
    print(key.plaintext)  # shown once; only its hash is stored
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.accounts_store import (
    LIMIT_FIELDS,
    aware,
    iso,
    limit_values,
    limits_of,
    now,
)
from zdrgate.accounts.keys import (
    NO_LIMITS,
    PREFIX,
    Limits,
    NewKey,
    Principal,
    generate,
    hash_secret,
)
from zdrgate.errors import InvalidRequest, NotFound

# Columns an admin may change on an existing key (the admin API's PATCH).
SETTABLE = frozenset(
    {"name", "expires_at", "models", "region", "images_allowed", "provider_prefs", *LIMIT_FIELDS}
)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a new key may do. None everywhere means: no restriction."""

    name: str = ""
    is_admin: bool = False
    account_id: str | None = None
    team_id: str | None = None
    expires_at: dt.datetime | None = None
    models: frozenset[str] | None = None
    region: str | None = None
    images_allowed: bool = True
    provider_prefs: dict[str, Any] | None = None
    limits: Limits = NO_LIMITS


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as stored, with its owner's and team's limits (one query, for auth)."""

    key_id: str
    secret_hash: str = field(repr=False)
    name: str
    is_admin: bool
    revoked: bool
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    account_id: str | None = None
    team_id: str | None = None
    expires_at: dt.datetime | None = None
    last_used_day: dt.date | None = None
    models: frozenset[str] | None = None
    region: str | None = None
    images_allowed: bool = True
    provider_prefs: dict[str, Any] | None = None
    limits: Limits = NO_LIMITS
    account_limits: Limits = NO_LIMITS
    team_limits: Limits = NO_LIMITS

    def expired(self, at: dt.datetime) -> bool:
        return self.expires_at is not None and aware(self.expires_at) <= at

    def usable(self, at: dt.datetime) -> bool:
        return not self.revoked and not self.expired(at)

    def principal(self) -> Principal:
        """What the authenticator hands to the limiter and the service."""
        return Principal(
            self.key_id,
            self.is_admin,
            account_id=self.account_id,
            team_id=self.team_id,
            key_limits=self.limits,
            account_limits=self.account_limits,
            team_limits=self.team_limits,
            models=self.models,
            region=self.region,
            images_allowed=self.images_allowed,
        )

    def metadata(self) -> dict[str, Any]:
        """The key as shown to people: everything but the hash."""
        return {
            "id": self.key_id,
            "name": self.name,
            "is_admin": self.is_admin,
            "account_id": self.account_id,
            "team_id": self.team_id,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "expires_at": iso(self.expires_at),
            "last_used_day": self.last_used_day.isoformat() if self.last_used_day else None,
            "models": sorted(self.models) if self.models is not None else None,
            "region": self.region,
            "images_allowed": self.images_allowed,
            "provider": self.provider_prefs,
            **limit_values(self.limits),
        }


def create_key(conn: sa.Connection, spec: KeySpec) -> tuple[NewKey, KeyRow]:
    key = generate()
    row = {
        "key_id": key.key_id,
        "secret_hash": key.secret_hash,
        "name": spec.name[:128],
        "is_admin": spec.is_admin,
        "created_at": now(),
        "account_id": spec.account_id,
        "team_id": spec.team_id,
        "expires_at": spec.expires_at,
        "models": _dump_models(spec.models),
        "region": spec.region,
        "images_allowed": spec.images_allowed,
        "provider_prefs": _dump(spec.provider_prefs),
        **limit_values(spec.limits),
    }
    conn.execute(schema.api_keys.insert().values(**row))
    found = get_key(conn, key.key_id)
    assert found is not None
    return key, found


def get_key(conn: sa.Connection, key_id: str) -> KeyRow | None:
    row = conn.execute(_joined().where(schema.api_keys.c.key_id == key_id)).first()
    return None if row is None else _key(row)


def require_key(conn: sa.Connection, key_id: str) -> KeyRow:
    found = get_key(conn, key_id)
    if found is None:
        raise NotFound("No such key.", code="key_not_found")
    return found


def list_keys(conn: sa.Connection, account_id: str | None = None) -> list[KeyRow]:
    query = _joined().order_by(schema.api_keys.c.created_at)
    if account_id is not None:
        query = query.where(schema.api_keys.c.account_id == account_id)
    return [_key(r) for r in conn.execute(query)]


def count_keys(conn: sa.Connection) -> int:
    query = sa.select(sa.func.count()).select_from(schema.api_keys)
    return int(conn.execute(query).scalar_one())


def update_key(conn: sa.Connection, key_id: str, changes: dict[str, Any]) -> KeyRow:
    """Change what a key may do (see SETTABLE); JSON columns take Python values."""
    unknown = set(changes) - SETTABLE
    if unknown:
        raise InvalidRequest(f"Cannot change {sorted(unknown)[0]!r} of a key.")
    values = dict(changes)
    if "models" in values:
        values["models"] = _dump_models(values["models"])
    if "provider_prefs" in values:
        values["provider_prefs"] = _dump(values["provider_prefs"])
    if values:
        table = schema.api_keys
        conn.execute(table.update().where(table.c.key_id == key_id).values(**values))
    return require_key(conn, key_id)


def rotate_key(conn: sa.Connection, key_id: str) -> NewKey:
    """A new secret for the same key id (its settings and usage history stay); the
    old secret stops working. Refused for a revoked key."""
    row = require_key(conn, key_id)
    if row.revoked:
        raise InvalidRequest("A revoked key cannot be rotated.", code="key_revoked")
    secret = secrets.token_urlsafe(32)
    table = schema.api_keys
    conn.execute(
        table.update().where(table.c.key_id == key_id).values(secret_hash=hash_secret(secret))
    )
    return NewKey(key_id, hash_secret(secret), f"{PREFIX}-{key_id}-{secret}")


def revoke_key(conn: sa.Connection, key_id: str) -> bool:
    """True when the key was active and is now revoked."""
    table = schema.api_keys
    result = conn.execute(
        table.update()
        .where(table.c.key_id == key_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return bool(result.rowcount)


def mark_used(conn: sa.Connection, key_ids: set[str], day: dt.date) -> None:
    """Record the day keys were last used (a day, not a time: less to know)."""
    table = schema.api_keys
    conn.execute(
        table.update()
        .where(
            table.c.key_id.in_(sorted(key_ids)),
            sa.or_(table.c.last_used_day.is_(None), table.c.last_used_day < day),
        )
        .values(last_used_day=day)
    )


def _joined() -> sa.Select[Any]:
    keys, accounts, teams = schema.api_keys, schema.accounts, schema.teams
    owner = [accounts.c[name].label(f"account_{name}") for name in LIMIT_FIELDS]
    team = [teams.c[name].label(f"team_{name}") for name in LIMIT_FIELDS]
    return (
        sa.select(keys, *owner, *team)
        .outerjoin(accounts, accounts.c.id == keys.c.account_id)
        .outerjoin(teams, teams.c.id == keys.c.team_id)
    )


def _key(row: Any) -> KeyRow:
    models = orjson.loads(row.models) if row.models is not None else None
    m = row._mapping
    return KeyRow(
        key_id=row.key_id,
        secret_hash=row.secret_hash,
        name=row.name,
        is_admin=row.is_admin,
        revoked=row.revoked_at is not None,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        account_id=row.account_id,
        team_id=row.team_id,
        expires_at=row.expires_at,
        last_used_day=row.last_used_day,
        models=frozenset(models) if models is not None else None,
        region=row.region,
        images_allowed=row.images_allowed,
        provider_prefs=orjson.loads(row.provider_prefs) if row.provider_prefs else None,
        limits=limits_of(row),
        account_limits=Limits(*(m[f"account_{name}"] for name in LIMIT_FIELDS)),
        team_limits=Limits(*(m[f"team_{name}"] for name in LIMIT_FIELDS)),
    )


def _dump_models(models: frozenset[str] | set[str] | list[str] | None) -> str | None:
    return None if models is None else orjson.dumps(sorted(models)).decode()


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
