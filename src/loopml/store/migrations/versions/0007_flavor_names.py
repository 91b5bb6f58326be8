"""model versions: room for a third-party flavor's dotted class name

Revision ID: 0007_flavor_names
Revises: 0006_evaluation_figures
Create Date: 2026-12-07 04:30:00.000000

``model_versions.flavor`` held 32 characters: enough for the built-in names, not for
``py:company.ml.flavors.CustomFlavor``. It now holds 255.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_flavor_names"
down_revision = "0006_evaluation_figures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.alter_column(
            "flavor", existing_type=sa.String(32), type_=sa.String(255), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.alter_column(
            "flavor", existing_type=sa.String(255), type_=sa.String(32), existing_nullable=False
        )
