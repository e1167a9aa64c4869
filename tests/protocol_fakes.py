"""The three fake upstreams (OpenAI, Anthropic, Gemini wire formats) side by side,
and a gateway config declaring one custom provider per protocol."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import chat_model, provider
from fake_anthropic import start_fake_anthropic
from fake_gemini import start_fake_gemini
from fake_openai import start_fake_openai

PROTOCOLS = ["openai", "anthropic", "gemini"]
MODES = ["ok", "tools", "think", "unicode", "nostop", "break", "fail429", "fail500", "bad400"]


@contextmanager
def running_fakes() -> Iterator[dict[str, str]]:
    """Base URL of each protocol's fake upstream, while they run."""
    started = [start_fake_openai(), start_fake_anthropic(), start_fake_gemini()]
    try:
        yield {name: fake.base_url for name, (fake, _) in zip(PROTOCOLS, started, strict=True)}
    finally:
        for _, server in started:
            server.stop()


def three_providers(urls: dict[str, str]) -> dict[str, Any]:
    """Provider ``zdr-<protocol>`` serves ``test/<protocol>`` (the echo mode) and
    ``test/<protocol>-<mode>`` for every other mode of the fakes."""
    return {
        f"zdr-{name}": provider(
            url,
            [chat_model("ok", f"test/{name}")]
            + [chat_model(mode, f"test/{name}-{mode}") for mode in MODES[1:]],
            protocol=name,
        )
        for name, url in urls.items()
    }
