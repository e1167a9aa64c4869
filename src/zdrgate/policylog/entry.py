"""One entry of the policy transparency log: its fields, hash and signature.

Each entry names a provider, the endpoints concerned, the policy record digests
before and after, a reason, a status, the digest of the evidence, and the hash of the
previous entry; its own hash covers all of that, and a compact JWS made with the
receipt key signs it. Editing any entry changes its hash, which breaks the link from
the next one, and no longer matches its signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

GENESIS = "sha256:" + "0" * 64  # the "previous hash" of the first entry


class Why(StrEnum):
    INITIAL = "initial"  # the records served at the first start with a log
    CATALOG_UPGRADE = "catalog_upgrade"  # the packaged catalog's record changed
    CONFIG_CHANGE = "config_change"  # the operator's config (override, attestation) changed it
    EVIDENCE_FIRST_SEEN = "evidence_first_seen"  # evidence watch: the first hash of the pages
    EVIDENCE_CHANGED = "evidence_changed"  # evidence watch: the pages changed
    EVIDENCE_REVERIFIED = "evidence_reverified"  # an admin re-verified after a change


RECORD_REASONS = frozenset({Why.INITIAL, Why.CATALOG_UPGRADE, Why.CONFIG_CHANGE})


class Status(StrEnum):
    RECORDED = "recorded"
    NEEDS_REVIEW = "needs_review"
    VERIFIED = "verified"


@dataclass(frozen=True, slots=True)
class Change:
    """What to append (the log adds time, sequence, hashes and signature)."""

    provider: str
    endpoints: tuple[str, ...]
    old_digest: str | None
    new_digest: str | None
    reason: Why
    status: Status = Status.RECORDED
    evidence_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    at: dt.datetime
    change: Change
    prev_hash: str
    entry_hash: str
    signature: str

    def as_json(self) -> dict[str, Any]:
        return {**body_of(self.seq, self.at, self.change, self.prev_hash),
                "hash": self.entry_hash, "signature": self.signature}


def stamp(at: dt.datetime) -> str:
    """UTC to the second: what every database gives back the same way."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body_of(seq: int, at: dt.datetime, change: Change, prev_hash: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": stamp(at),
        "provider": change.provider,
        "endpoints": list(change.endpoints),
        "old_digest": change.old_digest,
        "new_digest": change.new_digest,
        "reason": change.reason.value,
        "status": change.status.value,
        "evidence_digest": change.evidence_digest,
        "prev_hash": prev_hash,
    }


def hash_of(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
