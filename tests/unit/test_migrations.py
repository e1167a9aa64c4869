"""Alembic migrations: a new database, a database made by the old ``create_all``
schema, and agreement between the revisions and ``schema.py``."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from zdrgate.accounts import migrate, schema
from zdrgate.accounts.store import Store

# The schema as `create_all` made it before migrations (copied, not imported: the
# point is to upgrade what exists in the field).
OLD = sa.MetaData()
sa.Table(
    "api_keys",
    OLD,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False, default=""),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Table(
    "usage",
    OLD,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("model", sa.String(256), nullable=False),
    sa.Column("endpoint", sa.String(512), nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error_kind", sa.String(64), nullable=True),
    sa.Column("stream", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost_usd", sa.Float, nullable=False, default=0.0),
    sa.Column("latency_ms", sa.Float, nullable=False),
)
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def drift(store: Store) -> list[object]:
    """What autogenerate would change: nothing when revisions and schema.py agree."""
    with store.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), schema.metadata))


def check_upgrades_old_database(url: str) -> None:
    store = Store(url)
    OLD.create_all(store.engine)
    with store.engine.begin() as conn:
        conn.execute(
            OLD.tables["api_keys"]
            .insert()
            .values(key_id="old1", secret_hash="h" * 64, name="old", is_admin=True, created_at=NOW)
        )
        conn.execute(
            OLD.tables["usage"]
            .insert()
            .values(
                key_id="old1",
                started_at=NOW,
                route="chat.completions",
                model="a/b",
                status=200,
                stream=False,
                attempts=1,
                prompt_tokens=3,
                completion_tokens=4,
                cost_usd=0.5,
                latency_ms=1.0,
            )
        )
    store.migrate()
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    assert drift(store) == []
    key = store.get_key("old1")
    assert key is not None and key.is_admin and not key.revoked
    rows = store.usage_rows()
    assert rows[0]["prompt_tokens"] == 3 and rows[0]["images"] == 0
    assert rows[0]["account_id"] is None
    assert usage_indexes(store) >= USAGE_INDEXES
    store.migrate()  # a second start changes nothing
    store.close()


USAGE_INDEXES = {
    ("ix_usage_key_id", ("key_id",)),
    ("ix_usage_account_id", ("account_id",)),
    ("ix_usage_team_id", ("team_id",)),
    ("ix_usage_started_at", ("started_at",)),
}
"""What the budget seeds and usage reports filter on (``limits.spent``, ``usage_report``)."""


def usage_indexes(store: Store) -> set[tuple[str, tuple[str, ...]]]:
    found = sa.inspect(store.engine).get_indexes("usage")
    return {(str(i["name"]), tuple(str(c) for c in i["column_names"])) for i in found}


def check_new_database(url: str) -> None:
    store = Store(url)
    store.migrate()
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    assert drift(store) == []
    assert set(sa.inspect(store.engine).get_table_names()) == {
        *schema.metadata.tables,
        "alembic_version",
    }
    assert usage_indexes(store) >= USAGE_INDEXES
    store.close()


def test_new_database(db_url: str) -> None:
    check_new_database(db_url)


def test_upgrades_a_create_all_database(db_url: str) -> None:
    check_upgrades_old_database(db_url)
