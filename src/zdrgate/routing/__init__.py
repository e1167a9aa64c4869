"""Ordering approved endpoints, and remembering how each endpoint behaved lately."""

from zdrgate.routing.health import HealthBoard
from zdrgate.routing.router import Preferences, order_approvals

__all__ = ["HealthBoard", "Preferences", "order_approvals"]
