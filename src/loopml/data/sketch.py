"""Stored reference sketches, and the drift of a table against one.

A :class:`ReferenceSketch` keeps, per column, what drift needs from the reference data and
nothing more, so a monitor profiles its reference once and never reads it again: a window
costs the same whether the reference had a thousand rows or ten million.

- a number (int or float column): the count of values and of missing ones (``None``,
  ``NaN``, ``±inf``), ``Q + 1`` quantiles at the levels ``i / Q`` (``Q = 1000`` by
  default; a reference of ``n <= Q`` values keeps ``n`` quantiles, its sorted values),
  minimum, maximum, mean, standard deviation, the counts between its deciles (exactly
  as :func:`~loopml.data.drift.psi` bins) and 20 equal-width bins for pictures;
- a category (string, dictionary, bool column; bools as ``"true"``/``"false"``): the
  counts of the ``category_limit`` most frequent values, the rest summed as ``other``;
- per column and method, the calibration: the statistic of each of ``chunks`` contiguous
  reference chunks against the whole reference, as mean, standard deviation and
  ``threshold = mean + 3 * std`` (NannyML's way). References under 200 rows are not
  calibrated: drift falls back to :data:`~loopml.data.drift.DEFAULT_THRESHOLDS`.

Columns of other types (timestamps, dates, lists, binary, ...) are left out. A column
with no values is kept with ``count`` 0; drift then reports "no reference values".

:func:`drift_against` measures a table against a sketch, one :class:`ColumnDrift` per
column, gathered in a :class:`TableDrift`. The statistics are those of
:mod:`loopml.data.drift`, computed from the sketch (``*_counts``, ``*_quantiles``).

Example:
    >>> import numpy as np, pyarrow as pa
    >>> rng = np.random.default_rng(0)
    >>> sketch = sketch_table(pa.table({"x": rng.normal(0, 1, 5000)}))
    >>> result = drift_against(sketch, pa.table({"x": rng.normal(1, 1, 500)}))
    >>> result.drifted_columns, result.columns[0].method
    (('x',), 'ks')
    >>> ReferenceSketch.from_bytes(sketch.to_bytes(), "ref.json") == sketch
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from loopml._html import html_table
from loopml.data._check_types import as_table, family_of
from loopml.data.drift import (
    AUTO_SAMPLE_LIMIT,
    DEFAULT_THRESHOLDS,
    METHODS,
    adjust_p_values,
    bin_counts,
    chi_squared_counts,
    js_counts,
    ks_quantiles,
    psi_counts,
    quantile_edges,
    wasserstein_quantiles,
)
from loopml.data.reference import category_counts, distribution, numbers
from loopml.errors import InvalidInputError

__all__ = [
    "SKETCH_VERSION",
    "ColumnDrift",
    "ColumnSketch",
    "ReferenceSketch",
    "TableDrift",
    "drift_against",
    "sketch_table",
]

SKETCH_VERSION = 1
Kind = Literal["numeric", "categorical"]
NUMERIC_METHODS = ("ks", "wasserstein", "psi", "js")
CATEGORICAL_METHODS = ("js", "psi", "chi2")
_P_VALUE_METHODS = frozenset({"ks", "chi2"})
_MIN_CHUNK_ROWS = 100
_MIN_CALIBRATION_ROWS = 200
_HISTOGRAM_BINS = 20
_MAX_QUANTILES = 100_000
_MAX_CATEGORIES = 100_000
_MAX_UNSEEN = 20
_Floats = npt.NDArray[np.float64]
_HTML_COLUMNS = (
    "column", "kind", "method", "statistic", "p (adjusted)", "effect size", "threshold",
    "drifted", "rows", "missing", "out of range", "note / unseen",
)  # fmt: skip


@dataclass(frozen=True)
class ColumnSketch:
    """What a reference keeps of one column (see the module docstring).

    Example:
        >>> ColumnSketch("plan", "categorical", 3, 0, categories={"pro": 2, "basic": 1}).other
        0
    """

    name: str
    kind: Kind
    count: int
    missing: int
    quantiles: tuple[float, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    histogram: dict[str, list[Any]] = field(default_factory=dict)
    deciles: dict[str, list[Any]] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    other: int = 0
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The sketch as JSON-ready data."""
        out = asdict(self)
        out["quantiles"] = list(self.quantiles)
        return out


