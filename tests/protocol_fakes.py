"""A fake upstream for every protocol of the table (OpenAI, Anthropic and Claude on
Vertex, Gemini, Azure OpenAI, Bedrock wire formats) side by side, and a gateway config
declaring one custom provider per protocol. ``tests/test_protocol_table.py`` checks that
every protocol of the table has a fake here, so the parity tests run over all of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import chat_model, provider
from fake_anthropic import start_fake_anthropic
from fake_azure import start_fake_azure
from fake_bedrock import start_fake_bedrock
from fake_gemini import start_fake_gemini
from fake_openai import start_fake_openai
from zdrgate.protocols.table import protocol_names

PROTOCOLS = list(protocol_names())
MODES = ["ok", "tools", "think", "unicode", "nostop", "break", "fail429", "fail500", "bad400"]


@contextmanager
def running_fakes() -> Iterator[dict[str, str]]:
    """Base URL of each protocol's fake upstream, while they run."""
    started = [
        start_fake_openai(),
        start_fake_anthropic(),
        start_fake_gemini(),
        start_fake_bedrock(),
    ]
    openai, anthropic, gemini, bedrock = (fake.base_url for fake, _ in started)
    azure = start_fake_azure()
    urls = {
        "openai": openai,
        "anthropic": anthropic,
        "anthropic-vertex": f"{anthropic}/vertex",
        "gemini": gemini,
        "azure-openai": azure[0].base_url,  # the deployment-path API
        "bedrock": bedrock,
    }
    try:
        yield urls
    finally:
        for _, server in [*started, azure]:
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
