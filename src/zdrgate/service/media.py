"""Planning image and embedding requests: the chat pipeline's plan, another modality.

The request's OpenRouter-style ``provider`` preferences narrow the policy exactly as
for chat; ``output_modality`` makes only endpoints that produce images (or
embeddings) eligible, so a text model never receives an image request.
"""

from __future__ import annotations

from zdrgate.policy import Constraints
from zdrgate.wire.chat import ProviderPreferences


def media_constraints(provider: ProviderPreferences | None, modality: str) -> Constraints:
    prefs = provider or ProviderPreferences()
    price = prefs.max_price
    return Constraints(
        only=frozenset(p.lower() for p in prefs.only) if prefs.only is not None else None,
        ignore=frozenset(p.lower() for p in prefs.ignore or ()),
        max_prompt_price=price.prompt if price else None,
        max_image_price=price.image if price else None,
        output_modality=modality,
    )
