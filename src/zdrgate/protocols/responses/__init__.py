"""The OpenAI Responses API: the inbound ``/v1/responses`` API zdrgate serves
(``inbound``), stateless (``store`` is always false)."""

from zdrgate.protocols.responses.inbound import INBOUND

__all__ = ["INBOUND"]
