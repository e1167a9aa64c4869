"""Looking for the canary where the gateway writes: files, database rows, Redis keys,
log records; raw and encoded (JSON-escaped, URL-encoded, base64 at every alignment,
hex, and inside gzip streams).

Usage::

    needles = encodings(canary)
    hits = scan_bytes(data, needles)          # ["raw", "gzip+base64", ...]
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

MAX_FILE_BYTES = 256 * 1024 * 1024
# Scanned, never written: files changed there during the run are read for the canary.
TEMP_DIRS = (Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/dev/shm"))  # noqa: S108
MAX_INFLATED = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b\x08"


def encodings(canary: str) -> dict[str, list[bytes]]:
    """Each encoding's byte strings that any stored copy of the canary contains."""
    raw = canary.encode("utf-8")
    core = canary.split("-", maxsplit=1)[0].encode("ascii")  # ASCII: survives any escaping
    forms: dict[str, list[bytes]] = {
        "raw": [raw, core],
        "json-escaped": [json.dumps(canary)[1:-1].encode(), json.dumps(canary, ensure_ascii=False)
                         [1:-1].encode("utf-8")],
        "url-encoded": [quote(canary).encode(), quote_plus(canary).encode()],
        "hex": [core.hex().encode()],
        "base64": [],
    }
    for shift in range(3):  # base64 of a longer text: the canary can start at 3 alignments
        encoded = base64.b64encode(b"\0" * shift + core)
        middle = encoded[4 if shift else 0 : -4]
        forms["base64"] += [middle, middle.replace(b"+", b"-").replace(b"/", b"_")]
    return forms


def scan_bytes(data: bytes, needles: dict[str, list[bytes]], depth: int = 0) -> list[str]:
    found = [name for name, forms in needles.items() if any(f and f in data for f in forms)]
    if depth == 0:
        for inflated in _gzip_members(data):
            found += [f"gzip+{name}" for name in scan_bytes(inflated, needles, 1)]
    return sorted(set(found))


def _gzip_members(data: bytes) -> Iterator[bytes]:
    at = data.find(GZIP_MAGIC)
    while at >= 0:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            inflated = inflater.decompress(data[at:], MAX_INFLATED)
        except zlib.error:
            inflated = b""
        if inflated:
            yield inflated
        at = data.find(GZIP_MAGIC, at + 1)


def files_under(root: Path, modified_since: float | None = None) -> Iterator[Path]:
    """Regular files below ``root`` (not following links), optionally only those
    changed since a time; unreadable ones are skipped."""
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not Path(folder, d).is_symlink()]
        for name in names:
            path = Path(folder, name)
            try:
                info = path.lstat()
            except OSError:
                continue
            if not path.is_file() or path.is_symlink() or info.st_size > MAX_FILE_BYTES:
                continue
            if modified_since is not None and max(info.st_mtime, info.st_ctime) < modified_since:
                continue
            yield path


def scan_files(
    paths: Iterator[Path], needles: dict[str, list[bytes]]
) -> tuple[int, int, list[tuple[str, str]]]:
    """(files read, bytes read, [(path, encoding)])."""
    count = size = 0
    hits: list[tuple[str, str]] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        count, size = count + 1, size + len(data)
        hits += [(str(path), name) for name in scan_bytes(data, needles)]
    return count, size, hits


def now() -> float:
    return time.time()
