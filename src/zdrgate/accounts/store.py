"""The database: SQLite by default, PostgreSQL when configured; its schema comes from
the Alembic revisions in ``migrations/``.

Calls are synchronous (SQLAlchemy Core); the async side runs them in a thread and
never on the request path except for a key-cache miss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from zdrgate.accounts import gdpr, keys_store, migrate, schema
from zdrgate.accounts.keys import NewKey
from zdrgate.accounts.keys_store import KeyRow
from zdrgate.errors import ConfigError

__all__ = ["KeyRow", "Store"]


class Store:
    """The database. Concepts live in their own modules, as functions of a connection
    (``accounts_store``, ``keys_store``, ``sign_in_store``, ``audit``, ``gdpr``,
    ``usage_report``); a change and its audit entry share one transaction::

        with store.begin() as conn:
            keys_store.revoke_key(conn, key_id)
            audit.record(conn, actor, "keys.revoke", f"key:{key_id}")
        store.credentials_changed()   # caches of keys and sessions drop it everywhere
    """

    def __init__(self, database_url: str) -> None:
        self.engine = sa.create_engine(_driver_url(database_url), future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._usage_insert = _UsageInsert(self.engine.dialect)
        self._on_credentials_changed: list[Callable[[], None]] = []

    def migrate(self) -> tuple[str | None, str | None]:
        """Bring the schema to the newest migration (idempotent; see ``migrate.py``);
        the revisions before and after."""
        return migrate.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def begin(self) -> AbstractContextManager[sa.Connection]:
        """A connection in a transaction, committed at the end of the ``with`` block."""
        return self.engine.begin()

    def connect(self) -> AbstractContextManager[sa.Connection]:
        return self.engine.connect()

    def on_credentials_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after a key, session or account stopped or changed (the
        authenticator's revocation epoch subscribes here)."""
        self._on_credentials_changed.append(listener)

    def credentials_changed(self) -> None:
        for listener in self._on_credentials_changed:
            listener()

    def count_keys(self) -> int:
        with self.connect() as conn:
            return keys_store.count_keys(conn)

    def add_key(self, key: NewKey, *, name: str, is_admin: bool) -> None:
        row = {
            "key_id": key.key_id,
            "secret_hash": key.secret_hash,
            "name": name,
            "is_admin": is_admin,
            "created_at": dt.datetime.now(dt.UTC),
        }
        with self.engine.begin() as conn:
            conn.execute(schema.api_keys.insert().values(**row))

    def get_key(self, key_id: str) -> KeyRow | None:
        with self.connect() as conn:
            return keys_store.get_key(conn, key_id)

    def revoke_key(self, key_id: str) -> bool:
        with self.begin() as conn:
            revoked = keys_store.revoke_key(conn, key_id)
        if revoked:
            self.credentials_changed()
        return revoked

    def insert_usage(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            used = {r["key_id"] for r in rows}
            with self.engine.begin() as conn:
                rows = gdpr.unlink_erased(conn, rows)
                self._usage_insert.run(conn, rows)
                keys_store.mark_used(conn, used, rows[-1]["started_at"].date())

    def usage_rows(self, key_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(schema.usage).order_by(schema.usage.c.id)
        if key_id is not None:
            query = query.where(schema.usage.c.key_id == key_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


class _UsageInsert:
    """The usage rows' INSERT at the driver's level: one ``executemany`` with the SQL
    built once. Core's per-row compile and bind machinery cost twice as much, on the
    same core as the requests (docs/decisions.md). Values go through each column
    type's own bind processor, so what is stored is what Core would store."""

    def __init__(self, dialect: sa.Dialect) -> None:
        columns = [c for c in schema.usage.columns if c.name != "id"]
        compiled = schema.usage.insert().values({c.name: None for c in columns}).compile(
            dialect=dialect
        )
        self.sql = str(compiled)
        # Positional drivers (sqlite3) take tuples in the statement's order, others dicts.
        self.positional = bool(compiled.positional)
        self.names = list(compiled.positiontup or ()) if compiled.positional else [
            c.name for c in columns
        ]
        types = {c.name: c.type.dialect_impl(dialect) for c in columns}
        self.processors = [types[name].bind_processor(dialect) for name in self.names]

    def run(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        pairs = list(zip(self.names, self.processors, strict=True))
        params: list[Any] = [
            tuple(row[name] if fn is None else fn(row[name]) for name, fn in pairs)
            for row in rows
        ]
        if not self.positional:
            params = [dict(zip(self.names, values, strict=True)) for values in params]
        conn.exec_driver_sql(self.sql, params)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers (key lookups) never wait for the usage writer, and one fsync per batch.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _driver_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return url
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+"):
        return url
    scheme = url.split(":", 1)[0]
    raise ConfigError(
        f"storage.database_url must be sqlite:///... or postgresql://..., got {scheme}:"
    )
