"""Metric rollups: a chart drawn from the blocks kept at ingestion is the chart of the raw
points, whatever the order, batching and NaN of the points, on SQLite and PostgreSQL; and
the migration computes the same blocks for points stored before it."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loopml.store.migrations as migrations
from loopml.tracking import Metric, TrackingClient, _charts
from loopml.tracking._charts import Candidates, rollups, thin, thin_candidates


def _chart_from_rollups(points: list[Metric], level: int, max_points: int) -> list[Metric]:
    rows = rollups([("r", "m", p.value, p.step, p.timestamp) for p in points])
    mine = [r for r in rows if r[2] == level and r[8] is not None]
    candidates = Candidates.of_rows([r[8:] for r in mine])
    first, last = min(p.step for p in points), max(p.step for p in points)
    return thin_candidates("m", candidates, first, last, max_points)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**40), 2**40),
            st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)),
        ),
        min_size=1,
        max_size=400,
    ),
    st.integers(1, 60),
)
def test_a_chart_from_any_fitting_level_is_the_chart_of_the_raw_points(
    raw: list[tuple[int, float]], max_points: int
) -> None:
    by_step = dict(raw)  # one point per step: ties are moot
    points = [Metric("m", v, s, 1000 + i) for i, (s, v) in enumerate(sorted(by_step.items()))]
    expected = thin(points, max_points)
    if len(points) <= max_points:
        return
    shift = _charts.range_shift(points[0].step, points[-1].step, max_points)
    for level in (lv for lv in _charts.LEVELS if lv <= shift):
        assert _chart_from_rollups(points, level, max_points) == expected


def test_rollup_counts_and_extremes_of_a_block() -> None:
    points = [("r", "m", 5.0, 1, 10), ("r", "m", math.nan, 2, 11), ("r", "m", -1.0, 70, 12)]
    rows = {(r[2], r[3]): r for r in rollups(points)}
    assert rows[(6, 0)][4:] == (2, 1, 1, 2, 5.0, 1, 10, 5.0, 1, 10)
    assert rows[(6, 1)][4:] == (1, 0, 70, 70, -1.0, 70, 12, -1.0, 70, 12)
    assert rows[(12, 0)][4:] == (3, 1, 1, 70, -1.0, 70, 12, 5.0, 1, 10)
    only_nan = rollups([("r", "m", math.nan, 3, 1)])
    assert only_nan[0][4:] == (1, 1, 3, 3, None, None, None, None, None, None)


def _log_shuffled(client: TrackingClient, run_id: str, values: list[float]) -> None:
    order = list(range(len(values)))
    random.Random(7).shuffle(order)
    for start in range(0, len(order), 9_000):  # batches that straddle blocks, out of order
        part = order[start : start + 9_000]
        client.log_batch(run_id, [("loss", values[i], i * 3, 5000 + i) for i in part])
        client.flush()


def test_a_long_history_is_charted_from_its_rollups(client: TrackingClient) -> None:
    rng = random.Random(3)
    values = [rng.random() for _ in range(60_000)]
    values[12_345], values[54_321], values[100] = 9.0, -9.0, math.nan
    run = client.create_run("rollups")
    _log_shuffled(client, run.id, values)
    full = client.get_metric_history(run.id, "loss")
    for max_points in (2000, 300, 2):
        total, chart = client.sampled_metric_history(run.id, "loss", max_points)
        assert total == 60_000
        assert chart == thin(full, max_points)
        assert {9.0, -9.0} <= {p.value for p in chart}
    # The rollups hold every point once, though they came in 7 out-of-order batches.
    with client.store.read() as conn:
        counts = conn.execute(
            sa.text(
                "SELECT level, sum(points), sum(nans) FROM metric_rollups "
                "WHERE run_id = :r GROUP BY level"
            ),
            {"r": run.id},
        ).all()
    assert sorted(counts) == [(level, 60_000, 1) for level in _charts.LEVELS]


def _alembic(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["connection"] = conn
    return config


def test_the_migration_computes_the_rollups_ingestion_keeps(client: TrackingClient) -> None:
    rng = random.Random(5)
    values = [rng.choice([rng.random(), 0.5, math.nan]) for _ in range(25_000)]
    run = client.create_run("rollups")
    _log_shuffled(client, run.id, values)
    query = sa.text(
        "SELECT level, block, points, nans, first_step, last_step, low, low_step, low_ts, "
        "high, high_step, high_ts FROM metric_rollups WHERE run_id = :r ORDER BY level, block"
    )
    with client.store.read() as conn:
        kept = conn.execute(query, {"r": run.id}).all()
    with client.store.engine.connect() as conn:
        command.downgrade(_alembic(conn), "0013_server_accounts")
        conn.commit()
        command.upgrade(_alembic(conn), "head")
        conn.commit()
        rebuilt = conn.execute(query, {"r": run.id}).all()
    assert len(kept) > 400
    assert rebuilt == kept


@pytest.mark.parametrize("max_points", [1, 2, 2000])
def test_a_history_of_nan_only_or_one_point(client: TrackingClient, max_points: int) -> None:
    run = client.create_run("rollups")
    client.log_batch(run.id, [("nan", math.nan, s, 1) for s in range(30_000)])
    client.log_metric(run.id, "one", 4.0, step=-7)
    assert client.sampled_metric_history(run.id, "nan", max_points) == (30_000, [])
    total, chart = client.sampled_metric_history(run.id, "one", max_points)
    assert (total, [(p.value, p.step) for p in chart]) == (1, [(4.0, -7)])
