"""Rate limits, budgets and failed-authentication limits over shared counters.

Public surface:

- :class:`Limiter`, :class:`Demand`, :class:`Ticket` — admit a request before any
  upstream call, settle its actual usage after;
- :class:`CounterAuthFailures` — failed authentications per client address, shared
  through the counters (the authenticator's seam on several instances);
- :class:`MemoryCounters` (one instance), ``RedisCounters`` (several; import
  :mod:`zdrgate.limits.redis_counters`, which needs the ``redis`` package) and the
  :class:`Counters` protocol between them.
"""

from zdrgate.limits.auth_failures import CounterAuthFailures
from zdrgate.limits.counters import Counters, StoreUnavailable
from zdrgate.limits.limiter import NO_DEMAND, NO_TICKET, Demand, Limiter, Ticket
from zdrgate.limits.memory import MemoryCounters

__all__ = [
    "NO_DEMAND",
    "NO_TICKET",
    "CounterAuthFailures",
    "Counters",
    "Demand",
    "Limiter",
    "MemoryCounters",
    "StoreUnavailable",
    "Ticket",
]