@dataclass(frozen=True)
class ReferenceSketch:
    """A stored reference: one :class:`ColumnSketch` per column, and how it was chunked.

    Example:
        >>> import pyarrow as pa
        >>> sketch = sketch_table(pa.table({"x": [1.0, 2.0, None]}))
        >>> sketch.columns["x"].count, sketch.columns["x"].missing, sketch.chunks
        (2, 1, 0)
    """

    row_count: int
    chunk_rows: int
    chunks: int
    columns: dict[str, ColumnSketch]
    version: int = SKETCH_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; :meth:`from_dict` reads it back."""
        return {
            "version": self.version,
            "row_count": self.row_count,
            "chunk_rows": self.chunk_rows,
            "chunks": self.chunks,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }

    def to_bytes(self) -> bytes:
        """Compact JSON (a few KB per column)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_dict(cls, data: Any, source: str = "the reference sketch") -> ReferenceSketch:
        """A sketch from :meth:`to_dict`'s data, checked strictly.

        Raises:
            InvalidInputError: naming ``source`` and what is wrong.
        """
        from loopml.data._sketch_check import check_sketch

        checked = check_sketch(data, source, SKETCH_VERSION)
        columns = {
            name: ColumnSketch(**{**column, "quantiles": tuple(column["quantiles"])})
            for name, column in checked["columns"].items()
        }
        return cls(
            row_count=checked["row_count"],
            chunk_rows=checked["chunk_rows"],
            chunks=checked["chunks"],
            columns=columns,
            version=checked["version"],
        )

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> ReferenceSketch:
        """A sketch from :meth:`to_bytes`' output (``source`` names it in errors)."""
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidInputError(
                f"reference sketch {source} is not JSON ({err}); write it with "
                "ReferenceSketch.to_bytes (or sketch the reference data again)"
            ) from err
        return cls.from_dict(parsed, source)

    def distribution(
        self, column: str, values: pa.ChunkedArray | npt.NDArray[Any] | Sequence[Any]
    ) -> dict[str, Any]:
        """``values`` beside the reference, binned alike, for a report's picture.

        Numbers: ``{"kind": "numeric", "edges", "reference", "current"}`` on the
        reference's 20 equal-width bins (widened to the current range); categories:
        ``{"kind": "categorical", "values", "reference", "current"}``.
        """
        sketch = self.column(column)
        if not isinstance(values, pa.ChunkedArray):
            values = pa.chunked_array([pa.array(np.asarray(values).tolist())])
        if sketch.kind == "numeric":
            if not sketch.histogram:
                return {"kind": "numeric", "edges": [], "reference": [], "current": []}
            return distribution({"kind": "numeric", "histogram": sketch.histogram}, values)
        counts: list[list[Any]] = [[value, n] for value, n in sketch.categories.items()]
        if sketch.other:
            counts.append(["(other)", sketch.other])
        return distribution({"kind": "categorical", "counts": counts}, values)

    def column(self, name: str) -> ColumnSketch:
        """The sketch of column ``name``."""
        try:
            return self.columns[name]
        except KeyError:
            known = ", ".join(sorted(self.columns)) or "none"
            raise InvalidInputError(
                f"the reference sketch has no column {name!r}; its columns: {known}"
            ) from None


