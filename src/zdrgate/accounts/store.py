"""Where keys and usage rows live: SQLite by default, PostgreSQL when configured.

Calls are synchronous (SQLAlchemy Core); the async side runs them in a thread and
never on the request path except for a key-cache miss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from zdrgate.accounts import migrate, schema
from zdrgate.accounts.keys import NewKey
from zdrgate.errors import ConfigError


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    secret_hash: str
    name: str
    is_admin: bool
    revoked: bool


class Store:
    def __init__(self, database_url: str) -> None:
        self.engine = sa.create_engine(_driver_url(database_url), future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._usage_insert = _UsageInsert(self.engine.dialect)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent; see ``migrate.py``)."""
        migrate.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def count_keys(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(schema.api_keys)).scalar_one()
            )

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
        table = schema.api_keys
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.key_id == key_id)).first()
        if row is None:
            return None
        return KeyRow(
            row.key_id, row.secret_hash, row.name, row.is_admin, row.revoked_at is not None
        )

    def revoke_key(self, key_id: str) -> bool:
        table = schema.api_keys
        with self.engine.begin() as conn:
            result = conn.execute(
                table.update()
                .where(table.c.key_id == key_id, table.c.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
        return bool(result.rowcount)

    def insert_usage(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                self._usage_insert.run(conn, rows)

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
