"""Invites, sessions and passkey credentials: the rows sign-in needs. Tokens are
stored as SHA-256 hashes; the plaintext exists only in the link or cookie.

Usage::

    with store.begin() as conn:
        token, invite = create_invite(conn, "ada@example.org", role="member",
                                      account_id=account.id)
    link = f"{base_url}/login?invite={token}"   # shown once
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.accounts_store import aware, now
from zdrgate.accounts.keys import hash_secret

INVITE_DAYS = 7


@dataclass(frozen=True, slots=True)
class Invite:
    token_hash: str
    email: str
    role: str
    team_id: str | None
    account_id: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None


def create_invite(
    conn: sa.Connection,
    email: str,
    *,
    role: str,
    team_id: str | None = None,
    account_id: str | None = None,
    days: int = INVITE_DAYS,
) -> tuple[str, Invite]:
    """(the one-time token, the stored invite)."""
    token = secrets.token_urlsafe(32)
    created = now()
    invite = Invite(
        hash_secret(token),
        email,
        role,
        team_id,
        account_id,
        created,
        created + dt.timedelta(days=days),
        None,
    )
    conn.execute(
        schema.invites.insert().values(
            token_hash=invite.token_hash,
            email=email,
            role=role,
            team_id=team_id,
            account_id=account_id,
            created_at=created,
            expires_at=invite.expires_at,
        )
    )
    return token, invite


def find_invite(conn: sa.Connection, token: str) -> Invite | None:
    """The invite of a token if it is unused and not expired."""
    table = schema.invites
    row = conn.execute(sa.select(table).where(table.c.token_hash == hash_secret(token))).first()
    if row is None or row.used_at is not None or aware(row.expires_at) <= now():
        return None
    return Invite(**row._mapping)


def use_invite(conn: sa.Connection, token_hash: str) -> bool:
    """Mark an invite used; False when it was already (two redemptions racing)."""
    table = schema.invites
    result = conn.execute(
        table.update()
        .where(table.c.token_hash == token_hash, table.c.used_at.is_(None))
        .values(used_at=now())
    )
    return bool(result.rowcount)


def invites_of(conn: sa.Connection, account_id: str, email: str) -> list[Invite]:
    table = schema.invites
    query = sa.select(table).where(sa.or_(table.c.account_id == account_id, table.c.email == email))
    return [Invite(**r._mapping) for r in conn.execute(query.order_by(table.c.created_at))]


# Sessions


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    account_id: str | None  # None: a session opened with the API key ``key_id``
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    key_id: str | None = None


def create_session(
    conn: sa.Connection,
    account_id: str | None,
    lifetime: dt.timedelta,
    csrf_token: str,
    *,
    key_id: str | None = None,
) -> tuple[str, Session]:
    """(the cookie value, the stored session) of an account, or of an API key."""
    token = secrets.token_urlsafe(32)
    created = now()
    session = Session(
        hash_secret(token), account_id, csrf_token, created, created + lifetime, None, key_id
    )
    conn.execute(
        schema.sessions.insert().values(
            id_hash=session.id_hash,
            account_id=account_id,
            csrf_token=csrf_token,
            created_at=created,
            expires_at=session.expires_at,
            key_id=key_id,
        )
    )
    return token, session


def revoke_session(conn: sa.Connection, id_hash: str) -> bool:
    """End one session (logout); False when it was not live."""
    table = schema.sessions
    result = conn.execute(
        table.update()
        .where(table.c.id_hash == id_hash, table.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return bool(result.rowcount)


def find_session(conn: sa.Connection, token: str) -> Session | None:
    """The live session of a cookie value, else None."""
    return find_session_by_hash(conn, hash_secret(token))


def find_session_by_hash(conn: sa.Connection, id_hash: str) -> Session | None:
    """The live session whose cookie value hashes to ``id_hash``, else None."""
    table = schema.sessions
    row = conn.execute(sa.select(table).where(table.c.id_hash == id_hash)).first()
    if row is None or row.revoked_at is not None or aware(row.expires_at) <= now():
        return None
    return Session(**row._mapping)


def revoke_sessions(conn: sa.Connection, account_id: str) -> int:
    """End every live session of an account; how many were live."""
    table = schema.sessions
    result = conn.execute(
        table.update()
        .where(table.c.account_id == account_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return int(result.rowcount)


def sessions_of(conn: sa.Connection, account_id: str) -> list[Session]:
    table = schema.sessions
    query = sa.select(table).where(table.c.account_id == account_id).order_by(table.c.created_at)
    return [Session(**r._mapping) for r in conn.execute(query)]


# Passkeys


@dataclass(frozen=True, slots=True)
class Passkey:
    credential_id: str
    account_id: str
    public_key: bytes
    sign_count: int
    transports: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


def add_passkey(
    conn: sa.Connection,
    account_id: str,
    credential_id: str,
    public_key: bytes,
    sign_count: int,
    transports: str | None = None,
) -> None:
    conn.execute(
        schema.passkey_credentials.insert().values(
            credential_id=credential_id,
            account_id=account_id,
            public_key=public_key,
            sign_count=sign_count,
            transports=transports,
            created_at=now(),
        )
    )


def passkeys_of(conn: sa.Connection, account_id: str) -> list[Passkey]:
    table = schema.passkey_credentials
    query = sa.select(table).where(table.c.account_id == account_id)
    return [Passkey(**r._mapping) for r in conn.execute(query.order_by(table.c.created_at))]


def find_passkey(conn: sa.Connection, credential_id: str) -> Passkey | None:
    table = schema.passkey_credentials
    row = conn.execute(sa.select(table).where(table.c.credential_id == credential_id)).first()
    return None if row is None else Passkey(**row._mapping)


def passkey_used(conn: sa.Connection, credential_id: str, sign_count: int) -> None:
    table = schema.passkey_credentials
    conn.execute(
        table.update()
        .where(table.c.credential_id == credential_id)
        .values(sign_count=sign_count, last_used_at=now())
    )
