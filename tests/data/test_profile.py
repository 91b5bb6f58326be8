"""``profile_table``: the statistics validation and drift read, as strict JSON."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data._tables import frame_to_table
from loopml.data.profile import HISTOGRAM_BINS, QUANTILES, TOP_VALUES, profile_table

QUANTILE_KEYS = ["0", "0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99", "1"]


def strict_json(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


def test_numeric_statistics_match_numpy() -> None:
    values = np.arange(1, 101, dtype="float64")
    stats = profile_table(pa.table({"x": values}))["columns"]["x"]
    assert stats["kind"] == "numeric"
    assert (stats["min"], stats["max"]) == (1.0, 100.0)
    assert stats["mean"] == pytest.approx(50.5)
    assert stats["std"] == pytest.approx(np.std(values, ddof=1))
    assert list(stats["quantiles"]) == QUANTILE_KEYS
    assert stats["quantiles"]["0.5"] == pytest.approx(50.5)
    assert stats["quantiles"]["0.25"] == pytest.approx(np.quantile(values, 0.25))
    assert len(stats["histogram"]["edges"]) == HISTOGRAM_BINS + 1
    assert stats["histogram"]["counts"] == [5] * 20
    assert stats["distinct"] == 100


def test_integers_keep_exact_min_and_max() -> None:
    stats = profile_table(pa.table({"n": [2**62 + 1, 3, None]}))["columns"]["n"]
    assert (stats["min"], stats["max"]) == (3, 2**62 + 1)
    assert stats["nulls"] == 1
    assert stats["null_fraction"] == pytest.approx(1 / 3)


def test_nan_and_infinity_are_counted_not_averaged() -> None:
    table = pa.table({"f": pa.array([1.0, float("nan"), float("inf"), -float("inf"), None, 3.0])})
    stats = profile_table(table)["columns"]["f"]
    assert (stats["nulls"], stats["nan_count"], stats["inf_count"]) == (1, 1, 2)
    assert (stats["min"], stats["max"], stats["mean"]) == (1.0, 3.0, 2.0)
    assert sum(stats["histogram"]["counts"]) == 2
    strict_json(stats)


def test_pandas_nan_is_missing() -> None:
    table = frame_to_table(pd.DataFrame({"f": [1.0, np.nan]}))
    stats = profile_table(table)["columns"]["f"]
    assert (stats["nulls"], stats["nan_count"]) == (1, 0)


def test_a_column_without_finite_values_has_no_statistics() -> None:
    stats = profile_table(pa.table({"f": [float("nan"), None]}))["columns"]["f"]
    assert stats["min"] is stats["quantiles"] is stats["histogram"] is None
    strict_json(stats)


def test_strings_categoricals_and_booleans_have_top_values() -> None:
    words = ["b"] * 3 + ["a"] * 3 + ["c"] + [None]
    table = pa.table(
        {
            "s": words,
            "c": pa.array(words).dictionary_encode(),
            "b": [True, True, False, None, True, False, True, True],
        }
    )
    columns = profile_table(table)["columns"]
    expected = [{"value": "a", "count": 3}, {"value": "b", "count": 3}, {"value": "c", "count": 1}]
    assert columns["s"]["top"] == expected  # most frequent first, ties by value
    assert columns["c"]["top"] == expected
    assert (columns["c"]["kind"], columns["c"]["type"]) == ("string", "dictionary<string>")
    assert columns["b"]["top"] == [{"value": True, "count": 5}, {"value": False, "count": 2}]
    assert columns["s"]["distinct"] == 3


def test_top_values_are_capped() -> None:
    stats = profile_table(pa.table({"s": [f"v{i}" for i in range(200)]}))["columns"]["s"]
    assert len(stats["top"]) == TOP_VALUES
    assert stats["distinct"] == 200


def test_timestamps_and_dates_have_iso_ranges() -> None:
    table = pa.table(
        {
            "t": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5), None, dt.datetime(2023, 5, 6)]),
            "d": pa.array([dt.date(2020, 1, 1), dt.date(2021, 2, 3)]).take([0, 1, 1]),
        }
    )
    columns = profile_table(table)["columns"]
    assert (columns["t"]["min"], columns["t"]["max"]) == (
        "2023-05-06T00:00:00", "2024-01-02T03:04:05",
    )  # fmt: skip
    assert (columns["d"]["kind"], columns["d"]["min"]) == ("temporal", "2020-01-01")


def test_other_types_and_empty_tables_are_described() -> None:
    table = pa.table({"l": [[1, 2], None], "n": pa.nulls(2), "b": [b"\x00", b"\x01"]})
    columns = strict_json(profile_table(table))["columns"]  # type: ignore[index]
    assert columns["l"]["kind"] == "other"
    assert columns["l"]["nulls"] == 1
    assert columns["n"]["nulls"] == 2
    empty = profile_table(pa.table({"x": pa.array([], pa.int64())}))
    assert empty["row_count"] == 0
    assert empty["columns"]["x"]["null_fraction"] == 0.0
    assert empty["columns"]["x"]["mean"] is None


floats = st.one_of(
    st.none(),
    st.floats(min_value=-1e300, max_value=1e300),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(floats, max_size=60))
def test_profile_invariants_on_random_floats(values: list[float | None]) -> None:
    stats = profile_table(pa.table({"x": pa.array(values, pa.float64())}))["columns"]["x"]
    strict_json(stats)
    finite = [v for v in values if v is not None and math.isfinite(v)]
    assert stats["nulls"] == sum(v is None for v in values)
    assert stats["nan_count"] == sum(v is not None and math.isnan(v) for v in values)
    assert stats["nulls"] + stats["nan_count"] + stats["inf_count"] + len(finite) == len(values)
    if not finite:
        assert stats["min"] is None
        return
    low, high = stats["min"], stats["max"]
    assert (low, high) == (min(finite), max(finite))
    quantiles = [stats["quantiles"][key] for key in QUANTILE_KEYS]
    assert quantiles[0] == low
    assert quantiles[-1] == high
    assert all(low <= q <= high for q in quantiles)
    assert quantiles == sorted(quantiles)
    assert low <= stats["mean"] <= high or stats["mean"] == pytest.approx(low)
    if stats["histogram"] is not None:
        assert sum(stats["histogram"]["counts"]) == len(finite)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=-(2**53), max_value=2**53) | st.none(), max_size=60))
def test_profile_invariants_on_random_integers(values: list[int | None]) -> None:
    stats = profile_table(pa.table({"x": pa.array(values, pa.int64())}))["columns"]["x"]
    present = [v for v in values if v is not None]
    assert stats["nulls"] == len(values) - len(present)
    assert stats["distinct"] == len(set(present))
    if present:
        assert (stats["min"], stats["max"]) == (min(present), max(present))
        assert all(stats["min"] <= stats["quantiles"][k] <= stats["max"] for k in QUANTILE_KEYS)
        assert sum(stats["histogram"]["counts"]) == len(present)


def test_quantile_keys_are_the_documented_ones() -> None:
    assert [format(q, "g") for q in QUANTILES] == QUANTILE_KEYS
