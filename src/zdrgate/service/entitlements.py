"""What the caller's key allows, applied to a request's plan before any policy decision.

Usage (``Gateway.plan_for`` does this for every model-serving request)::

    constraints = entitled(principal, models, constraints)   # 403, or narrower constraints

- a key with a model allowlist may name only those models (the request's model and
  every ``models`` fallback): anything else is a 403 naming the model;
- a key with a region reaches only endpoints the catalog places in that region
  (an endpoint with no region is not in any);
- a key without images may not generate images (``/v1/images``, chat ``modalities``).

Like the request's own preferences, these only ever narrow the policy.
"""

from __future__ import annotations

import dataclasses

from zdrgate.accounts.keys import Principal
from zdrgate.errors import PermissionDenied
from zdrgate.policy import Constraints


def entitled(principal: Principal, models: list[str], constraints: Constraints) -> Constraints:
    if principal.models is not None:
        for model in models:
            if model not in principal.models:
                raise PermissionDenied(
                    f"This API key may not use the model '{model}'; its model allowlist "
                    "does not include it.",
                    param="model",
                    code="model_not_allowed",
                )
    if constraints.output_modality == "image" and not principal.images_allowed:
        raise PermissionDenied(
            "This API key may not generate images.", param="model", code="images_not_allowed"
        )
    if principal.region is not None:
        return dataclasses.replace(constraints, region=principal.region)
    return constraints
