"""Drift against a stored sketch: known shifts are found, stationary data stays quiet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.data.drift import DEFAULT_THRESHOLDS
from loopml.data.sketch import ReferenceSketch, TableDrift, drift_against, sketch_table
from loopml.errors import InvalidInputError

PLANS = ["basic", "pro", "team"]
WEIGHTS = [0.6, 0.3, 0.1]


def _data(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "y": rng.normal(5, 2, n),
            "z": rng.exponential(1, n),
            "plan": rng.choice(PLANS, n, p=WEIGHTS),
        }
    )


@pytest.fixture(scope="module")
def sketch() -> ReferenceSketch:
    return sketch_table(_data(np.random.default_rng(1), 40_000))


def _shifted(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = _data(rng, rows)
    frame["x"] = frame["x"] + 0.5  # mean shift of half a standard deviation
    frame["y"] = 5 + (frame["y"] - 5) * 2  # variance x4 (standard deviation x2)
    new = rng.random(rows) < 0.15
    frame.loc[new, "plan"] = "enterprise"  # a category the reference never had
    frame.loc[rng.random(rows) < 0.3, "z"] = np.nan  # missing values rising
    return frame


@pytest.mark.parametrize(
    ("rows", "numeric", "categorical"), [(500, "ks", "chi2"), (50_000, "wasserstein", "js")]
)
def test_known_shifts_are_detected(
    sketch: ReferenceSketch, rows: int, numeric: str, categorical: str
) -> None:
    result = drift_against(sketch, _shifted(rows, seed=2))
    by_name = {column.column: column for column in result.columns}
    assert {by_name[c].method for c in ("x", "y", "z")} == {numeric}
    assert by_name["plan"].method == categorical
    assert set(result.drifted_columns) == {"x", "y", "plan"}
    assert by_name["plan"].unseen == ("enterprise",)
    assert by_name["plan"].out_of_range_share == pytest.approx(0.15, abs=0.05)
    assert by_name["z"].missing_share == pytest.approx(0.3, abs=0.06)
    assert by_name["z"].reference_missing_share == 0.0
    assert by_name["z"].rows == rows - round(by_name["z"].missing_share * rows)
    assert result.drift_share == 0.75
    assert result.dataset_drifted
    if numeric == "ks":
        assert by_name["x"].p_adjusted is not None
        assert by_name["x"].p_adjusted < 0.05
        assert by_name["x"].threshold_source == "p-value"
    else:
        assert by_name["x"].effect_size == pytest.approx(0.5, abs=0.05)
        assert by_name["x"].threshold_source == "calibrated"
        assert by_name["x"].threshold < 0.1


def test_out_of_range_share_of_numbers(sketch: ReferenceSketch) -> None:
    high = sketch.columns["x"].maximum
    assert high is not None
    current = pd.DataFrame({"x": [0.0, 0.5, high + 1, high + 2]})
    assert drift_against(sketch, current).columns[0].out_of_range_share == 0.5


def test_stationary_windows_raise_no_dataset_drift_and_few_column_alarms() -> None:
    rng = np.random.default_rng(3)

    def draw(n: int) -> pd.DataFrame:
        columns = {f"normal{i}": rng.normal(i, 1 + i, n) for i in range(4)}
        columns |= {f"exp{i}": rng.exponential(1 + i, n) for i in range(3)}
        columns["count"] = rng.poisson(4, n).astype(np.int64)
        columns["plan"] = rng.choice(PLANS, n, p=WEIGHTS)
        columns["region"] = rng.choice(["eu", "us", "apac", "latam"], n)
        return pd.DataFrame(columns)

    sketch = sketch_table(draw(60_000))
    sizes = [500, 2000, 5000, 20_000]  # tests, scaled-up and plain calibrated thresholds
    alarms = checks = datasets = 0
    by_method: dict[str, int] = {}
    for window in range(200):
        result = drift_against(sketch, draw(sizes[window % len(sizes)]))
        datasets += result.dataset_drifted
        checks += len(result.columns)
        alarms += len(result.drifted_columns)
        for column in result.columns:
            by_method[column.method] = by_method.get(column.method, 0) + column.drifted
    rate = alarms / checks
    assert datasets == 0, f"dataset drift fired on {datasets} of 200 stationary windows"
    assert rate <= 0.02, f"per-column false-positive rate {rate:.2%} ({by_method})"


def test_thresholds_fixed_calibrated_or_defaults(sketch: ReferenceSketch) -> None:
    window = _data(np.random.default_rng(4), 5000)
    fixed = drift_against(sketch, window, thresholds={"wasserstein": 0.3})
    assert fixed.columns[0].threshold == 0.3
    assert fixed.columns[0].threshold_source == "fixed"
    defaults = drift_against(sketch, window, calibrated=False)
    assert defaults.columns[0].threshold == DEFAULT_THRESHOLDS["wasserstein"]
    calibrated = drift_against(sketch, window, method="psi").columns[0]
    small = drift_against(sketch, window.head(1500), method="psi").columns[0]
    stored = sketch.columns["x"].calibration["psi"]["threshold"]
    assert calibrated.threshold == stored  # 5000 rows >= a 2000-row chunk: not lowered
    assert small.threshold == pytest.approx(stored * 2000 / 1500)  # psi scales with 1/n


def test_methods_must_fit_the_column_kind(sketch: ReferenceSketch) -> None:
    window = _data(np.random.default_rng(5), 300)
    with pytest.raises(InvalidInputError, match="'ks' does not apply to categorical"):
        drift_against(sketch, window, method="ks")
    assert drift_against(sketch, window, method="ks", columns=["x"]).columns[0].method == "ks"
    with pytest.raises(InvalidInputError, match="unknown drift method"):
        drift_against(sketch, window, method="kl")
    with pytest.raises(InvalidInputError, match="correction"):
        drift_against(sketch, window, correction="holm")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="is categorical in the reference"):
        drift_against(sketch, window.assign(plan=1.0))
    with pytest.raises(InvalidInputError, match="not in the current data"):
        drift_against(sketch, window.drop(columns="x"), columns=["x"])


def test_importance_weights_the_drift_share(sketch: ReferenceSketch) -> None:
    window = _shifted(500, seed=6)
    weights = {"x": 1.0, "y": 0.0, "z": 3.0, "plan": 0.0}
    result = drift_against(sketch, window, importance=weights)
    assert result.weighted
    assert result.drift_share == pytest.approx(0.25)
    assert not result.dataset_drifted
    with pytest.raises(InvalidInputError, match="no weight"):
        drift_against(sketch, window, importance={"other": 1.0})


def test_columns_without_values_are_not_judged(sketch: ReferenceSketch) -> None:
    window = pd.DataFrame({"x": [np.nan] * 10, "y": np.arange(10.0)})
    result = drift_against(sketch, window)
    x = result.columns[0]
    assert (x.note, x.statistic, x.drifted, x.missing_share) == (
        "no current values",
        0.0,
        False,
        1.0,
    )
    empty = sketch_table(pa.table({"x": pa.array([None] * 300, pa.float64())}))
    assert drift_against(empty, window).columns[0].note == "no reference values"


def test_result_round_trips_through_json_and_renders_escaped(sketch: ReferenceSketch) -> None:
    window = _shifted(400, seed=8)
    window["plan"] = window["plan"].where(window.index % 7 != 0, "<script>")
    result = drift_against(sketch, window, distributions=True)
    again = TableDrift.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert again == result
    assert result.columns[0].distribution is not None
    page = result._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert result.summary.startswith("dataset drift: 3 of 4 columns drifted")
    with pytest.raises(InvalidInputError, match="not a drift result"):
        TableDrift.from_dict({"rows": 1})
