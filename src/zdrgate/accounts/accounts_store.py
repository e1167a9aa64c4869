"""Accounts and teams: rows in, frozen records out.

Every function takes an open connection, so that a change and its audit entry commit
together (see ``accounts.admin``)::

    with store.begin() as conn:
        account = create_account(conn, "ada@example.org", role="member")
        team = create_team(conn, "research")
        add_member(conn, team.id, account.id)
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.keys import Limits
from zdrgate.errors import InvalidRequest, NotFound

ROLES = ("admin", "member")
LIMIT_FIELDS = ("rpm", "tpm", "budget_day_usd", "budget_month_usd")


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    email: str
    display_name: str
    role: str
    created_at: dt.datetime
    limits: Limits
    password_hash: str | None = field(default=None, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    created_at: dt.datetime
    limits: Limits


def new_id() -> str:
    return secrets.token_hex(8)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(when: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back; every time stored is UTC."""
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def iso(when: dt.datetime | None) -> str | None:
    return None if when is None else aware(when).isoformat()


def normal_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 320 or " " in email:
        raise InvalidRequest("That is not an email address.", param="email")
    return email


def limits_of(row: Any) -> Limits:
    return Limits(row.rpm, row.tpm, row.budget_day_usd, row.budget_month_usd)


def limit_values(limits: Limits) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in LIMIT_FIELDS}


def _account(row: Any) -> Account:
    return Account(
        row.id,
        row.email,
        row.display_name,
        row.role,
        row.created_at,
        limits_of(row),
        row.password_hash,
    )


def _team(row: Any) -> Team:
    return Team(row.id, row.name, row.created_at, limits_of(row))


# Accounts


def create_account(
    conn: sa.Connection, email: str, *, role: str = "member", display_name: str = ""
) -> Account:
    email = normal_email(email)
    if role not in ROLES:
        raise InvalidRequest("role must be 'admin' or 'member'.", param="role")
    if account_by_email(conn, email) is not None:
        raise InvalidRequest("An account with that email exists.", code="account_exists")
    account_id = new_id()
    conn.execute(
        schema.accounts.insert().values(
            id=account_id,
            email=email,
            display_name=display_name[:128],
            role=role,
            created_at=now(),
        )
    )
    found = get_account(conn, account_id)
    assert found is not None
    return found


def get_account(conn: sa.Connection, account_id: str) -> Account | None:
    table = schema.accounts
    row = conn.execute(sa.select(table).where(table.c.id == account_id)).first()
    return None if row is None else _account(row)


def account_by_email(conn: sa.Connection, email: str) -> Account | None:
    table = schema.accounts
    row = conn.execute(sa.select(table).where(table.c.email == email.strip().lower())).first()
    return None if row is None else _account(row)


def require_account(conn: sa.Connection, ref: str) -> Account:
    """An account by id or email, else a 404."""
    found = account_by_email(conn, ref) if "@" in ref else get_account(conn, ref)
    if found is None:
        raise NotFound("No such account.", code="account_not_found")
    return found


def list_accounts(conn: sa.Connection) -> list[Account]:
    table = schema.accounts
    return [_account(r) for r in conn.execute(sa.select(table).order_by(table.c.created_at))]


def update_account(conn: sa.Connection, account_id: str, changes: dict[str, Any]) -> Account:
    """Set some of: role, display_name, password_hash and the limit columns."""
    allowed = {"role", "display_name", "password_hash", *LIMIT_FIELDS}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidRequest(f"Cannot change {sorted(unknown)[0]!r} of an account.")
    if "role" in changes and changes["role"] not in ROLES:
        raise InvalidRequest("role must be 'admin' or 'member'.", param="role")
    if changes:
        table = schema.accounts
        conn.execute(table.update().where(table.c.id == account_id).values(**changes))
    found = get_account(conn, account_id)
    if found is None:
        raise NotFound("No such account.", code="account_not_found")
    return found


# Teams


