"""evaluations: notes and figures

Revision ID: 0006_evaluation_figures
Revises: 0005_experiment_tags
Create Date: 2026-12-07 03:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_evaluation_figures"
down_revision = "0005_experiment_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_evaluations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("figures", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_evaluations", schema=None) as batch_op:
        batch_op.drop_column("figures")
        batch_op.drop_column("notes")
