"""Accounts, teams, keys, audit and GDPR erasure on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from zdrgate.accounts import accounts_store as accounts
from zdrgate.accounts import audit, keys_store, schema
from zdrgate.accounts.admin import Admin
from zdrgate.accounts.gdpr import export_account
from zdrgate.accounts.keys import Limits, matches, split
from zdrgate.accounts.keys_store import KeySpec
from zdrgate.accounts.sign_in_store import (
    add_passkey,
    create_session,
    find_invite,
    find_session,
)
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage import UsageEvent, _row
from zdrgate.errors import InvalidRequest, NotFound

EMAIL = "ada.lovelace@example.org"
NAME = "Ada Lovelace"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    store.migrate()
    yield store
    store.close()


def usage_event(key_id: str, account_id: str | None, **kw: object) -> UsageEvent:
    base: dict[str, object] = dict(
        key_id=key_id,
        started_at=1_790_000_000.0,
        route="chat.completions",
        model="a/b",
        endpoint="p/a/b",
        status=200,
        error_kind=None,
        stream=False,
        attempts=1,
        prompt_tokens=10,
        completion_tokens=5,
        cost_usd=0.25,
        latency_ms=3.0,
        account_id=account_id,
        images=0,
    )
    base.update(kw)
    return UsageEvent(**base)  # type: ignore[arg-type]


def test_key_carries_its_owner_and_team_limits(store: Store) -> None:
    admin = Admin(store, "cli")
    account, _ = admin.create_account(EMAIL, team=None, display_name=NAME)
    team = admin.create_team("research")
    admin.set_member(team.id, account.id, member=True)
    admin.update_account(account.id, {"rpm": 100, "budget_month_usd": 50.0})
    admin.update_team(team.id, {"tpm": 9000})
    spec = KeySpec(
        name="ci",
        account_id=account.id,
        team_id=team.id,
        models=frozenset({"a/b"}),
        region="eu",
        images_allowed=False,
        limits=Limits(rpm=3, budget_day_usd=1.5),
        provider_prefs={"sort": "price"},
    )
    key, row = admin.create_key(spec)
    principal = row.principal()
    assert principal.account_id == account.id and principal.team_id == team.id
    assert principal.key_limits == Limits(rpm=3, budget_day_usd=1.5)
    assert principal.account_limits == Limits(rpm=100, budget_month_usd=50.0)
    assert principal.team_limits == Limits(tpm=9000)
    assert principal.models == frozenset({"a/b"}) and principal.region == "eu"
    assert not principal.images_allowed and row.provider_prefs == {"sort": "price"}
    assert "secret_hash" not in row.metadata() and key.secret_hash not in repr(row)


def test_rotate_replaces_the_secret_and_revoke_stops_the_key(store: Store) -> None:
    admin = Admin(store, "cli")
    old, row = admin.create_key(KeySpec(name="k"))
    new = admin.rotate_key(row.key_id)
    assert new.key_id == row.key_id and new.plaintext != old.plaintext
    stored = store.get_key(row.key_id)
    assert stored is not None
    assert matches(split(new.plaintext)[1], stored.secret_hash)  # type: ignore[index]
    assert not matches(split(old.plaintext)[1], stored.secret_hash)  # type: ignore[index]
    assert admin.revoke_key(row.key_id) and not admin.revoke_key(row.key_id)
    with pytest.raises(InvalidRequest):
        admin.rotate_key(row.key_id)
    with pytest.raises(NotFound):
        admin.revoke_key("nope")


def test_expired_key_is_not_usable(store: Store) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    _, row = Admin(store, "cli").create_key(KeySpec(expires_at=past))
    stored = store.get_key(row.key_id)
    assert stored is not None and stored.expired(dt.datetime.now(dt.UTC))
    assert not stored.usable(dt.datetime.now(dt.UTC))


def test_every_change_is_audited_without_personal_data(store: Store) -> None:
    admin = Admin(store, "key:adminkey")
    account, _ = admin.create_account(EMAIL, display_name=NAME)
    admin.update_account(account.id, {"display_name": "Countess", "tpm": 5})
    _, row = admin.create_key(KeySpec(account_id=account.id, limits=Limits(rpm=2)))
    admin.update_key(row.key_id, {"budget_day_usd": 3.0})
    admin.revoke_key(row.key_id)
    with store.connect() as conn:
        log = audit.entries(conn)
    assert [e.action for e in reversed(log)] == [
        "accounts.create",
        "accounts.update",
        "keys.create",
        "keys.update",
        "keys.revoke",
    ]
    assert all(e.actor == "key:adminkey" for e in log)
    text = repr([e.view() for e in log])
    assert EMAIL not in text and NAME not in text and "Countess" not in text
    assert log[1].details == {"budget_day_usd": 3.0}


def test_invite_and_session_tokens_are_stored_hashed(store: Store) -> None:
    account, token = Admin(store, "cli").create_account(EMAIL)
    with store.begin() as conn:
        invite = find_invite(conn, token)
        assert invite is not None and invite.account_id == account.id
        assert find_invite(conn, token + "x") is None
        cookie, _ = create_session(conn, account.id, dt.timedelta(hours=1), "csrf")
        assert find_session(conn, cookie) is not None
    assert token not in repr(dump_database(store)) and cookie not in repr(dump_database(store))


def dump_database(store: Store) -> list[object]:
    """Every value of every row of every table."""
    found: list[object] = []
    with store.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            for row in conn.execute(sa.select(table)):
                found.extend(row)
    return found


def test_export_holds_usage_and_no_hash(store: Store) -> None:
    admin = Admin(store, "cli")
    account, _ = admin.create_account(EMAIL, display_name=NAME)
    key, row = admin.create_key(KeySpec(name="mine", account_id=account.id))
    store.insert_usage([_row(usage_event(row.key_id, account.id, images=2))])
    with store.connect() as conn:
        document = export_account(conn, account.id)
    assert document["account"]["email"] == EMAIL
    assert document["keys"][0]["id"] == row.key_id and document["keys"][0]["last_used_day"]
    assert document["usage"][0]["images"] == 2 and document["usage"][0]["cost_usd"] == 0.25
    assert {e["action"] for e in document["audit"]} == {"accounts.create", "keys.create"}
    text = repr(document)
    assert key.secret_hash not in text and split(key.plaintext)[1] not in text  # type: ignore[index]


def test_erasure_leaves_no_trace_of_the_person(store: Store) -> None:
    admin = Admin(store, "cli")
    account, _ = admin.create_account(EMAIL, display_name=NAME)
    team = admin.create_team("research")
    admin.set_member(team.id, account.id, member=True)
    _, row = admin.create_key(KeySpec(account_id=account.id, team_id=team.id))
    _, other_row = admin.create_key(KeySpec(name="operator"))
    with store.begin() as conn:
        create_session(conn, account.id, dt.timedelta(hours=1), "csrf")
        add_passkey(conn, account.id, "cred-1", b"\x01\x02", 0)
        accounts.update_account(conn, account.id, {"password_hash": "$argon2id$v=19$xyz"})
    store.insert_usage(
        [
            _row(usage_event(row.key_id, account.id)),
            _row(usage_event(row.key_id, None)),  # written before the key had an owner
            _row(usage_event(other_row.key_id, None)),
        ]
    )
    Admin(store, f"account:{account.id}").delete_account(account.id)
    # A request in flight during the erasure: its row arrives afterwards.
    store.insert_usage([_row(usage_event(row.key_id, account.id))])

    values = repr(dump_database(store))
    for trace in (account.id, EMAIL, NAME, row.key_id, "$argon2id$", "cred-1"):
        assert trace not in values, trace
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.usage).order_by(schema.usage.c.id)).all()
        assert keys_store.get_key(conn, row.key_id) is None
        assert accounts.get_team(conn, team.id) is not None
        log = audit.entries(conn)
    assert len(rows) == 4  # the operator's accounting keeps every row
    assert rows[0].key_id == rows[1].key_id == rows[0].account_id != row.key_id
    assert rows[2].key_id == other_row.key_id
    assert rows[3].account_id.startswith("gone-") and rows[3].key_id == rows[3].account_id
    assert log[0].action == "accounts.delete" and log[0].actor == log[0].target == rows[0].key_id
    assert store.get_key(other_row.key_id) is not None
