"""The policy transparency log: every change to a served policy record or an
operator attestation, and every evidence-watch result, appended to a hash-chained,
signed log in the database (docs/proofs.md).

Usage::

    log = PolicyLog(store.engine)
    log.append(record_changes(log.record_state(), served, packaged), ring)
    log.verify(keys).ok
"""

from zdrgate.policylog.entry import GENESIS, Change, Entry, Status, Why
from zdrgate.policylog.log import ChainReport, PolicyLog, verify_chain
from zdrgate.policylog.sync import record_changes, served_records

__all__ = [
    "GENESIS",
    "ChainReport",
    "Change",
    "Entry",
    "PolicyLog",
    "Status",
    "Why",
    "record_changes",
    "served_records",
    "verify_chain",
]
