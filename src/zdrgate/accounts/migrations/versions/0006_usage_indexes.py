"""Indexes for what reads ``usage`` by team and by time: a team's budget seed
(``limits.spent``: team and start of the window) and the usage reports and their
``since`` filter.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_usage_team_id", "usage", ["team_id"])
    op.create_index("ix_usage_started_at", "usage", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_started_at", "usage")
    op.drop_index("ix_usage_team_id", "usage")
