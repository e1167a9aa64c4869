"""Signed privacy receipts (compact JWS, Ed25519) and the keys that sign them.

Usage::

    ring = load_key_ring(settings.receipts, Path(settings.storage.data_dir), os.environ)
    share_history(ring, store.engine, Path(settings.storage.data_dir))  # after migrations
    signer = ReceiptSigner(ring, issuer)
    token = signer.sign(request_id, facts, stripped, digest(body_in), digest(body_out))
    verify_receipt(token, ring.verification_keys(), body_in, body_out).ok

See docs/proofs.md for what a receipt proves and what it does not.
"""

from zdrgate.receipts.exchange import NoReceipt, receipt_in_exchange, receipt_in_stream
from zdrgate.receipts.jws import InvalidToken
from zdrgate.receipts.keys import (
    KeyRing,
    keys_of_jwks,
    known_keys,
    listed_keys,
    load_key_ring,
    rotate_generated_key,
    share_history,
)
from zdrgate.receipts.receipt import (
    ReceiptFacts,
    ReceiptSigner,
    Verification,
    digest,
    new_request_id,
    stripped,
    verify_receipt,
)

__all__ = [
    "InvalidToken",
    "KeyRing",
    "NoReceipt",
    "ReceiptFacts",
    "ReceiptSigner",
    "Verification",
    "digest",
    "keys_of_jwks",
    "known_keys",
    "listed_keys",
    "load_key_ring",
    "new_request_id",
    "receipt_in_exchange",
    "receipt_in_stream",
    "rotate_generated_key",
    "share_history",
    "stripped",
    "verify_receipt",
]