def sketch_table(
    table: pa.Table | Any,
    *,
    columns: Sequence[str] | None = None,
    chunks: int = 20,
    quantiles: int = 1000,
    category_limit: int = 200,
) -> ReferenceSketch:
    """Profile ``table`` (an Arrow table or pandas frame) once, for drift later.

    Args:
        table: the reference data.
        columns: the columns to keep (default: every number, string, category and bool).
        chunks: contiguous chunks for calibration; fewer when a chunk would hold under
            100 rows, none under 200 rows.
        quantiles: ``Q``, the number of quantile steps kept per number column.
        category_limit: the most frequent values kept per category column.

    Example:
        >>> import pyarrow as pa
        >>> sketch_table(pa.table({"plan": ["pro", "basic", "pro"]})).columns["plan"].categories
        {'pro': 2, 'basic': 1}
    """
    for label, value, low in (("chunks", chunks, 1), ("quantiles", quantiles, 1)):
        _check_int(label, value, low, _MAX_QUANTILES)
    _check_int("category_limit", category_limit, 1, _MAX_CATEGORIES)
    data = as_table(table)
    chosen = _chosen_columns(data, columns)
    rows = data.num_rows
    count = min(chunks, rows // _MIN_CHUNK_ROWS) if rows >= _MIN_CALIBRATION_ROWS else 0
    chunk_rows = rows // count if count else 0
    sketches: dict[str, ColumnSketch] = {}
    for name in chosen:
        column = data.column(name)
        kind = _kind_of(column.type)
        if kind is None:
            continue
        if kind == "numeric":
            sketch = _sketch_numbers(name, column, quantiles)
        else:
            sketch = _sketch_categories(name, column, category_limit)
        calibration = _calibrate(sketch, column, count, chunk_rows)
        sketches[name] = ColumnSketch(**{**_fields(sketch), "calibration": calibration})
    return ReferenceSketch(row_count=rows, chunk_rows=chunk_rows, chunks=count, columns=sketches)


def _check_int(label: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{label} must be a whole number in [{low}, {high}], got {value!r}")


def _chosen_columns(data: pa.Table, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return [str(name) for name in data.column_names]
    if isinstance(columns, str):
        raise InvalidInputError(f"columns must be a list of names, got the string {columns!r}")
    missing = [name for name in columns if name not in data.column_names]
    if missing:
        raise InvalidInputError(
            f"columns {missing} are not in the data; its columns: {', '.join(data.column_names)}"
        )
    return list(columns)


def _kind_of(arrow_type: pa.DataType) -> Kind | None:
    family = family_of(arrow_type)
    if family in ("int", "float"):
        return "numeric"
    if family in ("string", "categorical", "bool"):
        return "categorical"
    return None


def _fields(sketch: ColumnSketch) -> dict[str, Any]:
    return {name: getattr(sketch, name) for name in sketch.__dataclass_fields__}


def _sketch_numbers(name: str, column: pa.ChunkedArray, steps: int) -> ColumnSketch:
    values = np.sort(numbers(column))
    count = int(values.size)
    missing = len(column) - count
    if count == 0:
        return ColumnSketch(name, "numeric", 0, missing)
    steps = max(1, min(steps, count - 1))
    levels = np.linspace(0.0, 1.0, steps + 1)
    edges = quantile_edges(values, 10)
    return ColumnSketch(
        name,
        "numeric",
        count,
        missing,
        quantiles=tuple(np.quantile(values, levels).tolist()),
        minimum=float(values[0]),
        maximum=float(values[-1]),
        mean=float(values.mean()),
        std=float(values.std()),
        histogram=_histogram(values),
        deciles={"edges": edges.tolist(), "counts": bin_counts(values, edges)},
    )


def _histogram(values: _Floats) -> dict[str, list[Any]]:
    low, high = float(values[0]), float(values[-1])
    if high - low <= 1e-9 * max(1.0, abs(low), abs(high)):
        pad = max(0.5, abs(low) * 1e-6)
        low, high = low - pad, high + pad
    counts, edges = np.histogram(values, bins=_HISTOGRAM_BINS, range=(low, high))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _key(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _current_counts(column: pa.ChunkedArray) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value, n in category_counts(column).items():
        key = _key(value)
        counted[key] = counted.get(key, 0) + n
    return counted


def _sketch_categories(name: str, column: pa.ChunkedArray, limit: int) -> ColumnSketch:
    counted = _current_counts(column)
    ordered = sorted(counted.items(), key=lambda pair: (-pair[1], pair[0]))
    kept = dict(ordered[:limit])
    other = sum(n for _, n in ordered[limit:])
    count = sum(counted.values())
    return ColumnSketch(
        name, "categorical", count, len(column) - count, categories=kept, other=other
    )


def _calibrate(
    sketch: ColumnSketch, column: pa.ChunkedArray, chunks: int, chunk_rows: int
) -> dict[str, dict[str, float]]:
    if not chunks or sketch.count == 0:
        return {}
    methods = NUMERIC_METHODS if sketch.kind == "numeric" else CATEGORICAL_METHODS
    found: dict[str, list[float]] = {method: [] for method in methods}
    for index in range(chunks):
        part = column.slice(index * chunk_rows, chunk_rows)
        current = _Current.of(sketch, part)
        if current.rows == 0:
            continue
        for method in methods:
            found[method].append(_statistic(sketch, current, method)[2])
    calibration: dict[str, dict[str, float]] = {}
    for method, values in found.items():
        if len(values) >= 2:
            mean, std = float(np.mean(values)), float(np.std(values, ddof=1))
            calibration[method] = {"mean": mean, "std": std, "threshold": mean + 3 * std}
    return calibration


# --- drift against a sketch -----------------------------------------------------------


@dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column against its reference sketch.

    ``effect_size`` sits beside every p-value: the KS distance for ``ks``, Cramér's V for
    ``chi2``, the distance itself for ``wasserstein``, ``psi`` and ``js``. ``threshold``
    is what ``p_adjusted`` (``threshold_source="p-value"``) or ``statistic`` is compared
    with. A column with no values on one side is not judged: ``statistic`` 0.0,
    ``drifted`` False, and ``note`` says why.

    Example:
        >>> ColumnDrift("x", "numeric", "psi", 0.3, None, None, 0.3, 0.2, "fixed", True,
        ...             100, 0.0, 0.0, 0.0).summary
        'x: psi 0.3 > 0.2 (fixed): drifted'
    """

    column: str
    kind: str
    method: str
    statistic: float
    p_value: float | None
    p_adjusted: float | None
    effect_size: float
    threshold: float
    threshold_source: Literal["p-value", "calibrated", "fixed"]
    drifted: bool
    rows: int
    missing_share: float
    reference_missing_share: float
    out_of_range_share: float
    unseen: tuple[str, ...] = ()
    distribution: dict[str, Any] | None = None
    note: str | None = None

    @property
    def summary(self) -> str:
        """One line: the method, the figure, what it was compared with, the verdict."""
        verdict = "drifted" if self.drifted else "no drift"
        if self.note:
            return f"{self.column}: {self.note}"
        if self.p_adjusted is not None:
            sign = "<" if self.drifted else ">="
            return (
                f"{self.column}: {self.method} {self.statistic:.4g}, p {self.p_adjusted:.3g} "
                f"{sign} {self.threshold:g}: {verdict}"
            )
        sign = ">" if self.drifted else "<="
        return (
            f"{self.column}: {self.method} {self.statistic:.4g} {sign} {self.threshold:.4g} "
            f"({self.threshold_source}): {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``unseen`` as a list)."""
        out = asdict(self)
        out["unseen"] = list(self.unseen)
        return out


@dataclass(frozen=True)
class TableDrift:
    """Every column's drift, and the dataset's verdict.

    ``drift_share`` is the share of judged columns that drifted (of their importance,
    when ``weighted``); the dataset drifted when it reaches ``share_threshold``.

    Example:
        >>> TableDrift((), 0, "bh", 0.05, 0.0, 0.5, False, False).summary
        'no drift: 0 of 0 columns drifted (share 0 < 0.5), 0 rows'
    """

    columns: tuple[ColumnDrift, ...]
    rows: int
    correction: str | None
    alpha: float
    drift_share: float
    share_threshold: float
    dataset_drifted: bool
    weighted: bool

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        """The names of the drifted columns, in table order."""
        return tuple(column.column for column in self.columns if column.drifted)

    @property
    def summary(self) -> str:
        """One line for logs and CI output."""
        verdict = "dataset drift" if self.dataset_drifted else "no drift"
        sign = ">=" if self.dataset_drifted else "<"
        weighted = " by importance" if self.weighted else ""
        return (
            f"{verdict}: {len(self.drifted_columns)} of {len(self.columns)} columns drifted "
            f"(share{weighted} {self.drift_share:.3g} {sign} {self.share_threshold:g}), "
            f"{self.rows} rows"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; :meth:`from_dict` reads it back."""
        return {
            "columns": [column.to_dict() for column in self.columns],
            "rows": self.rows,
            "correction": self.correction,
            "alpha": self.alpha,
            "drift_share": self.drift_share,
            "share_threshold": self.share_threshold,
            "dataset_drifted": self.dataset_drifted,
            "weighted": self.weighted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableDrift:
        """A result from :meth:`to_dict`'s data."""
        try:
            columns = tuple(
                ColumnDrift(**{**column, "unseen": tuple(column.get("unseen", ()))})
                for column in data["columns"]
            )
            return cls(
                columns=columns,
                rows=int(data["rows"]),
                correction=data["correction"],
                alpha=float(data["alpha"]),
                drift_share=float(data["drift_share"]),
                share_threshold=float(data["share_threshold"]),
                dataset_drifted=bool(data["dataset_drifted"]),
                weighted=bool(data["weighted"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInputError(
                f"not a drift result ({err!r}); pass what TableDrift.to_dict returned"
            ) from err

    def _repr_html_(self) -> str:
        records = [
            (
                c.column,
                c.kind,
                c.method,
                c.statistic,
                c.p_adjusted,
                c.effect_size,
                f"{c.threshold:.4g} ({c.threshold_source})",
                "yes" if c.drifted else "no",
                c.rows,
                c.missing_share,
                c.out_of_range_share,
                c.note or ", ".join(c.unseen),
            )
            for c in self.columns
        ]
        return html_table(
            self.summary,
            [("rows", self.rows), ("correction", self.correction), ("alpha", self.alpha)],
            columns=_HTML_COLUMNS,
            records=records,
        )


@dataclass(frozen=True)
class _Current:
    """One column of the current data, reduced to what the statistics need."""

    values: _Floats  # numbers: the finite values
    counts: dict[str, int]  # categories: value -> count
    rows: int
    length: int

    @classmethod
    def of(cls, sketch: ColumnSketch, column: pa.ChunkedArray) -> _Current:
        if sketch.kind == "numeric":
            values = numbers(column)
            return cls(values, {}, int(values.size), len(column))
        counts = _current_counts(column)
        return cls(np.empty(0), counts, sum(counts.values()), len(column))


def _category_vectors(sketch: ColumnSketch, current: _Current) -> tuple[_Floats, _Floats]:
    """Aligned counts: the stored categories, ``other``, then new values as own cells.

    Values outside the stored categories go to the ``other`` cell when the reference had
    a remainder (they may be among its rarer values), else each is a cell of its own.
    """
    known = sketch.categories
    ref = [float(n) for n in known.values()]
    cur = [float(current.counts.get(value, 0)) for value in known]
    outside = {value: n for value, n in current.counts.items() if value not in known}
    if sketch.other:
        ref.append(float(sketch.other))
        cur.append(float(sum(outside.values())))
    else:
        ref.extend(0.0 for _ in outside)
        cur.extend(float(n) for n in outside.values())
    return np.asarray(ref), np.asarray(cur)


def _statistic(
    sketch: ColumnSketch, current: _Current, method: str
) -> tuple[float, float | None, float]:
    """``(statistic, p_value, effect_size)`` of ``current`` against ``sketch``."""
    if sketch.kind == "categorical":
        ref, cur = _category_vectors(sketch, current)
        if method == "chi2":
            statistic, p_value, cramers_v = chi_squared_counts(ref, cur)
            return statistic, p_value, cramers_v
        value = psi_counts(ref, cur) if method == "psi" else js_counts(ref, cur)
        return value, None, value
    if method == "ks":
        distance, p_value = ks_quantiles(sketch.quantiles, sketch.count, current.values)
        return distance, p_value, distance
    if method == "wasserstein":
        value = wasserstein_quantiles(sketch.quantiles, current.values, spread=sketch.std)
        return value, None, value
    ref = np.asarray(sketch.deciles["counts"], dtype=np.float64)
    cur = np.asarray(bin_counts(current.values, sketch.deciles["edges"]), dtype=np.float64)
    value = psi_counts(ref, cur) if method == "psi" else js_counts(ref, cur)
    return value, None, value


def drift_against(
    sketch: ReferenceSketch,
    current: pa.Table | Any,
    *,
    columns: Sequence[str] | None = None,
    method: str = "auto",
    thresholds: Mapping[str, float] | None = None,
    calibrated: bool = True,
    correction: Literal["bh", "bonferroni"] | None = "bh",
    alpha: float = 0.05,
    importance: Mapping[str, float] | None = None,
    share_threshold: float = 0.5,
    distributions: bool = False,
) -> TableDrift:
    """The drift of ``current`` (an Arrow table or pandas frame) against ``sketch``.

    ``method="auto"`` picks by kind and current size: numbers ``ks`` up to
    :data:`~loopml.data.drift.AUTO_SAMPLE_LIMIT` values, else ``wasserstein``;
    categories ``chi2``, else ``js``. The p-values of all ``ks``/``chi2`` columns are
    adjusted together (``correction``) and a column drifted when its adjusted p-value is
    under ``alpha``. A distance is compared with ``thresholds[method]`` when given
    (``fixed``), else with the sketch's calibrated threshold (``calibrated``; raised by
    ``sqrt(chunk_rows / rows)``, ``chunk_rows / rows`` for psi, for windows smaller than a
    reference chunk, never lowered for larger ones), else with
    :data:`~loopml.data.drift.DEFAULT_THRESHOLDS` (``fixed``).

    Args:
        sketch: the stored reference.
        current: the window to judge.
        columns: the columns to judge (default: the sketch's columns found in ``current``).
        method: ``auto`` or one of ``ks``, ``wasserstein``, ``psi``, ``js``, ``chi2``.
        thresholds: fixed thresholds per distance method.
        calibrated: use the sketch's calibration when it has one.
        correction: ``bh`` (Benjamini-Hochberg), ``bonferroni`` or ``None``.
        alpha: the significance level for p-value methods.
        importance: weights per column; the drift share is then a share of importance.
        share_threshold: the dataset drifted when the drift share reaches this.
        distributions: attach each column's reference-vs-current picture data.

    Raises:
        InvalidInputError: an unknown method or one the column's kind cannot take, a
            column missing on either side, a bad threshold, alpha or importance.
    """
    data = as_table(current)
    _check_options(method, thresholds, alpha, share_threshold, correction)
    names = _judged_columns(sketch, data, columns)
    judged = [_judge(sketch, name, data.column(name), method, distributions) for name in names]
    judged = _apply_thresholds(sketch, judged, thresholds or {}, calibrated, correction, alpha)
    share, weighted = _share(judged, importance)
    considered = [column for column in judged if column.note is None]
    return TableDrift(
        columns=tuple(judged),
        rows=data.num_rows,
        correction=correction,
        alpha=alpha,
        drift_share=share,
        share_threshold=share_threshold,
        dataset_drifted=bool(considered) and share >= share_threshold,
        weighted=weighted,
    )


def _check_options(
    method: str,
    thresholds: Mapping[str, float] | None,
    alpha: float,
    share_threshold: float,
    correction: str | None,
) -> None:
    if method != "auto" and method not in METHODS:
        raise InvalidInputError(f"unknown drift method {method!r}; use auto or one of {METHODS}")
    if correction not in ("bh", "bonferroni", None):
        raise InvalidInputError(
            f"unknown p-value correction {correction!r}; use 'bh', 'bonferroni' or None"
        )
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be a p-value in (0, 1), got {alpha!r}")
    if not isinstance(share_threshold, int | float) or not 0 <= share_threshold <= 1:
        raise InvalidInputError(f"share_threshold must be in [0, 1], got {share_threshold!r}")
    for name, value in (thresholds or {}).items():
        if name not in METHODS:
            raise InvalidInputError(f"thresholds names unknown method {name!r}; use {METHODS}")
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise InvalidInputError(f"threshold for {name} must be a number >= 0, got {value!r}")


def _judged_columns(
    sketch: ReferenceSketch, data: pa.Table, columns: Sequence[str] | None
) -> list[str]:
    if columns is None:
        names = [name for name in sketch.columns if name in data.column_names]
        if not names:
            raise InvalidInputError(
                "the current data has none of the reference sketch's columns "
                f"({', '.join(sketch.columns) or 'none'}); compare the same table"
            )
        return names
    if isinstance(columns, str):
        raise InvalidInputError(f"columns must be a list of names, got the string {columns!r}")
    for name in columns:
        sketch.column(name)
        if name not in data.column_names:
            raise InvalidInputError(
                f"column {name!r} is not in the current data; its columns: "
                f"{', '.join(data.column_names)}"
            )
    return list(columns)


def _pick_method(sketch: ColumnSketch, method: str, rows: int) -> str:
    small = rows <= AUTO_SAMPLE_LIMIT
    if method == "auto":
        if sketch.kind == "numeric":
            return "ks" if small else "wasserstein"
        return "chi2" if small else "js"
    allowed = NUMERIC_METHODS if sketch.kind == "numeric" else CATEGORICAL_METHODS
    if method not in allowed:
        raise InvalidInputError(
            f"drift method {method!r} does not apply to {sketch.kind} column "
            f"{sketch.name!r}; it takes {', '.join(allowed)} (or pass columns=[...] "
            "or method='auto')"
        )
    return method


def _judge(
    reference: ReferenceSketch,
    name: str,
    column: pa.ChunkedArray,
    method: str,
    distributions: bool,
) -> ColumnDrift:
    sketch = reference.columns[name]
    if _kind_of(column.type) != sketch.kind:
        raise InvalidInputError(
            f"column {name!r} is {sketch.kind} in the reference sketch but "
            f"{column.type} in the current data; cast it back or sketch the reference again"
        )
    current = _Current.of(sketch, column)
    chosen = _pick_method(sketch, method, current.rows)
    total = sketch.count + sketch.missing
    base: dict[str, Any] = {
        "column": name,
        "kind": sketch.kind,
        "method": chosen,
        "rows": current.rows,
        "missing_share": (current.length - current.rows) / current.length
        if current.length
        else 0.0,
        "reference_missing_share": sketch.missing / total if total else 0.0,
        "distribution": reference.distribution(name, column) if distributions else None,
    }
    note = None
    if sketch.count == 0:
        note = "no reference values"
    elif current.rows == 0:
        note = "no current values"
    if note is not None:
        return ColumnDrift(
            **base, statistic=0.0, p_value=None, p_adjusted=None, effect_size=0.0,
            threshold=0.0, threshold_source="fixed", drifted=False, out_of_range_share=0.0,
            note=note,
        )  # fmt: skip
    statistic, p_value, effect = _statistic(sketch, current, chosen)
    out_of_range, unseen = _outside(sketch, current)
    return ColumnDrift(
        **base, statistic=statistic, p_value=p_value, p_adjusted=p_value, effect_size=effect,
        threshold=0.0, threshold_source="fixed", drifted=False,
        out_of_range_share=out_of_range, unseen=unseen,
    )  # fmt: skip


def _outside(sketch: ColumnSketch, current: _Current) -> tuple[float, tuple[str, ...]]:
    if sketch.kind == "numeric":
        values = current.values
        low, high = sketch.minimum, sketch.maximum
        assert low is not None
        assert high is not None
        return float(np.count_nonzero((values < low) | (values > high))) / current.rows, ()
    new = {value: n for value, n in current.counts.items() if value not in sketch.categories}
    listed = sorted(new, key=lambda value: (-new[value], value))[:_MAX_UNSEEN]
    return sum(new.values()) / current.rows, tuple(listed)


def _apply_thresholds(
    reference: ReferenceSketch,
    judged: list[ColumnDrift],
    thresholds: Mapping[str, float],
    calibrated: bool,
    correction: str | None,
    alpha: float,
) -> list[ColumnDrift]:
    tested = [i for i, c in enumerate(judged) if c.note is None and c.p_value is not None]
    adjusted = adjust_p_values([judged[i].p_value or 0.0 for i in tested], correction)
    out = list(judged)
    for i, p in zip(tested, adjusted.tolist(), strict=True):
        limit = float(thresholds.get(out[i].method, alpha))
        out[i] = _replace(out[i], p_adjusted=p, threshold=limit, drifted=p < limit,
                          threshold_source="p-value")  # fmt: skip
    for i, column in enumerate(out):
        if column.note is not None or column.p_value is not None:
            continue
        limit, source = _distance_threshold(reference, column, thresholds, calibrated)
        out[i] = _replace(column, threshold=limit, threshold_source=source,
                          drifted=column.statistic > limit)  # fmt: skip
    return out


def _distance_threshold(
    reference: ReferenceSketch,
    column: ColumnDrift,
    thresholds: Mapping[str, float],
    calibrated: bool,
) -> tuple[float, Literal["calibrated", "fixed"]]:
    method = column.method
    if method in thresholds:
        return float(thresholds[method]), "fixed"
    calibration = reference.columns[column.column].calibration.get(method)
    if calibrated and calibration is not None:
        ratio = max(reference.chunk_rows / column.rows, 1.0)
        scale = ratio if method == "psi" else math.sqrt(ratio)
        return calibration["threshold"] * scale, "calibrated"
    return DEFAULT_THRESHOLDS[method], "fixed"


def _replace(column: ColumnDrift, **changes: Any) -> ColumnDrift:
    return ColumnDrift(**{**_drift_fields(column), **changes})


def _drift_fields(column: ColumnDrift) -> dict[str, Any]:
    return {name: getattr(column, name) for name in column.__dataclass_fields__}


def _share(judged: list[ColumnDrift], importance: Mapping[str, float] | None) -> tuple[float, bool]:
    considered = [column for column in judged if column.note is None]
    if importance is None:
        drifted = sum(1 for column in considered if column.drifted)
        return (drifted / len(considered) if considered else 0.0), False
    for name, weight in importance.items():
        if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise InvalidInputError(f"importance of {name!r} must be a number >= 0, got {weight!r}")
    total = sum(float(importance.get(column.column, 0.0)) for column in considered)
    if considered and total <= 0:
        raise InvalidInputError(
            "importance gives no weight to any judged column; name at least one of "
            f"{', '.join(column.column for column in considered)} with a weight > 0"
        )
    moved = sum(float(importance.get(c.column, 0.0)) for c in considered if c.drifted)
    return (moved / total if total else 0.0), True
