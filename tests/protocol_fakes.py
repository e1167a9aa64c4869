"""A fake upstream for every protocol of the table (OpenAI, Anthropic and Claude on
Vertex, Gemini, Azure OpenAI, Bedrock, OpenAI Responses wire formats) side by side,
and a gateway config declaring one custom provider per protocol.
``tests/test_protocol_table.py`` checks that every protocol of the table has a fake
here, so the parity tests run over all of them, and over each of the table's
``VARIANTS`` (a provider of one protocol whose models speak another: OpenAI and Azure
OpenAI models served only on the Responses API), named ``<provider's>-via-<model's>``."""

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
from fake_responses import start_fake_responses
from zdrgate.protocols.table import VARIANTS, protocol_names

PROTOCOLS = list(protocol_names())
# A provider speaking one protocol, its models another: name -> (provider's, model's).
VARIANT_PAIRS = {f"{home}-via-{theirs}": (home.value, theirs.value) for home, theirs in VARIANTS}
# What the parity tests run over: every protocol, and every variant.
PARITY = [*PROTOCOLS, *VARIANT_PAIRS]
MODES = [
    "ok", "tools", "think", "unicode", "nostop", "break", "fail429", "fail500", "bad400", "custom",
]  # fmt: skip


@contextmanager
def running_fakes() -> Iterator[dict[str, str]]:
    """Base URL of each protocol's fake upstream, while they run."""
    started: list[Any] = [
        start_fake_openai(),
        start_fake_anthropic(),
        start_fake_gemini(),
        start_fake_bedrock(),
        start_fake_responses(),
    ]
    openai, anthropic, gemini, bedrock, responses = (fake.base_url for fake, _ in started)
    azure = start_fake_azure()
    urls = {
        "openai": openai,
        "anthropic": anthropic,
        "anthropic-vertex": f"{anthropic}/vertex",
        "gemini": gemini,
        "azure-openai": azure[0].base_url,  # the deployment-path API
        "bedrock": bedrock,
        "responses": responses,
        "openai-via-responses": responses,  # {base}/responses, as api.openai.com
        "azure-openai-via-responses": azure[0].base_url,  # /openai/responses?api-version=
    }
    try:
        yield urls
    finally:
        for _, server in [*started, azure]:
            server.stop()


def three_providers(urls: dict[str, str]) -> dict[str, Any]:
    """Provider ``zdr-<name>`` serves ``test/<name>`` (the echo mode) and
    ``test/<protocol>-<mode>`` for every other mode of the fakes."""
    return {f"zdr-{name}": _provider(name, url) for name, url in urls.items()}


def _provider(name: str, url: str) -> dict[str, Any]:
    home, speaks = VARIANT_PAIRS.get(name, (name, None))
    models = [chat_model("ok", f"test/{name}")]
    models += [chat_model(mode, f"test/{name}-{mode}") for mode in MODES[1:]]
    if speaks is not None:
        models = [{**model, "protocol": speaks} for model in models]
    return provider(url, models, protocol=home)
