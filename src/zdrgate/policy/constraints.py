"""What a request may add to the policy: only ever narrower, never wider.

Built from OpenRouter-compatible ``provider`` preferences by the service layer.
``zdr = false`` or ``data_collection = "allow"`` loosen nothing: zdrgate's floor is
already ZDR-only, so those values are accepted and have no effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Constraints:
    only: frozenset[str] | None = None  # provider ids (lower case)
    ignore: frozenset[str] = frozenset()
    max_prompt_price: float | None = None  # USD per million tokens
    max_completion_price: float | None = None
    max_image_price: float | None = None
    needs: frozenset[str] = field(default_factory=frozenset)  # capabilities
    output_modality: str = "text"
    region: str | None = None  # only endpoints the catalog places in this region

    def provider_allowed(self, provider_id: str, provider_name: str) -> bool:
        names = {provider_id.lower(), provider_name.lower()}
        if self.only is not None and not names & self.only:
            return False
        return not names & self.ignore


NO_CONSTRAINTS = Constraints()
