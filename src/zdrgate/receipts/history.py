"""Every public key that signed receipts, kept in the database that all instances share.

Usage::

    history = KeyHistory(store.engine)
    history.record_use(jwk, now, until)     # at start, then renewed while signing
    history.known()                         # [KnownKey], oldest first
    history.import_file(data_dir / "receipt-keys.json")   # an older per-pod history

A key is listed (served in the JWKS) until ``signs_until + lifetime``: an instance
that signs with a key renews ``signs_until`` ahead of time while it runs, so every
receipt any instance signed stays verifiable at every instance for the receipts'
lifetime, whichever instance a client asks. Public keys only: no private key and no
content ever reaches this table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa

from zdrgate.accounts.schema import receipt_keys as table
from zdrgate.errors import ConfigError


@dataclass(frozen=True, slots=True)
class KnownKey:
    jwk: dict[str, str]
    first_used: dt.datetime
    signs_until: dt.datetime | None  # None: this process signs with it now

    def listed(self, now: dt.datetime, lifetime: dt.timedelta) -> bool:
        return self.signs_until is None or now < self.signs_until + lifetime


class KeyHistory:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record_use(self, jwk: dict[str, str], now: dt.datetime, until: dt.datetime) -> None:
        """The key signs from ``now`` (if new) until at least ``until``."""
        with self.engine.begin() as conn:
            if _renew(conn, jwk["kid"], until):
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(
                    kid=jwk["kid"], jwk=orjson.dumps(jwk).decode(), first_used=now,
                    signs_until=until))
        except sa.exc.IntegrityError:  # another instance recorded it just now
            with self.engine.begin() as conn:
                _renew(conn, jwk["kid"], until)

    def known(self) -> list[KnownKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.first_used, table.c.kid))
            return [KnownKey(orjson.loads(r.jwk), _utc(r.first_used), _utc(r.signs_until))
                    for r in rows]

    def import_file(self, path: Path, now: dt.datetime) -> int:
        """Keys of a ``receipt-keys.json`` that earlier versions kept in each data
        directory, added where missing (a key the file did not retire counts as used
        until now). Returns how many were added."""
        try:
            raw = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return 0
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON") from exc
        have = {k.jwk["kid"] for k in self.known()}
        added = 0
        for item in raw.get("keys", []):
            jwk = item["jwk"]
            if jwk["kid"] in have:
                continue
            retired = item.get("retired_at")
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(
                    kid=jwk["kid"], jwk=orjson.dumps(jwk).decode(),
                    first_used=dt.datetime.fromisoformat(item["first_used"]),
                    signs_until=dt.datetime.fromisoformat(retired) if retired else now))
            added += 1
        return added


def _renew(conn: sa.Connection, kid: str, until: dt.datetime) -> bool:
    """Move ``signs_until`` forward (never back); False when the key is not recorded."""
    found = conn.execute(sa.select(table.c.signs_until).where(table.c.kid == kid)).first()
    if found is None:
        return False
    if _utc(found.signs_until) < until:
        conn.execute(table.update().where(table.c.kid == kid).values(signs_until=until))
    return True


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every time stored here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
