"""Metric charts (at most max_points points, spikes kept) and streaming one artifact file out
of a run."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError
from loopml.tracking import Metric, TrackingClient
from loopml.tracking._charts import thin


def _points(values: list[float]) -> list[Metric]:
    return [Metric("m", v, i, 1000 + i) for i, v in enumerate(values)]


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=300),
    st.integers(1, 50),
)
def test_never_more_points_than_asked_and_always_in_order(
    values: list[float], max_points: int
) -> None:
    points = _points(values)
    kept = thin(points, max_points)
    assert len(kept) <= max_points
    assert [p.step for p in kept] == sorted({p.step for p in kept})
    if len(points) <= max_points:
        assert kept == points


def test_a_spike_survives_downsampling() -> None:
    values = [1.0] * 10_000
    values[4321] = 500.0
    values[8000] = -300.0
    kept = thin(_points(values), 20)
    assert len(kept) <= 20
    assert 500.0 in [p.value for p in kept]
    assert -300.0 in [p.value for p in kept]
    assert {p.step for p in kept} >= {4321, 8000}


def test_a_cut_history_leaves_its_nan_points_out() -> None:
    kept = thin(_points([math.nan] * 4 + [1.0, 2.0, 3.0, 4.0]), 4)
    assert [p.step for p in kept] == [4, 7]
    assert [p.value for p in kept] == [1.0, 4.0]
    whole = thin(_points([math.nan, 1.0]), 4)
    assert math.isnan(whole[0].value)  # a history that is not cut keeps them


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "10"])
def test_a_bad_max_points_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="max_points"):
        thin(_points([1.0, 2.0]), bad)  # type: ignore[arg-type]


def test_the_client_downsamples_a_stored_history(client: TrackingClient) -> None:
    run = client.create_run("sampling")
    client.log_batch(run.id, [("loss", float(i % 7), i, 1000 + i) for i in range(1000)])
    client.log_metric(run.id, "loss", 99.0, step=555)
    full = client.get_metric_history(run.id, "loss")
    assert len(full) == 1001
    thin = client.get_metric_history(run.id, "loss", max_points=50)
    assert 0 < len(thin) <= 50
    assert 99.0 in [p.value for p in thin]
    with pytest.raises(InvalidInputError):
        client.get_metric_history(run.id, "loss", max_points=0)


def test_one_artifact_file_is_opened_as_a_verified_stream(client: TrackingClient) -> None:
    run = client.create_run("sampling")
    client.run_artifacts.log_bytes(run.id, b"hello " * 1000, "notes/a.txt")
    entry, stream = client.run_artifacts.open_file(run.id, "./notes/a.txt")
    with stream:
        assert stream.read() == b"hello " * 1000
    assert (entry.path, entry.size, entry.is_dir) == ("notes/a.txt", 6000, False)
    with pytest.raises(NotFoundError):
        client.run_artifacts.open_file(run.id, "notes")  # a folder is not a file
    with pytest.raises(UnsafePathError):
        client.run_artifacts.open_file(run.id, "../a.txt")
