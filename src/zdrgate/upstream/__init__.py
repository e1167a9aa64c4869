"""Upstream dispatch: the only code in zdrgate that opens network connections.

It takes an :class:`~zdrgate.policy.Approval` and an adapter's
:class:`~zdrgate.protocols.UpstreamCall`, verifies the approval again, refuses any
URL whose origin is not the approved endpoint's, adds the provider's credentials and
sends. No redirects are followed and no proxy settings are read from the
environment.
"""

from zdrgate.upstream.dispatch import Dispatcher, UpstreamFailure, UpstreamResponse

__all__ = ["Dispatcher", "UpstreamFailure", "UpstreamResponse"]
