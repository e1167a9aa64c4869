"""Database URLs for tests that run on SQLite and on the real PostgreSQL alike.

PostgreSQL tests live in a random schema dropped afterwards; under CI=true an
unreachable server fails them instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.services)]


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    schema = f"zdrgate_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create schema {schema}")
    try:
        yield f"{ADMIN_DSN}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"drop schema {schema} cascade")
        admin.close()


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/zdrgate-test.db"
        return
    with postgres_schema_url() as url:
        yield url
