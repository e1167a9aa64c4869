"""The one pipeline every model-serving route goes through.

request -> plan (policy decisions, routing order) -> attempts through the
adapters and the upstream dispatcher -> result, metered without content.
"""

from zdrgate.service.gateway import Gateway
from zdrgate.service.plan import Plan

__all__ = ["Gateway", "Plan"]
