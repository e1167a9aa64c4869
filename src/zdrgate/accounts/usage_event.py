"""One request's usage, as metadata: what a usage row, the metrics and the traces are
built from. No field can hold content (a prompt, a completion, an image)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UsageEvent:
    key_id: str
    started_at: float  # Unix time; made a datetime when written, off the request path
    route: str
    model: str
    endpoint: str | None
    status: int
    error_kind: str | None
    stream: bool
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    account_id: str | None = None  # the key's owner, for per-account usage and budgets
    team_id: str | None = None
    images: int = 0  # images generated (not their bytes, not their prompts)
