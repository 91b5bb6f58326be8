"""monitoring: delayed labels (feedback), one per deployment and request id

Revision ID: 0010_feedback
Revises: 0009_deployments
Create Date: 2026-12-07 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_feedback"
down_revision = "0009_deployments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("deployment", sa.String(length=250), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("writes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "request_id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_deployment_time_ms"), "feedback", ["deployment", "time_ms"])


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_deployment_time_ms"), table_name="feedback")
    op.drop_table("feedback")
