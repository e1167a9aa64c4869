"""The places the audit scans besides files: database rows, Redis keys, log records.

Usage::

    rows, hits = scan_database(engine, needles)
    keys, hits = scan_redis(url, needles)
    capture = LogCapture.install(); ...; capture.remove(); capture.text()
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from zdrgate.audit.scan import scan_bytes

Hits = list[tuple[str, str]]


def scan_database(engine: sa.Engine, needles: dict[str, list[bytes]]) -> tuple[int, Hits]:
    """Every row of every table, every column as text (SQLite or PostgreSQL)."""
    meta = sa.MetaData()
    meta.reflect(engine)
    count, hits = 0, []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                count += 1
                blob = "\x1f".join(_text(v) for v in row).encode("utf-8", "replace")
                hits += [(f"table {table.name}", name) for name in scan_bytes(blob, needles)]
    return count, sorted(set(hits))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


def scan_redis(url: str, needles: dict[str, list[bytes]]) -> tuple[int, Hits]:
    """Every key's name and value (strings, hashes, lists, sets, sorted sets)."""
    import redis  # noqa: PLC0415 - optional dependency (zdrgate[redis])

    client = redis.Redis.from_url(url)
    count, hits = 0, []
    try:
        for key in client.scan_iter(count=1000):
            count += 1
            blob = key + b"\x1f" + _redis_value(client, key)
            hits += [(f"redis key {key[:80]!r}", name) for name in scan_bytes(blob, needles)]
    finally:
        client.close()
    return count, sorted(set(hits))


def _redis_value(client: Any, key: bytes) -> bytes:
    kind = client.type(key)
    if kind == b"string":
        return bytes(client.get(key) or b"")
    if kind == b"hash":
        return b"\x1f".join(k + b"=" + v for k, v in client.hgetall(key).items())
    if kind == b"list":
        return b"\x1f".join(client.lrange(key, 0, -1))
    if kind == b"set":
        return b"\x1f".join(client.smembers(key))
    if kind == b"zset":
        return b"\x1f".join(client.zrange(key, 0, -1))
    return b""


class LogCapture(logging.Handler):
    """Every log record of the process while installed, formatted as a log file would
    have it (with tracebacks), at DEBUG level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self._level = logging.WARNING

    @classmethod
    def install(cls) -> LogCapture:
        capture = cls()
        root = logging.getLogger()
        capture._level = root.level
        root.addHandler(capture)
        root.setLevel(logging.DEBUG)
        return capture

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def remove(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)

    def text(self) -> bytes:
        return "\n".join(self.lines).encode("utf-8", "replace")
