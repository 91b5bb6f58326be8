"""Reference sketches: what they keep, how they are calibrated, how they are read back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.data.sketch import SKETCH_VERSION, ReferenceSketch, sketch_table
from loopml.errors import InvalidInputError


@pytest.fixture(scope="module")
def mixed() -> pa.Table:
    rng = np.random.default_rng(7)
    n = 5000
    values = rng.normal(10, 2, n)
    values[::50] = np.nan
    return pa.table(
        {
            "x": values,
            "n": rng.integers(0, 5, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            "flag": rng.random(n) < 0.2,
            "when": pa.array([dt.datetime(2024, 1, 1)] * n),
        }
    )


@pytest.fixture(scope="module")
def sketch(mixed: pa.Table) -> ReferenceSketch:
    return sketch_table(mixed)


def test_numbers_keep_quantiles_moments_deciles_and_missing(
    mixed: pa.Table, sketch: ReferenceSketch
) -> None:
    x = sketch.columns["x"]
    raw = mixed.column("x").to_numpy()
    finite = raw[np.isfinite(raw)]
    assert (x.kind, x.count, x.missing) == ("numeric", finite.size, 100)
    assert len(x.quantiles) == 1001
    assert x.quantiles[0] == finite.min()
    assert x.quantiles[-1] == finite.max()
    assert x.quantiles[500] == pytest.approx(np.median(finite))
    assert (x.mean, x.std) == (pytest.approx(finite.mean()), pytest.approx(finite.std()))
    assert sum(x.deciles["counts"]) == finite.size
    assert len(x.histogram["edges"]) == 21
    assert sum(x.histogram["counts"]) == finite.size


def test_categories_bools_and_skipped_types(sketch: ReferenceSketch) -> None:
    assert set(sketch.columns) == {"x", "n", "plan", "flag"}  # the timestamp is left out
    plan, flag = sketch.columns["plan"], sketch.columns["flag"]
    assert plan.kind == "categorical"
    assert list(plan.categories) == ["basic", "pro", "team"]
    assert set(flag.categories) == {"true", "false"}
    assert plan.quantiles == ()
    assert plan.minimum is None


def test_few_values_keep_their_sorted_values_as_quantiles() -> None:
    sketch = sketch_table(pa.table({"x": [3.0, 1.0, 2.0]}))
    assert sketch.columns["x"].quantiles == (1.0, 2.0, 3.0)


def test_a_column_without_values_is_kept_with_count_zero() -> None:
    sketch = sketch_table(pa.table({"x": pa.array([None, None], pa.float64())}))
    assert (sketch.columns["x"].count, sketch.columns["x"].missing) == (0, 2)


def test_rare_categories_beyond_the_limit_are_summed_as_other() -> None:
    values = ["a"] * 5 + ["b"] * 3 + ["c", "d"]
    column = sketch_table(pa.table({"c": values}), category_limit=2).columns["c"]
    assert column.categories == {"a": 5, "b": 3}
    assert column.other == 2


def test_calibration_over_chunks(sketch: ReferenceSketch) -> None:
    assert (sketch.chunks, sketch.chunk_rows) == (20, 250)
    x = sketch.columns["x"].calibration
    assert set(x) == {"ks", "wasserstein", "psi", "js"}
    assert set(sketch.columns["plan"].calibration) == {"js", "psi", "chi2"}
    for figures in x.values():
        assert figures["threshold"] == pytest.approx(figures["mean"] + 3 * figures["std"])
        assert figures["mean"] > 0


def test_chunks_shrink_to_keep_100_rows_and_small_references_are_not_calibrated() -> None:
    rng = np.random.default_rng(0)
    shrunk = sketch_table(pa.table({"x": rng.normal(size=450)}))
    assert (shrunk.chunks, shrunk.chunk_rows) == (4, 112)
    small = sketch_table(pa.table({"x": rng.normal(size=199)}))
    assert (small.chunks, small.columns["x"].calibration) == (0, {})


def test_pandas_frames_are_sketched_like_arrow_tables(mixed: pa.Table) -> None:
    frame = mixed.select(["x", "plan"]).to_pandas()
    assert sketch_table(frame) == sketch_table(mixed.select(["x", "plan"]))
    assert isinstance(frame, pd.DataFrame)


def test_bytes_round_trip(sketch: ReferenceSketch) -> None:
    data = sketch.to_bytes()
    assert ReferenceSketch.from_bytes(data, "ref.json") == sketch
    assert len(data) < 30_000 * len(sketch.columns)  # KBs per column


def test_options_are_checked() -> None:
    table = pa.table({"x": [1.0]})
    with pytest.raises(InvalidInputError, match="quantiles"):
        sketch_table(table, quantiles=0)
    with pytest.raises(InvalidInputError, match=r"columns \['y'\]"):
        sketch_table(table, columns=["y"])


def _broken(sketch: ReferenceSketch, change: Any) -> bytes:
    data = json.loads(sketch.to_bytes())
    change(data)
    return json.dumps(data).encode()


def _set(path: list[str], value: Any) -> Any:
    def change(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return change


BAD = {
    "version": (_set(["version"], SKETCH_VERSION + 1), "version 2"),
    "missing key": (lambda d: d.pop("chunks"), "missing keys chunks"),
    "column key": (lambda d: d["columns"]["x"].pop("quantiles"), "missing keys quantiles"),
    "unknown key": (_set(["extra"], 1), "unknown keys extra"),
    "nan quantile": (_set(["columns", "x", "quantiles", 3], float("nan")), "finite number"),
    "decreasing": (_set(["columns", "x", "quantiles", 3], -1e9), "must not decrease"),
    "wrong type": (_set(["columns", "x", "count"], "many"), "whole number"),
    "bool count": (_set(["row_count"], True), "whole number"),
    "kind": (_set(["columns", "x", "kind"], "text"), "not numeric or categorical"),
    "huge": (_set(["columns", "x", "quantiles"], list(range(200_000))), "at most"),
    "categories": (_set(["columns", "plan", "categories"], ["a"]), "must map"),
    "histogram": (_set(["columns", "x", "histogram", "counts"], [1]), "do not fit"),
    "name": (_set(["columns", "x", "name"], "y"), "is named 'y'"),
    "calibration": (_set(["columns", "x", "calibration", "ks"], {"mean": 1}), "missing keys"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_crafted_bad_sketch_is_refused_naming_the_source(
    sketch: ReferenceSketch, case: str
) -> None:
    change, message = BAD[case]
    with pytest.raises(InvalidInputError, match=r"reference sketch bad\.json") as caught:
        ReferenceSketch.from_bytes(_broken(sketch, change), "bad.json")
    assert message in str(caught.value)


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"bad\.json is not JSON"):
        ReferenceSketch.from_bytes(b"\x00{", "bad.json")
    with pytest.raises(InvalidInputError, match="not a JSON object"):
        ReferenceSketch.from_bytes(b"[1, 2]", "bad.json")


def test_distribution_for_pictures(sketch: ReferenceSketch) -> None:
    numeric = sketch.distribution("x", np.array([10.0, 11.0, 100.0]))
    assert numeric["kind"] == "numeric"
    assert sum(numeric["current"]) == 3
    assert len(numeric["edges"]) == len(numeric["reference"]) + 1
    categorical = sketch.distribution("plan", ["pro", "new"])
    assert categorical["values"][-1] == "new"
    assert categorical["current"][-1] == 1
    with pytest.raises(InvalidInputError, match="no column 'y'"):
        sketch.distribution("y", [1])
