"""serving: deployments, their revisions and the versions they served

Revision ID: 0009_deployments
Revises: 0008_payload_log
Create Date: 2026-12-07 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_deployments"
down_revision = "0008_payload_log"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("payload_log", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployments")),
    )
    op.create_index(op.f("ix_deployments_model"), "deployments", ["model"])
    op.create_table(
        "deployment_revisions",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("payload_log", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", "revision", name=op.f("pk_deployment_revisions")),
    )
    op.create_table(
        "deployment_served",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=False),
        sa.Column("target", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_served")),
    )
    op.create_index(
        op.f("ix_deployment_served_deployment_target_ended_at"),
        "deployment_served",
        ["deployment", "target", "ended_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_deployment_served_deployment_target_ended_at"), table_name="deployment_served"
    )
    op.drop_table("deployment_served")
    op.drop_table("deployment_revisions")
    op.drop_index(op.f("ix_deployments_model"), table_name="deployments")
    op.drop_table("deployments")
