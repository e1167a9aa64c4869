"""Provider and model config for the image and embedding tests."""

from __future__ import annotations

import time
from typing import Any

from conftest import RETAINING_POLICY, ZDR_POLICY, RunningGateway


def media_provider(
    base_url: str,
    models: list[dict[str, Any]],
    *,
    protocol: str = "openai",
    policy: dict[str, Any] | None = None,
    key: str = "upstream-key",
    asset_origins: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "protocol": protocol,
        "base_url": base_url,
        "api_key": key,
        "policy": policy or ZDR_POLICY,
        "models": models,
    }
    if asset_origins is not None:
        out["asset_origins"] = asset_origins
    return out


def image_model(
    upstream_id: str, model_id: str = "test/image", image_price: float | None = 0.04
) -> dict[str, Any]:
    return {
        "id": model_id,
        "upstream_id": upstream_id,
        "input_modalities": ["text"],
        "output_modalities": ["image"],
        "image_price": image_price,
        "prompt_price": 5.0,
        "completion_price": 40.0,
    }


def embedding_model(upstream_id: str = "embed", model_id: str = "test/embed") -> dict[str, Any]:
    return {
        "id": model_id,
        "upstream_id": upstream_id,
        "output_modalities": ["embeddings"],
        "prompt_price": 0.1,
    }


def usage_rows(gw: RunningGateway, route: str) -> list[dict[str, Any]]:
    """The usage rows of ``route``, once the recorder has flushed them."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = [r for r in gw.state.store.usage_rows() if r["route"] == route]
        if rows:
            return rows
        time.sleep(0.05)
    return []


__all__ = ["RETAINING_POLICY", "embedding_model", "image_model", "media_provider", "usage_rows"]
