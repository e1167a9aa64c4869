"""The body of ``POST /v1/receipts/verify``."""

from __future__ import annotations

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field


class VerifyRequest(BaseModel):
    """A receipt and, optionally, the request and response bodies it covers (base64).

    The gateway hashes the bodies, compares, and drops them; it keeps nothing.
    """

    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(min_length=1)
    request: Base64Bytes | None = None
    response: Base64Bytes | None = None
