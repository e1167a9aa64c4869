"""The policy transparency log: append-only, hash-chained, signed entries.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(128), nullable=False),
        sa.Column("endpoints", sa.Text, nullable=False),
        sa.Column("old_digest", sa.String(80), nullable=True),
        sa.Column("new_digest", sa.String(80), nullable=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("evidence_digest", sa.String(80), nullable=True),
        sa.Column("prev_hash", sa.String(80), nullable=False, unique=True),
        sa.Column("entry_hash", sa.String(80), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_log")
