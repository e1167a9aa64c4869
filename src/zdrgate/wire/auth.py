"""Request bodies of the sign-in routes (``server.auth_routes``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Strict):
    """``{"email", "password"}`` or ``{"api_key"}``."""

    email: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1024)
    api_key: str | None = Field(default=None, max_length=256)


class SignupRequest(_Strict):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(max_length=1024)
    invite: str | None = Field(default=None, max_length=128)
