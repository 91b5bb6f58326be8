"""tracking: experiment tags

Revision ID: 0005_experiment_tags
Revises: 0004_registry
Create Date: 2026-12-07 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_experiment_tags"
down_revision = "0004_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_tags_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "key", name=op.f("pk_experiment_tags")),
    )


def downgrade() -> None:
    op.drop_table("experiment_tags")
