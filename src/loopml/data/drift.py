"""Drift statistics: how far a current sample has moved from a reference sample.

This is the one module that measures distribution drift in loopml. Data validation
(``loopml data validate``) and monitoring both call it, so a threshold means the same
thing everywhere. Every function is stateless: it takes two samples, as numpy arrays (or
anything :func:`numpy.asarray` accepts) or, where values are categories, as value counts
such as ``{"basic": 120, "pro": 30}``, and returns a :class:`DriftResult`.

=================  ===========  ====================  ===========================  =======
method             data         statistic             drifted when                 default
=================  ===========  ====================  ===========================  =======
``ks``             numeric      KS distance, [0, 1]   p-value < threshold          0.05
``chi2``           categorical  chi-squared           p-value < threshold          0.05
``psi``            both         PSI, >= 0             statistic > threshold        0.2
``js``             both         JS distance, [0, 1]   statistic > threshold        0.1
``wasserstein``    numeric      W1 / std(reference)   statistic > threshold        0.1
=================  ===========  ====================  ===========================  =======

Missing values (``None``, ``NaN``, ``±inf``) are dropped from both samples first: how
many values are missing is the null check's concern, not a distribution's. A sample with
nothing left raises :class:`~loopml.errors.InvalidInputError`.

The ``*_counts`` and ``*_quantiles`` functions compute the same statistics from what a
stored reference keeps instead of its raw values (bin or category counts, a quantile
function), as :mod:`loopml.data.sketch` needs; they return plain numbers and judge nothing.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(0, 1, 500), rng.normal(1, 1, 500)
    >>> ks_test(ref, cur).drifted
    True
    >>> column_drift({"a": 50, "b": 50}, {"a": 48, "b": 52}).drifted
    False
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from loopml.errors import InvalidInputError

__all__ = [
    "AUTO_SAMPLE_LIMIT",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "DriftResult",
    "Numbers",
    "Sample",
    "adjust_p_values",
    "bin_counts",
    "chi_squared_counts",
    "chi_squared_test",
    "column_drift",
    "js_counts",
    "js_distance",
    "ks_quantiles",
    "ks_test",
    "psi",
    "psi_counts",
    "quantile_cdf",
    "quantile_edges",
    "wasserstein",
    "wasserstein_quantiles",
]

Numbers = npt.ArrayLike | Sequence[float | None]
"""Numbers: an array or a sequence, with ``None`` or ``NaN`` for missing values."""
Sample = npt.ArrayLike | Sequence[Any] | Mapping[Any, int]
"""Values (an array or a sequence) or, for categories, value counts (``{value: count}``)."""

METHODS = ("ks", "chi2", "psi", "js", "wasserstein")
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    # p-value methods: the conventional 5 % false-alarm rate for one column.
    "ks": 0.05,
    "chi2": 0.05,
    # The credit-scoring rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant.
    "psi": 0.2,
    # Base-2 distance in [0, 1]; 0.1 is a visible but not dramatic change of shape.
    "js": 0.1,
    # In reference standard deviations: the mean moved by about a tenth of the spread.
    "wasserstein": 0.1,
}
# Above this many values a p-value test flags differences too small to matter, so
# ``column_drift(method="auto")`` switches to a distance with an effect-size threshold.
AUTO_SAMPLE_LIMIT = 1000
_P_VALUE_METHODS = frozenset({"ks", "chi2"})
_NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
_PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class DriftResult:
    """The outcome of one drift test on one column.

    Attributes:
        method: ``ks``, ``chi2``, ``psi``, ``js`` or ``wasserstein``.
        statistic: the test statistic or distance (see the module table).
        p_value: the p-value for ``ks`` and ``chi2``; ``None`` for distances.
        threshold: what ``p_value`` (tests) or ``statistic`` (distances) is compared with.
        drifted: ``p_value < threshold`` for tests, ``statistic > threshold`` for distances.

    Example:
        >>> DriftResult("psi", 0.31, None, 0.2, True).summary
        'psi 0.31 > 0.2: drifted'
    """

    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool

    @property
    def summary(self) -> str:
        """One line saying what was measured against what."""
        verdict = "drifted" if self.drifted else "no drift"
        if self.p_value is not None:
            sign = "<" if self.drifted else ">="
            return (
                f"{self.method} statistic {self.statistic:.4g}, "
                f"p-value {self.p_value:.4g} {sign} {self.threshold:g}: {verdict}"
            )
        sign = ">" if self.drifted else "<="
        return f"{self.method} {self.statistic:.4g} {sign} {self.threshold:g}: {verdict}"


def ks_test(reference: Numbers, current: Numbers, *, threshold: float = 0.05) -> DriftResult:
    """Two-sample Kolmogorov-Smirnov test (:func:`scipy.stats.ks_2samp`) on numbers.

    The statistic is the largest gap between the two empirical distribution functions.

    Example:
        >>> ks_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).statistic
        0.0
    """
    ref, cur = _numeric(reference, "reference"), _numeric(current, "current")
    _check_threshold("ks", threshold)
    with warnings.catch_warnings():
        # The exact p-value may fall back to the asymptotic one; the result stays valid.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ks_2samp(ref, cur)
    p_value = float(result.pvalue)
    return DriftResult("ks", float(result.statistic), p_value, threshold, p_value < threshold)


def chi_squared_test(reference: Sample, current: Sample, *, threshold: float = 0.05) -> DriftResult:
    """Chi-squared test of homogeneity (:func:`scipy.stats.chi2_contingency`) on categories.

    Every value is a category, also numbers. Categories seen on one side only count as
    zero on the other, so values new in ``current`` raise the statistic.

    Example:
        >>> chi_squared_test({"a": 90, "b": 10}, {"a": 10, "b": 90}).drifted
        True
    """
    _check_threshold("chi2", threshold)
    ref, cur = _aligned_counts(_counts(reference, "reference"), _counts(current, "current"))
    if ref.size < 2:  # one category on both sides: nothing can differ
        return DriftResult("chi2", 0.0, 1.0, threshold, False)
    # No Yates correction: the same statistic whatever the number of categories.
    result = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    p_value = float(result.pvalue)
    return DriftResult("chi2", float(result.statistic), p_value, threshold, p_value < threshold)


def psi(
    reference: Sample, current: Sample, *, bins: int = 10, threshold: float = 0.2
) -> DriftResult:
    """Population Stability Index: ``sum((c - r) * ln(c / r))`` over bins.

    Numbers are binned at the reference's quantiles (:func:`quantile_edges`), categories
    count as one bin each. Empty bins get a share of 1e-4 so the logarithm stays finite.

    Example:
        >>> psi([1, 2, 3, 4], [1, 2, 3, 4]).statistic
        0.0
    """
    _check_threshold("psi", threshold)
    value = psi_counts(*_histograms(reference, current, bins))
    return DriftResult("psi", value, None, threshold, value > threshold)


def js_distance(
    reference: Sample, current: Sample, *, bins: int = 10, threshold: float = 0.1
) -> DriftResult:
    """Jensen-Shannon distance (base 2, so in [0, 1]) between the two histograms.

    Binned like :func:`psi`. Computed from :func:`scipy.special.rel_entr` and clipped,
    because rounding can make the divergence of near-equal histograms a hair below zero.

    Example:
        >>> js_distance({"a": 1}, {"b": 1}).statistic
        1.0
    """
    _check_threshold("js", threshold)
    value = js_counts(*_histograms(reference, current, bins))
    return DriftResult("js", value, None, threshold, value > threshold)


def wasserstein(
    reference: Numbers,
    current: Numbers,
    *,
    threshold: float = 0.1,
    normalize: bool = True,
) -> DriftResult:
    """Earth mover's distance (:func:`scipy.stats.wasserstein_distance`) on numbers.

    With ``normalize`` the distance is divided by the reference's standard deviation, so
    one threshold fits columns of any unit; a constant reference keeps its own unit.

    Example:
        >>> wasserstein([0.0, 1.0], [1.0, 2.0], normalize=False).statistic
        1.0
    """
    _check_threshold("wasserstein", threshold)
    ref, cur = _numeric(reference, "reference"), _numeric(current, "current")
    value = float(stats.wasserstein_distance(ref, cur))
    if normalize:
        spread = float(np.std(ref))
        value = value / spread if spread > 0 else value
    return DriftResult("wasserstein", value, None, threshold, value > threshold)


def quantile_edges(reference: Numbers, bins: int = 10) -> npt.NDArray[np.float64]:
    """The bin edges :func:`psi` and :func:`js_distance` use for numbers.

    The distinct ``bins + 1`` quantiles of ``reference`` (0 %, 10 %, ..., 100 % for 10
    bins). A value ``x`` falls in bin ``i`` when ``edges[i - 1] < x <= edges[i]``; one
    bin below the minimum and one above the maximum catch values outside the reference.

    Example:
        >>> quantile_edges([1, 2, 3, 4, 5], bins=2).tolist()
        [1.0, 3.0, 5.0]
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidInputError(f"bins must be a positive integer, got {bins!r}")
    ref = _numeric(reference, "reference")
    return np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)))


