"""Sessions opened with an API key: ``sessions.key_id``; ``account_id`` may be empty.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("key_id", sa.String(32), nullable=True))
        batch.alter_column("account_id", existing_type=sa.String(32), nullable=True)
        batch.create_index("ix_sessions_key_id", ["key_id"])


def downgrade() -> None:
    op.execute("DELETE FROM sessions WHERE account_id IS NULL")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_key_id")
        batch.alter_column("account_id", existing_type=sa.String(32), nullable=False)
        batch.drop_column("key_id")
