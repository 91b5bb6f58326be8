"""A metric history sampled in the database for charts: short ones whole, long ones cut
into step ranges that keep their extremes (SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import pytest

from loopml.errors import InvalidInputError, NotFoundError
from loopml.tracking import TrackingClient


def test_a_short_history_comes_back_whole(client: TrackingClient) -> None:
    run = client.create_run("sampled")
    client.log_batch(run.id, [("loss", v, s, 1000 + s) for s, v in enumerate([3.0, math.nan, 1.0])])
    total, points = client.sampled_metric_history(run.id, "loss", 10)
    assert total == 3
    assert [p.step for p in points] == [0, 1, 2]
    assert math.isnan(points[1].value)


def test_a_long_history_keeps_each_ranges_extremes(client: TrackingClient) -> None:
    run = client.create_run("sampled")
    values = [1.0 / (s + 1) for s in range(5000)]
    values[2345] = 7.0  # a spike
    values[4000] = -2.0  # a dip
    values[10] = math.nan
    client.log_batch(run.id, [("loss", v, s, 1000 + s) for s, v in enumerate(values)])
    total, points = client.sampled_metric_history(run.id, "loss", 200)
    assert total == 5000
    assert 100 <= len(points) <= 200
    kept = [p.value for p in points]
    assert max(kept) == 7.0
    assert min(kept) == -2.0
    assert not any(math.isnan(v) for v in kept)
    assert [p.step for p in points] == sorted(p.step for p in points)
    assert points[0].step == 0
    assert points[-1].step == 4999


def test_bad_asks_are_refused(client: TrackingClient) -> None:
    run = client.create_run("sampled")
    with pytest.raises(InvalidInputError, match="points"):
        client.sampled_metric_history(run.id, "loss", 0)
    with pytest.raises(NotFoundError):
        client.sampled_metric_history("nope", "loss", 10)
    assert client.sampled_metric_history(run.id, "never-logged", 10) == (0, [])
