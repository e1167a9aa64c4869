"""Admin operations shared by the CLI and the HTTP admin API. Each one is a single
transaction that makes the change and writes its audit entry; a change that stops a
credential tells the store, whose listeners drop cached keys and sessions everywhere.

Usage::

    admin = Admin(store, actor="cli")
    account, token = admin.create_account("ada@example.org", role="member", team="research")
    key, row = admin.create_key(KeySpec(name="ci", account_id=account.id))
    admin.revoke_key(row.key_id)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from zdrgate.accounts import accounts_store as accounts
from zdrgate.accounts import audit, gdpr, keys_store, sign_in_store
from zdrgate.accounts.accounts_store import Account, Team, iso, limit_values
from zdrgate.accounts.keys import NewKey, Principal
from zdrgate.accounts.keys_store import KeyRow, KeySpec
from zdrgate.accounts.sign_in_store import create_invite
from zdrgate.accounts.store import Store
from zdrgate.errors import InvalidRequest


def actor_of(principal: Principal) -> str:
    """How the audit log names who acted: by id, never by email or name."""
    if principal.key_id == "master":
        return "master"
    if principal.session_id is not None and principal.account_id is not None:
        return f"account:{principal.account_id}"
    return f"key:{principal.key_id}"


def invite_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/login?invite={token}"


def account_view(account: Account, teams: list[Team] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": account.id,
        "email": account.email,
        "display_name": account.display_name,
        "role": account.role,
        "created_at": iso(account.created_at),
        "has_password": account.password_hash is not None,
        **limit_values(account.limits),
    }
    if teams is not None:
        view["teams"] = [{"id": t.id, "name": t.name} for t in teams]
    return view


def team_view(team: Team, members: list[str] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": team.id,
        "name": team.name,
        "created_at": iso(team.created_at),
        **limit_values(team.limits),
    }
    if members is not None:
        view["members"] = members
    return view


class Admin:
    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    # Accounts

    def create_account(
        self, email: str, *, role: str = "member", team: str | None = None, display_name: str = ""
    ) -> tuple[Account, str]:
        """The new account and its one-time invite token (for ``/login?invite=``)."""
        with self.store.begin() as conn:
            account = accounts.create_account(conn, email, role=role, display_name=display_name)
            team_id = accounts.require_team(conn, team).id if team else None
            if team_id:
                accounts.add_member(conn, team_id, account.id)
            token, _ = create_invite(
                conn, account.email, role=role, team_id=team_id, account_id=account.id
            )
            details: audit.Details = {"role": role, "team": team_id}
            audit.record(conn, self.actor, "accounts.create", f"account:{account.id}", details)
        return account, token

    def update_account(self, account_id: str, changes: dict[str, Any]) -> Account:
        with self.store.begin() as conn:
            account = accounts.update_account(conn, account_id, changes)
            audit.record(
                conn, self.actor, "accounts.update", f"account:{account_id}", _redacted(changes)
            )
        self.store.credentials_changed()  # a role or a limit travels with cached keys
        return account

    def export_account(self, account_id: str) -> dict[str, Any]:
        with self.store.begin() as conn:
            audit.record(conn, self.actor, "accounts.export", f"account:{account_id}")
            return gdpr.export_account(conn, account_id)

    def delete_account(self, account_id: str) -> str:
        """Erase the person (``accounts.gdpr``); returns the tombstone."""
        with self.store.begin() as conn:
            # Written first, so that erasure replaces the person's ids in it too (the
            # actor, when people delete themselves; the target always).
            audit.record(conn, self.actor, "accounts.delete", f"account:{account_id}")
            tombstone = gdpr.erase_account(conn, account_id)
        self.store.credentials_changed()
        return tombstone

    def revoke_sessions(self, account_id: str) -> int:
        """Sign the account out everywhere: every web session ends at its next request."""
        with self.store.begin() as conn:
            ended = sign_in_store.revoke_sessions(conn, account_id)
            details: audit.Details = {"sessions": ended}
            target = f"account:{account_id}"
            audit.record(conn, self.actor, "accounts.sessions_revoke", target, details)
        self.store.credentials_changed()
        return ended

    # Teams

    def create_team(self, name: str) -> Team:
        with self.store.begin() as conn:
            team = accounts.create_team(conn, name)
            audit.record(conn, self.actor, "teams.create", f"team:{team.id}", {"name": name})
        return team

    def update_team(self, team_id: str, changes: dict[str, Any]) -> Team:
        with self.store.begin() as conn:
            team = accounts.update_team(conn, team_id, changes)
            audit.record(conn, self.actor, "teams.update", f"team:{team_id}", _redacted(changes))
        self.store.credentials_changed()
        return team

    def delete_team(self, team_id: str) -> None:
        with self.store.begin() as conn:
            accounts.require_team(conn, team_id)
            accounts.delete_team(conn, team_id)
            audit.record(conn, self.actor, "teams.delete", f"team:{team_id}")
        self.store.credentials_changed()

    def set_member(self, team_id: str, account_id: str, *, member: bool) -> bool:
        with self.store.begin() as conn:
            accounts.require_team(conn, team_id)
            accounts.require_account(conn, account_id)
            if member:
                changed = accounts.add_member(conn, team_id, account_id)
            else:
                changed = accounts.remove_member(conn, team_id, account_id)
            if changed:
                action = "teams.add_member" if member else "teams.remove_member"
                details: audit.Details = {"account": f"account:{account_id}"}
                audit.record(conn, self.actor, action, f"team:{team_id}", details)
        return changed

    # Keys

    def create_key(self, spec: KeySpec) -> tuple[NewKey, KeyRow]:
        with self.store.begin() as conn:
            _check_owner(conn, spec)
            key, row = keys_store.create_key(conn, spec)
            details = _redacted({k: v for k, v in row.metadata().items() if v is not None})
            audit.record(conn, self.actor, "keys.create", f"key:{row.key_id}", details)
        return key, row

    def update_key(self, key_id: str, changes: dict[str, Any]) -> KeyRow:
        with self.store.begin() as conn:
            keys_store.require_key(conn, key_id)
            row = keys_store.update_key(conn, key_id, changes)
            audit.record(conn, self.actor, "keys.update", f"key:{key_id}", _redacted(changes))
        self.store.credentials_changed()
        return row

    def rotate_key(self, key_id: str) -> NewKey:
        with self.store.begin() as conn:
            key = keys_store.rotate_key(conn, key_id)
            audit.record(conn, self.actor, "keys.rotate", f"key:{key_id}")
        self.store.credentials_changed()
        return key

    def revoke_key(self, key_id: str) -> bool:
        """False when the key was already revoked (404 when there is no such key)."""
        with self.store.begin() as conn:
            keys_store.require_key(conn, key_id)
            revoked = keys_store.revoke_key(conn, key_id)
            if revoked:
                audit.record(conn, self.actor, "keys.revoke", f"key:{key_id}")
        if revoked:
            self.store.credentials_changed()
        return revoked


def _check_owner(conn: Any, spec: KeySpec) -> None:
    if spec.account_id is None:
        return
    owner = accounts.require_account(conn, spec.account_id)
    if spec.is_admin and not owner.is_admin:
        raise InvalidRequest("Only an admin account can own an admin key.", param="admin")
    if spec.team_id is not None and spec.team_id not in {
        t.id for t in accounts.teams_of(conn, owner.id)
    }:
        raise InvalidRequest("The key's owner is not a member of that team.", param="team")


def _redacted(changes: dict[str, Any]) -> audit.Details:
    """Audit details: metadata values as they are, a person's name only as 'changed'."""
    details: audit.Details = {}
    for name, value in changes.items():
        if name in ("display_name", "password_hash", "email"):
            details[name] = "changed"
        elif isinstance(value, dt.datetime | dt.date):
            details[name] = value.isoformat()
        elif isinstance(value, frozenset | set | list | tuple):
            details[name] = sorted(str(v) for v in value)
        elif isinstance(value, dict):
            details[name] = sorted(str(k) for k in value)  # preference names only
        else:
            details[name] = value
    return details
