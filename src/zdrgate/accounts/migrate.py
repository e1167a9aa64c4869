"""Schema migrations, run in-process: ``Store.migrate()`` brings any database to the
newest Alembic revision.

A database made before migrations existed (by ``create_all``) holds the baseline's
tables but no ``alembic_version`` row: it is stamped at the baseline first, then
upgraded like any other. On PostgreSQL an advisory lock makes concurrent starts of
several instances migrate one after the other. Alembic's own INFO lines (its context,
each revision's docstring) are kept out of the log: one line says what changed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

BASELINE = "0001"  # the schema `create_all` made before migrations
_LOCK_KEY = 0x2D6761746531  # any constant shared by every zdrgate instance
_SCRIPTS = Path(__file__).with_name("migrations")
log = logging.getLogger("zdrgate.migrate")


def upgrade(engine: sa.Engine) -> tuple[str | None, str | None]:
    """Upgrade the database to the newest revision (idempotent); the revisions before
    and after (None: an empty database)."""
    with engine.begin() as conn, _quiet_alembic():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config = _config(conn)
        before = current_revision(conn)
        if before is None and sa.inspect(conn).has_table("api_keys"):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        after = current_revision(conn)
    if after != before:
        log.info("database schema migrated from %s to revision %s", before or "empty", after)
    return before, after


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    alembic = logging.getLogger("alembic")
    level = alembic.level
    alembic.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic.setLevel(level)


def current_revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory(str(_SCRIPTS)).get_current_head()
    assert head is not None
    return head


def _config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = conn
    return config


def is_current(engine: sa.Engine) -> bool:
    """Whether the database is at the newest revision (no change made)."""
    with engine.connect() as conn, _quiet_alembic():
        return current_revision(conn) == head_revision()


def prepare(engine: sa.Engine, *, migrate_on_start: bool) -> None:
    """At start: upgrade, or (when instances must not migrate) insist on a current
    schema, with the command that fixes it."""
    if migrate_on_start:
        upgrade(engine)
    elif not is_current(engine):
        from zdrgate.errors import ConfigError  # noqa: PLC0415

        raise ConfigError(
            "the database schema is not current and storage.migrate_on_start is off: "
            "run `zdrgate migrate` first"
        )
