"""Drift statistics: properties that must hold for any samples, and known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.drift import (
    AUTO_SAMPLE_LIMIT,
    DEFAULT_THRESHOLDS,
    bin_counts,
    chi_squared_test,
    column_drift,
    js_distance,
    ks_test,
    psi,
    quantile_edges,
    wasserstein,
)
from loopml.errors import InvalidInputError

# Bounded so that differences of values cannot overflow a float64.
NUMBERS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
SAMPLES = st.lists(NUMBERS, min_size=1, max_size=60)
CATEGORY_COUNTS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(1, 500), min_size=1
)


# -- properties -----------------------------------------------------------------------


@given(SAMPLES)
def test_identical_numeric_samples_show_no_drift(sample: list[float]) -> None:
    assert ks_test(sample, sample).statistic == 0.0
    assert psi(sample, sample).statistic == pytest.approx(0.0, abs=1e-12)
    assert js_distance(sample, sample).statistic == 0.0
    assert wasserstein(sample, sample).statistic == 0.0
    for method in ("ks", "psi", "js", "wasserstein"):
        assert not column_drift(sample, sample, method=method).drifted


@given(CATEGORY_COUNTS)
def test_identical_category_counts_show_no_drift(counts: dict[str, int]) -> None:
    assert chi_squared_test(counts, counts).statistic == pytest.approx(0.0, abs=1e-9)
    assert psi(counts, counts).statistic == 0.0
    assert js_distance(counts, counts).statistic == 0.0


@given(SAMPLES, SAMPLES)
def test_ks_and_raw_wasserstein_are_symmetric(a: list[float], b: list[float]) -> None:
    assert ks_test(a, b).statistic == ks_test(b, a).statistic
    assert wasserstein(a, b, normalize=False).statistic == pytest.approx(
        wasserstein(b, a, normalize=False).statistic, rel=1e-9, abs=1e-9
    )


@given(CATEGORY_COUNTS, CATEGORY_COUNTS)
def test_category_statistics_are_symmetric(a: dict[str, int], b: dict[str, int]) -> None:
    assert js_distance(a, b).statistic == pytest.approx(js_distance(b, a).statistic, abs=1e-12)
    assert chi_squared_test(a, b).statistic == pytest.approx(
        chi_squared_test(b, a).statistic, rel=1e-9, abs=1e-9
    )


@given(SAMPLES, SAMPLES)
def test_statistics_stay_in_their_ranges(a: list[float], b: list[float]) -> None:
    assert psi(a, b).statistic >= 0.0
    assert 0.0 <= js_distance(a, b).statistic <= 1.0
    ks = ks_test(a, b)
    assert 0.0 <= ks.statistic <= 1.0
    assert ks.p_value is not None
    assert 0.0 <= ks.p_value <= 1.0
    assert wasserstein(a, b).statistic >= 0.0


@given(CATEGORY_COUNTS, CATEGORY_COUNTS)
def test_category_statistics_stay_in_their_ranges(a: dict[str, int], b: dict[str, int]) -> None:
    assert psi(a, b).statistic >= 0.0
    assert 0.0 <= js_distance(a, b).statistic <= 1.0
    p_value = chi_squared_test(a, b).p_value
    assert p_value is not None
    assert 0.0 <= p_value <= 1.0


# From 0.75 sd up: at 0.5 sd the expected PSI (about 0.24) sits so near its 0.2 threshold
# that sampling noise alone decides, which would make this property flaky, not stricter.
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.75, 3.0))
def test_a_shifted_normal_is_detected_by_every_numeric_method(seed: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    reference, current = rng.normal(0, 1, 2000), rng.normal(shift, 1, 2000)
    for method in ("ks", "psi", "js", "wasserstein"):
        assert column_drift(reference, current, method=method).drifted, method
    assert column_drift(reference, current).drifted


# -- known cases ----------------------------------------------------------------------


def test_same_distribution_is_not_flagged_with_a_fixed_seed() -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(0, 1, 5000), rng.normal(0, 1, 5000)
    for method in ("ks", "psi", "js", "wasserstein"):
        assert not column_drift(reference, current, method=method).drifted, method


def test_auto_uses_tests_for_small_samples_and_distances_for_large() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=AUTO_SAMPLE_LIMIT), rng.normal(size=AUTO_SAMPLE_LIMIT + 1)
    assert column_drift(small, large).method == "ks"
    assert column_drift(large, large).method == "wasserstein"
    assert column_drift({"a": 10}, {"a": 5, "b": 5}).method == "chi2"
    assert column_drift({"a": 2000}, {"a": 1500, "b": 600}).method == "js"
    assert column_drift(["x", "y", None], ["x", "x"]).method == "chi2"


def test_default_thresholds_are_the_documented_ones() -> None:
    assert DEFAULT_THRESHOLDS == {
        "ks": 0.05,
        "chi2": 0.05,
        "psi": 0.2,
        "js": 0.1,
        "wasserstein": 0.1,
    }
    result = column_drift([1.0, 2.0, 3.0], [1.0, 2.0, 3.5], method="psi")
    assert result.threshold == 0.2
    assert column_drift([1.0, 2.0], [1.0, 2.0], method="psi", threshold=0.5).threshold == 0.5


def test_missing_values_are_dropped_before_comparing() -> None:
    clean = ks_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    noisy = ks_test([1.0, math.nan, 2.0, 3.0, math.inf], [None, 1.0, 2.0, 3.0])
    assert noisy.statistic == clean.statistic == 0.0
    assert chi_squared_test(["a", None, "b", math.nan], ["a", "b"]).statistic == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: ks_test([], [1.0]),
        lambda: ks_test([math.nan, None], [1.0]),
        lambda: psi([1.0], []),
        lambda: chi_squared_test({}, {"a": 1}),
        lambda: chi_squared_test([None, None], ["a"]),
        lambda: js_distance({"a": 0}, {"a": 1}),
    ],
)
def test_an_empty_sample_is_invalid_input(call: object) -> None:
    with pytest.raises(InvalidInputError, match="no values"):
        call()  # type: ignore[operator]


def test_unseen_categories_raise_the_statistics_without_failing() -> None:
    reference = {"basic": 500, "pro": 500}
    current = {"basic": 300, "pro": 300, "enterprise": 400}
    assert chi_squared_test(reference, current).drifted
    assert js_distance(reference, current).drifted
    assert psi(reference, current).drifted
    assert js_distance({"a": 1}, {"b": 1}).statistic == 1.0


def test_a_constant_reference_still_detects_a_shift() -> None:
    assert psi([5.0] * 100, [7.0] * 100).drifted
    assert js_distance([5.0] * 100, [7.0] * 100).statistic == 1.0
    assert wasserstein([5.0] * 100, [7.0] * 100).statistic == 2.0


def test_bin_counts_puts_a_value_in_the_bin_its_edges_close() -> None:
    # edges[i-1] < x <= edges[i]: the first bin holds the first edge, the last the rest
    assert bin_counts([0.5, 1.0, 2.5, 3.0, 9.0], [1.0, 3.0, 5.0]) == [2, 2, 0, 1]


def test_an_inferred_reference_profile_bins_numbers_with_the_drift_module() -> None:
    # One module measures drift: a schema's profile counts what psi would count.
    import pyarrow as pa

    from loopml.data.reference import reference_profile

    values = np.random.default_rng(3).normal(size=200)
    sketch = reference_profile(pa.table({"x": values}))["columns"]["x"]["deciles"]
    edges = quantile_edges(values, bins=10)
    assert sketch == {"edges": edges.tolist(), "counts": bin_counts(values, edges)}


def test_quantile_edges_are_the_distinct_reference_quantiles() -> None:
    assert quantile_edges([1, 2, 3, 4, 5], bins=4).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert quantile_edges([3, 3, 3], bins=10).tolist() == [3.0]
    with pytest.raises(InvalidInputError, match="bins"):
        quantile_edges([1.0], bins=0)


def test_psi_matches_a_hand_computed_value() -> None:
    result = psi({"a": 50, "b": 50}, {"a": 90, "b": 10})
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert result.statistic == pytest.approx(expected)
    assert result.drifted
    assert result.p_value is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: column_drift(["a"], ["b"], method="ks"), "needs numbers"),
        (lambda: column_drift([1.0], [1.0], method="kstest"), "unknown drift method"),
        (lambda: ks_test([1.0], [1.0], threshold=1.5), "p-value in"),
        (lambda: psi([1.0], [1.0], threshold=-1), "number >= 0"),
        (lambda: psi([1.0], ["a"]), "like with like"),
        (lambda: chi_squared_test({"a": -1}, {"a": 1}), "whole numbers"),
        (lambda: wasserstein(["a"], [1.0]), "not numeric"),
    ],
)
def test_bad_arguments_say_what_to_do(call: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()  # type: ignore[operator]


def test_result_summary_reads_as_a_sentence() -> None:
    result = ks_test(np.arange(50.0), np.arange(50.0) + 100)
    assert result.summary.startswith("ks statistic 1, p-value")
    assert result.summary.endswith("< 0.05: drifted")


def test_no_other_module_computes_drift_statistics() -> None:
    """Validation and monitoring share drift.py, so a threshold means one thing everywhere."""
    import re
    from pathlib import Path

    import loopml

    src = Path(loopml.__file__).parent
    statistic = re.compile(r"ks_2samp|chi2_contingency|wasserstein_distance|jensenshannon|rel_entr")
    found = [
        str(path.relative_to(src))
        for path in sorted(src.rglob("*.py"))
        if path != src / "data" / "drift.py" and statistic.search(path.read_text("utf-8"))
    ]
    assert found == []
