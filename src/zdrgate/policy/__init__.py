"""The policy engine: the only place that decides whether an endpoint may be used.

Pure and default-deny. :class:`PolicyEngine` turns a model and the request's own
constraints into a :class:`Decision`: an :class:`Approval` per routable endpoint and a
:class:`Rejection` with reason codes for every other one. Only this package can
create an ``Approval``; the upstream dispatcher accepts nothing else and checks it
again with :func:`verify` before it opens a connection.
"""

from zdrgate.policy.approval import Approval, verify
from zdrgate.policy.constraints import Constraints
from zdrgate.policy.engine import Decision, PolicyEngine, Rejection
from zdrgate.policy.reasons import Reason, describe

__all__ = [
    "Approval",
    "Constraints",
    "Decision",
    "PolicyEngine",
    "Reason",
    "Rejection",
    "describe",
    "verify",
]
