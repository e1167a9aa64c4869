"""Wire models: the OpenAI-shaped request types every route validates into.

The OpenAI chat shape is the canonical form in the middle of the gateway: inbound
APIs (OpenAI, Anthropic) translate into it, and outbound protocol packages translate it into
each upstream protocol.
"""