def create_team(conn: sa.Connection, name: str) -> Team:
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidRequest("A team needs a name of 1 to 128 characters.", param="name")
    if team_by_name(conn, name) is not None:
        raise InvalidRequest("A team with that name exists.", code="team_exists")
    team = Team(new_id(), name, now(), Limits())
    conn.execute(schema.teams.insert().values(id=team.id, name=name, created_at=team.created_at))
    return team


def get_team(conn: sa.Connection, team_id: str) -> Team | None:
    row = conn.execute(sa.select(schema.teams).where(schema.teams.c.id == team_id)).first()
    return None if row is None else _team(row)


def team_by_name(conn: sa.Connection, name: str) -> Team | None:
    row = conn.execute(sa.select(schema.teams).where(schema.teams.c.name == name)).first()
    return None if row is None else _team(row)


def require_team(conn: sa.Connection, ref: str) -> Team:
    """A team by id or name, else a 404."""
    found = get_team(conn, ref) or team_by_name(conn, ref)
    if found is None:
        raise NotFound("No such team.", code="team_not_found")
    return found


def list_teams(conn: sa.Connection) -> list[Team]:
    table = schema.teams
    return [_team(r) for r in conn.execute(sa.select(table).order_by(table.c.name))]


def update_team(conn: sa.Connection, team_id: str, changes: dict[str, Any]) -> Team:
    unknown = set(changes) - {"name", *LIMIT_FIELDS}
    if unknown:
        raise InvalidRequest(f"Cannot change {sorted(unknown)[0]!r} of a team.")
    if changes:
        table = schema.teams
        conn.execute(table.update().where(table.c.id == team_id).values(**changes))
    found = get_team(conn, team_id)
    if found is None:
        raise NotFound("No such team.", code="team_not_found")
    return found


def delete_team(conn: sa.Connection, team_id: str) -> None:
    """Remove a team; its keys stay with their owners, no longer spending for it."""
    conn.execute(
        schema.team_memberships.delete().where(schema.team_memberships.c.team_id == team_id)
    )
    conn.execute(
        schema.api_keys.update().where(schema.api_keys.c.team_id == team_id).values(team_id=None)
    )
    conn.execute(
        schema.invites.update().where(schema.invites.c.team_id == team_id).values(team_id=None)
    )
    conn.execute(schema.teams.delete().where(schema.teams.c.id == team_id))


def add_member(conn: sa.Connection, team_id: str, account_id: str) -> bool:
    """Add an account to a team; False when it already was a member."""
    table = schema.team_memberships
    exists = conn.execute(
        sa.select(table.c.team_id).where(
            table.c.team_id == team_id, table.c.account_id == account_id
        )
    ).first()
    if exists:
        return False
    conn.execute(table.insert().values(team_id=team_id, account_id=account_id, created_at=now()))
    return True


def remove_member(conn: sa.Connection, team_id: str, account_id: str) -> bool:
    """Remove an account from a team; its keys stop spending for the team."""
    table = schema.team_memberships
    result = conn.execute(
        table.delete().where(table.c.team_id == team_id, table.c.account_id == account_id)
    )
    keys = schema.api_keys
    conn.execute(
        keys.update()
        .where(keys.c.team_id == team_id, keys.c.account_id == account_id)
        .values(team_id=None)
    )
    return bool(result.rowcount)


def teams_of(conn: sa.Connection, account_id: str) -> list[Team]:
    teams, members = schema.teams, schema.team_memberships
    query = (
        sa.select(teams)
        .join(members, members.c.team_id == teams.c.id)
        .where(members.c.account_id == account_id)
        .order_by(teams.c.name)
    )
    return [_team(r) for r in conn.execute(query)]


def member_ids(conn: sa.Connection, team_id: str) -> list[str]:
    table = schema.team_memberships
    query = sa.select(table.c.account_id).where(table.c.team_id == team_id)
    return [r.account_id for r in conn.execute(query)]