def bin_counts(values: Numbers, edges: Numbers) -> list[int]:
    """How many ``values`` fall in each bin of ``edges`` (:func:`quantile_edges`' bins).

    ``len(edges) + 1`` counts: the bin below the minimum, the bins between edges, the
    bin above the maximum. Validation's reference profiles count with it too, so a
    profile's counts and :func:`psi`'s agree.

    Example:
        >>> bin_counts([0.5, 1.0, 2.5, 9.0], [1.0, 3.0, 5.0])
        [2, 1, 0, 1]
    """
    cut = np.asarray(edges, dtype=np.float64)
    found = np.searchsorted(cut, np.asarray(values, dtype=np.float64))
    counts: list[int] = np.bincount(found, minlength=cut.size + 1).tolist()
    return counts


def column_drift(
    reference: Sample,
    current: Sample,
    *,
    method: str = "auto",
    threshold: float | None = None,
    bins: int = 10,
) -> DriftResult:
    """Drift of one column, choosing a method for its kind of data when ``method="auto"``.

    ``auto`` takes a test while both samples are small (at most
    :data:`AUTO_SAMPLE_LIMIT` values): ``ks`` for numbers, ``chi2`` for categories. For
    larger samples those tests call negligible differences significant, so it takes a
    distance with an effect-size threshold: ``wasserstein`` for numbers, ``js`` for
    categories. Numbers are numeric arrays; value counts and other arrays are categories.

    Args:
        reference: the sample drift is measured from.
        current: the sample to test.
        method: ``auto`` or one of :data:`METHODS`.
        threshold: overrides the method's entry in :data:`DEFAULT_THRESHOLDS`.
        bins: quantile bins for ``psi`` and ``js`` on numbers.

    Example:
        >>> column_drift([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).method
        'ks'
    """
    numeric = _is_numeric(reference) and _is_numeric(current)
    if method == "auto":
        method = _auto_method(reference, current, numeric=numeric)
    if method not in METHODS:
        raise InvalidInputError(f"unknown drift method {method!r}; use auto or one of {METHODS}")
    if method in _NUMERIC_ONLY and not numeric:
        raise InvalidInputError(
            f"drift method {method!r} needs numbers on both sides; "
            "for categories use chi2, js or psi"
        )
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    run: Callable[..., DriftResult] = {
        "ks": ks_test,
        "chi2": chi_squared_test,
        "psi": psi,
        "js": js_distance,
        "wasserstein": wasserstein,
    }[method]
    options: dict[str, Any] = {"threshold": limit}
    if method in ("psi", "js"):
        options["bins"] = bins
    return run(reference, current, **options)


