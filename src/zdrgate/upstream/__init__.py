"""Upstream dispatch: the only code in zdrgate that opens network connections.

It takes an :class:`~zdrgate.policy.Approval` and a protocol codec's
:class:`~zdrgate.protocols.UpstreamCall`, verifies the approval again, refuses any
URL whose origin is not the approved endpoint's, adds the provider's credentials and
sends through a :class:`~zdrgate.upstream.transport.Transport`. No redirects are
followed and no proxy settings are read from the environment (an egress proxy is a
setting, ``upstream.egress_proxy``).
"""

from zdrgate.upstream.dispatch import Dispatcher
from zdrgate.upstream.transport import Transport, UpstreamFailure, UpstreamResponse

__all__ = ["Dispatcher", "Transport", "UpstreamFailure", "UpstreamResponse"]
