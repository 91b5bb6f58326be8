"""tracking: metric rollups, so a chart of a long history reads blocks, not points

Revision ID: 0014_metric_rollups
Revises: 0013_server_accounts
Create Date: 2026-12-07 23:30:00.000000

The rollups of the points already stored are computed here, in SQL, per level: each
block's count, NaN count, first and last step, and its lowest and highest point (the one
at the lowest step on a tie), as ingestion computes them for new points.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_metric_rollups"
down_revision = "0013_server_accounts"
branch_labels = None
depends_on = None

# The levels of loopml.tracking._charts.LEVELS when this revision was written.
_LEVELS = (6, 12, 18, 24)


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("nans", sa.BigInteger(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("low", sa.Float(precision=53), nullable=True),
        sa.Column("low_step", sa.BigInteger(), nullable=True),
        sa.Column("low_ts", sa.BigInteger(), nullable=True),
        sa.Column("high", sa.Float(precision=53), nullable=True),
        sa.Column("high_step", sa.BigInteger(), nullable=True),
        sa.Column("high_ts", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "key", "level", "block", name=op.f("pk_metric_rollups")),
    )
    for level in _LEVELS:
        op.execute(_backfill(level))


def _backfill(level: int) -> str:
    def extreme(order: str) -> str:
        return (
            'SELECT run_id, key, block, value, step, "timestamp" AS ts FROM ('
            f'SELECT run_id, key, step >> {level} AS block, value, step, "timestamp", '
            f"ROW_NUMBER() OVER (PARTITION BY run_id, key, step >> {level} "
            f'ORDER BY value {order}, step, "timestamp") AS pick '
            "FROM metrics WHERE NOT is_nan) ranked WHERE pick = 1"
        )

    return (
        "INSERT INTO metric_rollups (run_id, key, level, block, points, nans, first_step, "
        "last_step, low, low_step, low_ts, high, high_step, high_ts) "
        f"SELECT a.run_id, a.key, {level}, a.block, a.points, a.nans, a.first_step, "
        "a.last_step, lo.value, lo.step, lo.ts, hi.value, hi.step, hi.ts FROM ("
        f"SELECT run_id, key, step >> {level} AS block, count(*) AS points, "
        "sum(CASE WHEN is_nan THEN 1 ELSE 0 END) AS nans, min(step) AS first_step, "
        f"max(step) AS last_step FROM metrics GROUP BY run_id, key, step >> {level}) a "
        f"LEFT JOIN ({extreme('ASC')}) lo "
        "ON lo.run_id = a.run_id AND lo.key = a.key AND lo.block = a.block "
        f"LEFT JOIN ({extreme('DESC')}) hi "
        "ON hi.run_id = a.run_id AND hi.key = a.key AND hi.block = a.block"
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