def _auto_method(reference: Sample, current: Sample, *, numeric: bool) -> str:
    if numeric:
        small = min(_numeric(reference, "reference").size, _numeric(current, "current").size)
        return "ks" if small <= AUTO_SAMPLE_LIMIT else "wasserstein"
    ref, cur = _counts(reference, "reference"), _counts(current, "current")
    small = min(sum(ref.values()), sum(cur.values()))
    return "chi2" if small <= AUTO_SAMPLE_LIMIT else "js"


def _check_threshold(method: str, threshold: float) -> None:
    bad = not isinstance(threshold, int | float) or not math.isfinite(threshold) or threshold < 0
    if not bad and method in _P_VALUE_METHODS and not 0 < threshold < 1:
        bad = True
    if bad:
        expected = "a p-value in (0, 1)" if method in _P_VALUE_METHODS else "a number >= 0"
        raise InvalidInputError(f"{method} threshold must be {expected}, got {threshold!r}")


def _is_numeric(sample: Sample) -> bool:
    if isinstance(sample, Mapping):
        return False
    array = np.asarray(sample)
    if array.dtype.kind in "iuf":
        return True
    if array.dtype.kind != "O":
        return False
    # An object array of numbers with None for missing values is still numeric.
    values = [v for v in array.ravel().tolist() if v is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _numeric(sample: Sample, role: str) -> npt.NDArray[np.float64]:
    if not _is_numeric(sample):
        raise InvalidInputError(
            f"the {role} sample is not numeric; pass numbers (NaN for missing), "
            "or use chi2, js or psi for categories"
        )
    array = np.asarray(sample, dtype=np.float64).ravel()
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise _empty(role)
    return array


def _counts(sample: Sample, role: str) -> dict[Hashable, int]:
    if isinstance(sample, Mapping):
        counted = {}
        for value, count in sample.items():
            if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
                raise InvalidInputError(
                    f"the {role} counts must be whole numbers >= 0; {value!r} has {count!r}"
                )
            counted[value] = int(count)
    else:
        counted = dict(Counter(np.asarray(sample, dtype=object).ravel().tolist()))
    kept = {k: n for k, n in counted.items() if n > 0 and not _missing(k)}
    if not kept:
        raise _empty(role)
    return kept


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _aligned_counts(
    reference: Mapping[Hashable, int], current: Mapping[Hashable, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    keys = list(reference) + [k for k in current if k not in reference]
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    return ref, cur


def _histograms(
    reference: Sample, current: Sample, bins: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ref_numeric, cur_numeric = _is_numeric(reference), _is_numeric(current)
    if ref_numeric != cur_numeric:
        raise InvalidInputError(
            "one sample is numeric and the other is not; compare like with like"
        )
    if not ref_numeric:
        return _aligned_counts(_counts(reference, "reference"), _counts(current, "current"))
    ref_values, cur_values = _numeric(reference, "reference"), _numeric(current, "current")
    edges = quantile_edges(ref_values, bins)
    ref = np.asarray(bin_counts(ref_values, edges), dtype=np.float64)
    cur = np.asarray(bin_counts(cur_values, edges), dtype=np.float64)
    return ref, cur


def _empty(role: str) -> InvalidInputError:
    return InvalidInputError(
        f"the {role} sample has no values (empty, or all missing); "
        "drift needs at least one value on each side"
    )


# --- statistics from counts and quantile functions (stored references) ---------------

_Floats = npt.NDArray[np.float64]


def psi_counts(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """PSI between two aligned count vectors (the same bins or categories, in order).

    Example:
        >>> round(psi_counts([50, 50], [90, 10]), 4)
        0.8789
    """
    ref, cur = _aligned(reference, current)
    r = np.clip(ref / ref.sum(), _PSI_EPSILON, None)
    c = np.clip(cur / cur.sum(), _PSI_EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def js_counts(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (base 2) between two aligned count vectors.

    Example:
        >>> js_counts([1, 0], [0, 1])
        1.0
    """
    ref, cur = _aligned(reference, current)
    p, q = ref / ref.sum(), cur / cur.sum()
    middle = (p + q) / 2
    divergence = (special.rel_entr(p, middle).sum() + special.rel_entr(q, middle).sum()) / 2
    return math.sqrt(min(max(float(divergence) / math.log(2), 0.0), 1.0))


def chi_squared_counts(
    reference: npt.ArrayLike, current: npt.ArrayLike
) -> tuple[float, float, float]:
    """Chi-squared test of homogeneity on two aligned count vectors.

    Returns ``(statistic, p_value, cramers_v)``: :func:`scipy.stats.chi2_contingency`
    without Yates' correction (as :func:`chi_squared_test`), and Cramér's V,
    ``sqrt(statistic / total)`` for a two-row table, the effect size in [0, 1]. Cells
    empty on both sides are dropped; fewer than two cells left: ``(0.0, 1.0, 0.0)``.

    Example:
        >>> statistic, p_value, v = chi_squared_counts([90, 10], [10, 90])
        >>> round(v, 2), p_value < 0.05
        (0.8, True)
    """
    ref, cur = _aligned(reference, current)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if ref.size < 2:
        return 0.0, 1.0, 0.0
    result = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    statistic = float(result.statistic)
    cramers_v = math.sqrt(min(statistic / float(ref.sum() + cur.sum()), 1.0))
    return statistic, float(result.pvalue), cramers_v


def quantile_cdf(quantiles: npt.ArrayLike, values: npt.ArrayLike, *, left: bool = False) -> _Floats:
    """The distribution function whose quantile function is piecewise linear through
    ``quantiles`` (taken at the levels ``i / Q``, ``i = 0..Q``), at ``values``.

    ``left=False`` gives ``P(X <= x)``, ``left=True`` the left limit ``P(X < x)``: they
    differ where quantiles repeat (a tied value is a jump of the distribution function).

    Example:
        >>> quantile_cdf([0.0, 1.0, 1.0, 2.0], [1.0, 1.5]).round(3).tolist()
        [0.667, 0.833]
        >>> quantile_cdf([0.0, 1.0, 1.0, 2.0], [1.0], left=True).round(3).tolist()
        [0.333]
    """
    q = np.asarray(quantiles, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    steps = q.size - 1
    if steps < 1:
        raise InvalidInputError("a quantile function needs at least two quantiles")
    found = np.searchsorted(q, x, side="left" if left else "right")
    # Knot ``below`` is the last one under (left) or at or under (right) ``x``.
    below = np.clip(found - 1, 0, steps - 1)
    low, high = q[below], q[below + 1]
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(width > 0, (x - low) / width, 0.0)
    out: _Floats = (below + np.clip(inside, 0.0, 1.0)) / steps
    out[found == 0] = 0.0
    out[found > steps] = 1.0
    return out


def ks_quantiles(
    quantiles: npt.ArrayLike, reference_count: int, current: npt.ArrayLike
) -> tuple[float, float]:
    """KS distance and p-value of ``current`` against a reference kept as quantiles.

    The reference's distribution function is the one :func:`quantile_cdf` draws through
    its quantiles (within ``1 / Q`` plus a few ``1 / n`` of the raw one); the distance is
    the exact supremum against ``current``'s empirical one, ties included. The p-value is
    the two-sample one for the reference's real size ``n`` and ``m`` current values,
    computed as :func:`scipy.stats.ks_2samp` does in its asymptotic mode:
    ``scipy.stats.kstwo.sf(D, round(n * m / (n + m)))``.

    Example:
        >>> d, p = ks_quantiles([0.0, 1.0], 1000, [0.25, 0.75])
        >>> d
        0.25
    """
    cur = np.sort(np.asarray(current, dtype=np.float64))
    m = cur.size
    if m == 0 or reference_count < 1:
        raise _empty("current" if m == 0 else "reference")
    after = np.arange(1, m + 1, dtype=np.float64) / m
    above = float(np.max(after - quantile_cdf(quantiles, cur)))
    below = float(np.max(quantile_cdf(quantiles, cur, left=True) - (after - 1.0 / m)))
    distance = min(max(above, below, 0.0), 1.0)
    n = float(reference_count)
    en = round(n * m / (n + m))
    p_value = float(stats.kstwo.sf(distance, max(en, 1)))
    return distance, min(max(p_value, 0.0), 1.0)


def wasserstein_quantiles(
    quantiles: npt.ArrayLike, current: npt.ArrayLike, *, spread: float | None = None
) -> float:
    """W1 between ``current`` and the piecewise-linear quantile function ``quantiles``.

    ``integral over p of |F_current^-1(p) - q(p)|``, exact for that quantile function:
    the two level grids (``j / m`` and ``i / Q``) are merged, and on each piece the
    difference is linear. ``spread`` (the reference's standard deviation) divides the
    distance as :func:`wasserstein` does; ``None`` or 0 leaves it in the data's unit.

    Example:
        >>> wasserstein_quantiles([0.0, 1.0], [1.0, 1.0])
        0.5
    """
    q = np.asarray(quantiles, dtype=np.float64)
    cur = np.sort(np.asarray(current, dtype=np.float64))
    m, steps = cur.size, q.size - 1
    if m == 0 or steps < 1:
        raise _empty("current" if m == 0 else "reference")
    cuts = np.concatenate([np.arange(m + 1) / m, np.arange(steps + 1) / steps])
    cuts = np.sort(cuts, kind="stable")  # two sorted runs: a linear merge
    low, high = cuts[:-1], cuts[1:]
    index = np.minimum((((low + high) / 2) * m).astype(np.int64), m - 1)
    levels = np.arange(steps + 1) / steps
    start = cur[index] - np.interp(low, levels, q)
    end = cur[index] - np.interp(high, levels, q)
    size_start, size_end = np.abs(start), np.abs(end)
    total = size_start + size_end
    crossing = (start * end) < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        area = np.where(crossing, (start**2 + end**2) / (2 * total), total / 2)
    value = float(np.sum(area * (high - low)))
    if spread:
        value /= spread
    return value


def adjust_p_values(p_values: npt.ArrayLike, method: str | None) -> _Floats:
    """P-values adjusted for testing many columns at once.

    ``bh``: Benjamini-Hochberg (:func:`scipy.stats.false_discovery_control`), which keeps
    the expected share of false alarms among flagged columns at ``alpha``;
    ``bonferroni``: ``min(1, p * k)``, which keeps the chance of any false alarm at
    ``alpha``; ``None``: unchanged.

    Example:
        >>> adjust_p_values([0.01, 0.04], "bonferroni").tolist()
        [0.02, 0.08]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if method not in ("bh", "bonferroni", None):
        raise InvalidInputError(
            f"unknown p-value correction {method!r}; use 'bh', 'bonferroni' or None"
        )
    if p.size == 0 or method is None:
        return p.copy()
    if method == "bonferroni":
        adjusted: _Floats = np.minimum(p * p.size, 1.0)
        return adjusted
    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)


def _aligned(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[_Floats, _Floats]:
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.shape != cur.shape or ref.ndim != 1:
        raise InvalidInputError(
            f"count vectors must be aligned (same bins, same order); got {ref.shape} "
            f"and {cur.shape}"
        )
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise _empty("reference" if ref.sum() <= 0 else "current")
    return ref, cur
