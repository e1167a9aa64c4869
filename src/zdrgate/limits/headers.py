"""``x-ratelimit-*`` headers as OpenAI sends them.

For requests and for tokens: the limit, what remains and when the bucket is full
again (``x-ratelimit-reset-requests: 1s``, ``6m0s``, ``20ms``). When the key, its
account and its team all have a limit, the one with the least remaining is shown.
"""

from __future__ import annotations

from zdrgate.limits.counters import RateCheck, RateState


def rate_headers(checks: tuple[RateCheck, ...], states: tuple[RateState, ...]) -> dict[str, str]:
    if not checks:
        return {}
    headers: dict[str, str] = {}
    for prefix, name in (("r", "requests"), ("t", "tokens")):
        shown: tuple[RateCheck, RateState] | None = None
        for check, state in zip(checks, states, strict=False):
            if check.key[0] == prefix and (shown is None or state.remaining < shown[1].remaining):
                shown = (check, state)
        if shown is not None:
            headers[f"x-ratelimit-limit-{name}"] = str(shown[0].limit)
            headers[f"x-ratelimit-remaining-{name}"] = str(shown[1].remaining)
            headers[f"x-ratelimit-reset-{name}"] = duration(shown[1].reset)
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
