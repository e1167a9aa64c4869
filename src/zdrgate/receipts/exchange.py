"""Finding a receipt in a saved response, and the bytes it covers.

Usage::

    token, covered = receipt_in_exchange(Path("reply.http").read_bytes())  # curl -si
    token, covered = receipt_in_stream(sse_body)   # the body of a stream

A plain response carries its receipt in the ``ZDR-Receipt`` header and ``res``
covers the whole body. A stream carries a final SSE comment ``: zdr-receipt=<jws>``
and ``res`` covers every byte before that line.
"""

from __future__ import annotations

import re

HEADER = "zdr-receipt"
STREAM_MARK = b": zdr-receipt="
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class NoReceipt(Exception):
    """The saved response carries no receipt."""


def receipt_in_stream(body: bytes) -> tuple[str, bytes]:
    """The stream's final receipt and the bytes before its line."""
    at = body.rfind(b"\n" + STREAM_MARK)
    start = at + 1 if at >= 0 else (0 if body.startswith(STREAM_MARK) else -1)
    if start < 0:
        raise NoReceipt("the stream has no ': zdr-receipt=' line")
    end = body.find(b"\n", start)
    token = body[start + len(STREAM_MARK) : end if end >= 0 else len(body)]
    return token.decode("ascii", errors="replace").strip(), body[:start]


def split_response(raw: bytes) -> tuple[dict[str, str], bytes]:
    """Headers (lower-case names; the last response head when curl saved several, as
    after ``100 Continue``) and the body of a saved HTTP response."""
    headers: dict[str, str] = {}
    rest = raw
    while rest.startswith(b"HTTP/"):
        found = _HEAD_END.search(rest)
        if found is None:
            head, rest = rest, b""
        else:
            head, rest = rest[: found.start()], rest[found.end() :]
        headers = _parse_head(head)
    return headers, rest


def receipt_in_exchange(raw: bytes) -> tuple[str, bytes]:
    headers, body = split_response(raw)
    if "text/event-stream" in headers.get("content-type", ""):
        return receipt_in_stream(body)
    if HEADER in headers:
        return headers[HEADER], body
    raise NoReceipt("the response has no ZDR-Receipt header")


def _parse_head(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers
