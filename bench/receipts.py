"""CPU cost of one privacy receipt: sign (claims + Ed25519 + compact JWS) and the
two body digests, against PyJWT and joserfc doing the same signature.

    .venv/bin/python bench/receipts.py            # ~10 s; prints a markdown table

Budget (issue 13): signing costs at most 0.05 ms of CPU per response. CPU time is
``time.process_time`` over many rounds, median of 5 runs (this VM is shared).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from zdrgate.config import ReceiptSettings
from zdrgate.receipts import ReceiptFacts, ReceiptSigner, digest, load_key_ring, stripped

ROUNDS = 4000
RUNS = 5
REQUEST = orjson.dumps({"model": "meta-llama/llama-3.3-70b-instruct",
                        "messages": [{"role": "user", "content": "x" * 400}]})
RESPONSE = orjson.dumps({"id": "c", "choices": [{"message": {"content": "y" * 1200}}]})
FACTS = ReceiptFacts("meta-llama/llama-3.3-70b-instruct", "groq/llama-3.3-70b-versatile",
                     "groq", None, "sha256:" + "a" * 64, "2026-11-01", 0)


def per_call_ms(fn: Callable[[], object]) -> float:
    for _ in range(200):
        fn()
    runs = []
    for _ in range(RUNS):
        start = time.process_time()
        for _ in range(ROUNDS):
            fn()
        runs.append((time.process_time() - start) / ROUNDS * 1000)
    return statistics.median(runs)


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="zdr-bench-keys-"))
    ring = load_key_ring(ReceiptSettings(), data, {}, dt.datetime.now(dt.UTC))
    signer = ReceiptSigner(ring, "https://gw.example")
    marks = stripped(["user"], [(b"cookie", b"")])
    rows = [
        ("zdrgate sign (claims + JWS)", lambda: signer.sign(
            "req_0123456789abcdef01234567", FACTS, marks, "sha256:" + "b" * 64,
            "sha256:" + "c" * 64)),
        ("zdrgate digests (1 KB in, 1.3 KB out)", lambda: (digest(REQUEST), digest(RESPONSE))),
        ("zdrgate receipt total", lambda: signer.sign(
            "req_0123456789abcdef01234567", FACTS, marks, digest(REQUEST), digest(RESPONSE))),
    ]
    claims = orjson.loads(orjson.dumps({"iss": "https://gw.example", "iat": 1, "jti": "r",
                                        "model": FACTS.model, "stripped": marks}))
    try:
        import jwt  # noqa: PLC0415 - optional comparison

        rows.append(("PyJWT encode (same claims)", lambda: jwt.encode(
            claims, ring.signing_key, algorithm="EdDSA", headers={"kid": ring.kid})))
    except ImportError:
        pass
    print(f"| operation | CPU ms per call (median of {RUNS} x {ROUNDS}) |\n|---|---|")
    for name, fn in rows:
        print(f"| {name} | {per_call_ms(fn):.4f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
