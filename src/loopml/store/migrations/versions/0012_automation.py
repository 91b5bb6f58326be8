"""automation: policies, rollout plans, trigger requests, cursors and the agent's lease

Revision ID: 0012_automation
Revises: 0011_monitors
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_automation"
down_revision = "0011_monitors"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "automation_policies",
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=True),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("model", name=op.f("pk_automation_policies")),
    )
    op.create_index(op.f("ix_automation_policies_pipeline"), "automation_policies", ["pipeline"])
    op.create_index(
        op.f("ix_automation_policies_deployment"), "automation_policies", ["deployment"]
    )
    op.create_table(
        "automation_plans",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=True),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("pipeline_run_id", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_plans")),
        sa.UniqueConstraint("key", name=op.f("uq_automation_plans_key")),
    )
    op.create_index(op.f("ix_automation_plans_state"), "automation_plans", ["state"])
    op.create_index(
        op.f("ix_automation_plans_model_created_at"), "automation_plans", ["model", "created_at"]
    )
    op.create_table(
        "automation_requests",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_requests")),
    )
    op.create_index(op.f("ix_automation_requests_plan_id"), "automation_requests", ["plan_id"])
    op.create_table(
        "automation_cursors",
        sa.Column("source", sa.String(length=250), nullable=False),
        sa.Column("position", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_automation_cursors")),
    )
    op.create_table(
        "automation_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=250), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_automation_lease")),
    )


def downgrade() -> None:
    op.drop_table("automation_lease")
    op.drop_table("automation_cursors")
    op.drop_index(op.f("ix_automation_requests_plan_id"), table_name="automation_requests")
    op.drop_table("automation_requests")
    op.drop_index(op.f("ix_automation_plans_model_created_at"), table_name="automation_plans")
    op.drop_index(op.f("ix_automation_plans_state"), table_name="automation_plans")
    op.drop_table("automation_plans")
    op.drop_index(op.f("ix_automation_policies_deployment"), table_name="automation_policies")
    op.drop_index(op.f("ix_automation_policies_pipeline"), table_name="automation_policies")
    op.drop_table("automation_policies")
