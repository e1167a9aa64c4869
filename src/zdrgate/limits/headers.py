"""``x-ratelimit-*`` headers as OpenAI sends them.

For requests and for tokens: the limit, what remains and when the bucket is full
again (``x-ratelimit-reset-requests: 1s``, ``6m0s``, ``20ms``). When the key, its
account and its team all have a limit, the one with the least remaining is shown.
"""

from __future__ import annotations

from zdrgate.limits.counters import RateCheck, RateState


def rate_headers(checks: tuple[RateCheck, ...], states: tuple[RateState, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    requests: tuple[int, RateCheck, float] | None = None
    tokens: tuple[int, RateCheck, float] | None = None
    for check, (remaining, reset) in zip(checks, states, strict=False):
        if check.tokens:
            if tokens is None or remaining < tokens[0]:
                tokens = (remaining, check, reset)
        elif requests is None or remaining < requests[0]:
            requests = (remaining, check, reset)
    for name, shown in (("requests", requests), ("tokens", tokens)):
        if shown is not None:
            headers[f"x-ratelimit-limit-{name}"] = str(shown[1].limit)
            headers[f"x-ratelimit-remaining-{name}"] = str(shown[0])
            headers[f"x-ratelimit-reset-{name}"] = duration(shown[2])
    return headers


def duration(seconds: float) -> str:
    """Go-style duration as OpenAI writes it: ``0s``, ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(round(seconds * 1000), 1)}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text
