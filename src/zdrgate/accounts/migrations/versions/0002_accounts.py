"""Accounts, teams, invites, sessions, passkeys, the admin audit log; keys and usage
rows gain their owner, limits and budgets.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _limit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("tpm", sa.Integer, nullable=True),
        sa.Column("budget_day_usd", sa.Float, nullable=True),
        sa.Column("budget_month_usd", sa.Float, nullable=True),
    ]


def upgrade() -> None:
    _people()
    _sign_in()
    _keys_and_usage()
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_admin_audit_target", "admin_audit", ["target"])


def _people() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        *_limit_columns(),
        sa.UniqueConstraint("email", name="uq_accounts_email"),
        sa.CheckConstraint("role in ('admin', 'member')", name="ck_accounts_role"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        *_limit_columns(),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    op.create_table(
        "team_memberships",
        sa.Column("team_id", sa.String(32), sa.ForeignKey("teams.id"), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_team_memberships_account_id", "team_memberships", ["account_id"])


def _sign_in() -> None:
    op.create_table(
        "invites",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(32), sa.ForeignKey("teams.id"), nullable=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
    )
    op.create_index("ix_invites_account_id", "invites", ["account_id"])
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_index("ix_sessions_account_id", "sessions", ["account_id"])
    op.create_table(
        "passkey_credentials",
        sa.Column("credential_id", sa.String(1400), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("sign_count", sa.Integer, nullable=False),
        sa.Column("transports", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ, nullable=True),
    )
    op.create_index("ix_passkey_credentials_account_id", "passkey_credentials", ["account_id"])


def _keys_and_usage() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("account_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("team_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("expires_at", TZ, nullable=True))
        batch.add_column(sa.Column("last_used_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("models", sa.Text, nullable=True))
        batch.add_column(sa.Column("region", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("images_allowed", sa.Boolean, nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("provider_prefs", sa.Text, nullable=True))
        for column in _limit_columns():
            batch.add_column(column)
        batch.create_foreign_key("fk_api_keys_account_id", "accounts", ["account_id"], ["id"])
        batch.create_foreign_key("fk_api_keys_team_id", "teams", ["team_id"], ["id"])
        batch.create_index("ix_api_keys_account_id", ["account_id"])
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("account_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("team_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("images", sa.Integer, nullable=False, server_default="0"))
        batch.create_index("ix_usage_account_id", ["account_id"])
