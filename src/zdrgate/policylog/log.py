"""The policy log in the database: append (hash-chained, signed), read, verify.

Usage::

    log = PolicyLog(store.engine)
    log.append([Change("groq", ("groq/llama",), old, new, Why.CATALOG_UPGRADE)], ring)
    log.verify(ring.all_keys()).ok
    log.record_state()          # endpoint id -> policy digest, as last logged

Append-only by use: nothing in zdrgate updates or deletes a row, and an edited row is
caught by :meth:`PolicyLog.verify`. The table's unique ``prev_hash`` makes two
instances that append at once fork no chain: the second insert fails and retries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zdrgate.accounts.schema import policy_log as table
from zdrgate.policylog.entry import (
    GENESIS,
    RECORD_REASONS,
    Change,
    Entry,
    Status,
    Why,
    body_of,
    hash_of,
)
from zdrgate.receipts import InvalidToken, KeyRing
from zdrgate.receipts.jws import ALG, signer, verify_compact

TYP = "zdr-policy-log+jws"


@dataclass(slots=True)
class ChainReport:
    entries: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"valid": self.ok, "entries": self.entries, "head": self.head,
                "problems": self.problems}


class PolicyLog:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        query = sa.select(table).where(table.c.seq > after).order_by(table.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_entry(dict(row._mapping)) for row in conn.execute(query)]

    def append(
        self, changes: Sequence[Change], ring: KeyRing, now: dt.datetime | None = None
    ) -> list[Entry]:
        """Append ``changes`` in one transaction, after the current head."""
        if not changes:
            return []
        at = now or dt.datetime.now(dt.UTC)
        sign = signer({"alg": ALG, "kid": ring.kid, "typ": TYP}, ring.signing_key)
        with self.engine.begin() as conn:
            last = conn.execute(
                sa.select(table.c.seq, table.c.entry_hash).order_by(table.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (last.seq, last.entry_hash) if last else (0, GENESIS)
            made = []
            for change in changes:
                seq += 1
                body = body_of(seq, at, change, prev)
                digest = hash_of(body)
                entry = Entry(seq, at, change, prev, digest, sign.sign({**body, "hash": digest}))
                conn.execute(table.insert().values(**_row(entry)))
                made.append(entry)
                prev = digest
        return made

    def record_state(self) -> dict[str, str]:
        """Each endpoint's policy digest as the log last recorded it."""
        state: dict[str, str] = {}
        for entry in self.entries():
            change = entry.change
            if change.reason not in RECORD_REASONS:
                continue
            for endpoint in change.endpoints:
                if change.new_digest is None:
                    state.pop(endpoint, None)
                else:
                    state[endpoint] = change.new_digest
        return state

    def watched_digests(self) -> dict[str, str]:
        """Each provider's evidence digest as evidence watch last saw it."""
        seen: dict[str, str] = {}
        for entry in self.entries():
            change = entry.change
            if change.reason in (Why.EVIDENCE_FIRST_SEEN, Why.EVIDENCE_CHANGED):
                seen[change.provider] = change.evidence_digest or ""
        return seen

    def evidence_state(self) -> dict[str, Change]:
        """Each provider's last evidence-watch entry."""
        last: dict[str, Change] = {}
        for entry in self.entries():
            if entry.change.reason not in RECORD_REASONS:
                last[entry.change.provider] = entry.change
        return last

    def verify(self, keys: Mapping[str, Ed25519PublicKey]) -> ChainReport:
        return verify_chain([e.as_json() for e in self.entries()], keys)


def verify_chain(
    rows: Sequence[Mapping[str, Any]], keys: Mapping[str, Ed25519PublicKey]
) -> ChainReport:
    """Check every entry's hash, its link to the previous one, and its signature.
    ``rows`` are entries as ``/v1/policy-log`` serves them."""
    report = ChainReport()
    prev, expected_seq = GENESIS, 1
    for row in rows:
        body = {k: v for k, v in row.items() if k not in ("hash", "signature")}
        seq = row.get("seq")
        if seq != expected_seq:
            report.problems.append(f"entry {seq}: expected sequence number {expected_seq}")
        if row.get("prev_hash") != prev:
            report.problems.append(f"entry {seq}: does not link to the previous entry's hash")
        if hash_of(body) != row.get("hash"):
            report.problems.append(f"entry {seq}: its hash does not match its content (edited)")
        report.problems += _signature_problems(row, keys)
        prev, expected_seq = str(row.get("hash")), expected_seq + 1
        report.entries += 1
    report.head = prev
    return report


def _signature_problems(row: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> list[str]:
    seq = row.get("seq")
    try:
        _, signed = verify_compact(str(row.get("signature")), keys)
    except InvalidToken as exc:
        return [f"entry {seq}: signature: {exc}"]
    unsigned = {k: v for k, v in row.items() if k != "signature"}
    if signed != unsigned:
        return [f"entry {seq}: the signed content differs from the entry (edited)"]
    return []


def _row(entry: Entry) -> dict[str, Any]:
    change = entry.change
    return {
        "seq": entry.seq,
        "at": entry.at,
        "provider": change.provider,
        "endpoints": orjson.dumps(list(change.endpoints)).decode(),
        "old_digest": change.old_digest,
        "new_digest": change.new_digest,
        "reason": change.reason.value,
        "status": change.status.value,
        "evidence_digest": change.evidence_digest,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "signature": entry.signature,
    }


def _entry(row: Mapping[str, Any]) -> Entry:
    at: dt.datetime = row["at"]
    if at.tzinfo is None:  # SQLite gives back naive datetimes: they were stored as UTC
        at = at.replace(tzinfo=dt.UTC)
    change = Change(
        provider=row["provider"],
        endpoints=tuple(orjson.loads(row["endpoints"])),
        old_digest=row["old_digest"],
        new_digest=row["new_digest"],
        reason=Why(row["reason"]),
        status=Status(row["status"]),
        evidence_digest=row["evidence_digest"],
    )
    return Entry(row["seq"], at, change, row["prev_hash"], row["entry_hash"], row["signature"])
