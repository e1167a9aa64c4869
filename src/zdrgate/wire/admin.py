"""Request bodies of the admin API (``/v1/admin/...``) and of the own-key routes.

Unknown fields are refused with a 400 naming them; on PATCH, only the fields sent are
changed, and ``null`` lifts a limit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from zdrgate.wire.chat import ProviderPreferences

# Bounded to what the columns hold (a 32-bit INTEGER, a finite float): a larger value
# is a 400, not an overflow in the database driver (found by the schemathesis run).
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Usd = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Name = Annotated[str, Field(max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Limits(_Strict):
    rpm: Count | None = None
    tpm: Count | None = None
    budget_day_usd: Usd | None = None
    budget_month_usd: Usd | None = None


class AccountCreate(_Strict):
    email: str = Field(min_length=3, max_length=320)
    role: Literal["admin", "member"] = "member"
    team: str | None = None
    """A team's id or name; the account becomes a member."""
    display_name: Name = ""


class AccountPatch(_Limits):
    role: Literal["admin", "member"] | None = None
    display_name: Name | None = None


class TeamCreate(_Limits):
    name: Annotated[str, Field(min_length=1, max_length=128)]


class TeamPatch(_Limits):
    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class _KeyRules(_Limits):
    models: Annotated[list[str], Field(min_length=1)] | None = None
    """Model ids the key may use; null: every model."""
    region: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    images_allowed: bool = True
    provider: ProviderPreferences | None = None
    """Default ``provider`` preferences for the key's requests."""
    expires_at: dt.datetime | None = None


class KeyCreate(_KeyRules):
    name: Name = ""
    account: str | None = None
    """The owner's id or email; null: an operator key."""
    team: str | None = None
    is_admin: bool = False


class OwnKeyCreate(_KeyRules):
    """A key people make for themselves: owned by their account, never an admin key
    unless the account is an admin; its limits add to the account's, never lift them."""

    name: Name = ""
    team: str | None = None


class KeyPatch(_KeyRules):
    name: Name | None = None
