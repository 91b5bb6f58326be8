"""monitoring: the payload log's segment index

Revision ID: 0008_payload_log
Revises: 0007_flavor_names
Create Date: 2026-12-07 06:30:00.000000

One row per Parquet segment of logged predictions: its deployment, time range, rows,
blob digest, model versions, columns and the process that wrote it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_payload_log"
down_revision = "0007_flavor_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payload_segments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("prediction_count", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("writer", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payload_segments")),
    )
    with op.batch_alter_table("payload_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payload_segments_deployment_start_ms"),
            ["deployment", "start_ms"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_payload_segments_deployment_end_ms"),
            ["deployment", "end_ms"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("payload_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payload_segments_deployment_end_ms"))
        batch_op.drop_index(batch_op.f("ix_payload_segments_deployment_start_ms"))
    op.drop_table("payload_segments")
