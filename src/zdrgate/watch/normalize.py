"""An evidence page reduced to its words, so that markup, scripts and whitespace
changes do not count as a change of policy.

Usage::

    normalize(b"<html><script>x()</script><p>We keep  nothing.</p></html>")
    # -> "We keep nothing."
"""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head"})


class _Words(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def normalize(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    if "<" in text:
        parser = _Words()
        parser.feed(text)
        parser.close()
        text = " ".join(parser.parts)
    return " ".join(text.split())


def page_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(normalize(body).encode("utf-8")).hexdigest()
