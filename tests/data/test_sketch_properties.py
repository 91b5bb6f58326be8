"""Statistics against a stored sketch agree with scipy (and data.drift) on the raw data.

The sketch keeps a numeric reference as ``Q + 1`` quantiles, so two figures are only
approximate, with bounds that follow from the quantile function:

- KS: between the quantile knots ``i / Q`` the sketch's distribution function and the raw
  empirical one both move by at most ``1 / Q``, and ``np.quantile``'s interpolation puts a
  knot within one order statistic (``1 / n`` of probability) of the raw step: the two
  distribution functions differ by at most ``1 / Q + 1 / n`` everywhere, so do the KS
  distances (ties included: a tie is a flat run of knots, i.e. the same jump on both sides).
- Wasserstein: on each level interval ``[i / Q, (i + 1) / Q]`` both quantile functions stay
  between the neighbouring knots, so their integrated gap is at most ``range / Q`` plus one
  order-statistic gap per knot, ``range / n``; divided by the reference's std like
  ``data.drift.wasserstein``.

PSI, JS (decile counts or category counts, both stored exactly), chi-squared and the
Benjamini-Hochberg correction must match to rounding.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from loopml.data.drift import js_distance, psi
from loopml.data.sketch import drift_against, sketch_table

PROPERTY = settings(max_examples=50, deadline=None)


@st.composite
def numeric_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A reference and a current sample: normal or exponential, shifted, maybe tied."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, m = draw(st.integers(2, 3000)), draw(st.integers(1, 800))
    shift, scale = draw(st.floats(-2, 2)), draw(st.floats(0.2, 3))
    if draw(st.booleans()):
        ref, cur = rng.normal(0, 1, n), rng.normal(shift, scale, m)
    else:
        ref, cur = rng.exponential(1, n), rng.exponential(scale, m) + shift
    decimals = draw(st.sampled_from([None, 0, 1]))  # None: continuous; else ties
    if decimals is not None:
        ref, cur = np.round(ref, decimals), np.round(cur, decimals)
    return ref, cur


def _one_column(
    ref: np.ndarray, cur: np.ndarray, method: str, quantiles: int = 1000
) -> tuple[float, float | None]:
    sketch = sketch_table(pa.table({"x": ref}), quantiles=quantiles)
    result = drift_against(sketch, pa.table({"x": cur}), method=method, correction=None)
    column = result.columns[0]
    return column.statistic, column.p_value


@PROPERTY
@given(numeric_pairs(), st.sampled_from([1000, 50]))
def test_ks_against_the_sketch_is_within_one_quantile_step_of_scipy(
    pair: tuple[np.ndarray, np.ndarray], quantiles: int
) -> None:
    ref, cur = pair
    statistic, p_value = _one_column(ref, cur, "ks", quantiles)
    raw = stats.ks_2samp(ref, cur, method="asymp")
    steps = min(quantiles, ref.size - 1)
    assert abs(statistic - raw.statistic) <= 1 / steps + 1 / ref.size + 1e-9
    assert p_value is not None
    assert 0.0 <= p_value <= 1.0


@PROPERTY
@given(numeric_pairs())
def test_ks_p_value_is_scipys_asymptotic_one_for_the_same_distance(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    ref, cur = pair
    statistic, p_value = _one_column(ref, cur, "ks")
    en = round(ref.size * cur.size / (ref.size + cur.size))
    assert p_value == pytest.approx(stats.kstwo.sf(statistic, max(en, 1)), rel=1e-9, abs=1e-12)


@PROPERTY
@given(numeric_pairs(), st.sampled_from([1000, 50]))
def test_wasserstein_against_the_sketch_matches_scipy_within_the_quantile_bound(
    pair: tuple[np.ndarray, np.ndarray], quantiles: int
) -> None:
    ref, cur = pair
    statistic, _ = _one_column(ref, cur, "wasserstein", quantiles)
    spread = float(np.std(ref))
    raw = stats.wasserstein_distance(ref, cur)
    raw = raw / spread if spread > 0 else raw
    steps = min(quantiles, ref.size - 1)
    bound = float(np.ptp(ref)) * (1 / steps + 1 / ref.size)
    bound = bound / spread if spread > 0 else bound
    assert abs(statistic - raw) <= bound + 1e-9 * (1 + abs(raw))


@PROPERTY
@given(numeric_pairs(), st.sampled_from(["psi", "js"]))
def test_numeric_psi_and_js_equal_data_drift_on_raw_samples(
    pair: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    ref, cur = pair
    statistic, _ = _one_column(ref, cur, method)
    expected = (psi if method == "psi" else js_distance)(ref, cur).statistic
    assert statistic == pytest.approx(expected, rel=1e-12, abs=1e-12)


@st.composite
def category_pairs(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alphabet = [f"v{i}" for i in range(draw(st.integers(1, 8)))]
    new = [f"new{i}" for i in range(draw(st.integers(0, 3)))]
    weights = rng.dirichlet(np.ones(len(alphabet)))
    ref = rng.choice(alphabet, size=draw(st.integers(1, 2000)), p=weights).tolist()
    cur = rng.choice(alphabet + new, size=draw(st.integers(1, 500))).tolist()
    return ref, cur


@PROPERTY
@given(category_pairs())
def test_chi2_from_stored_counts_equals_chi2_contingency(pair: tuple[list[str], list[str]]) -> None:
    ref, cur = pair
    sketch = sketch_table(pa.table({"c": ref}))
    column = drift_against(sketch, pa.table({"c": cur}), method="chi2", correction=None).columns[0]
    keys = sorted(set(ref) | set(cur))
    table = np.array([[ref.count(k) for k in keys], [cur.count(k) for k in keys]])
    if len(keys) < 2:
        assert (column.statistic, column.p_value) == (0.0, 1.0)
        return
    expected = stats.chi2_contingency(table, correction=False)
    assert column.statistic == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
    assert column.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
    assert column.effect_size == pytest.approx(np.sqrt(expected.statistic / table.sum()))
    assert set(column.unseen) == set(cur) - set(ref)


@PROPERTY
@given(category_pairs(), st.sampled_from(["psi", "js"]))
def test_categorical_psi_and_js_equal_data_drift_on_raw_samples(
    pair: tuple[list[str], list[str]], method: str
) -> None:
    ref, cur = pair
    sketch = sketch_table(pa.table({"c": ref}))
    column = drift_against(sketch, pa.table({"c": cur}), method=method).columns[0]
    expected = (psi if method == "psi" else js_distance)(ref, cur).statistic
    assert column.statistic == pytest.approx(expected, rel=1e-12, abs=1e-12)


@PROPERTY
@given(st.integers(0, 2**32 - 1), st.integers(2, 12), st.sampled_from(["bh", "bonferroni"]))
def test_p_values_of_all_tested_columns_are_adjusted_together(
    seed: int, width: int, correction: str
) -> None:
    rng = np.random.default_rng(seed)
    ref = pa.table({f"x{i}": rng.normal(0, 1, 1000) for i in range(width)})
    shifts = rng.uniform(0, 0.4, width)
    cur = pa.table({f"x{i}": rng.normal(shifts[i], 1, 200) for i in range(width)})
    result = drift_against(sketch_table(ref), cur, correction=correction)  # type: ignore[arg-type]
    raw = np.array([column.p_value for column in result.columns], dtype=float)
    adjusted = np.array([column.p_adjusted for column in result.columns], dtype=float)
    if correction == "bh":
        expected = stats.false_discovery_control(raw, method="bh")
    else:
        expected = np.minimum(raw * width, 1.0)
    np.testing.assert_allclose(adjusted, expected, rtol=1e-12)
    assert all((c.p_adjusted < 0.05) == c.drifted for c in result.columns)
