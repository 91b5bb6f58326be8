"""Statistical profiles of tables: what each column holds, in plain JSON.

A profile is computed once, when a table version is logged, with vectorised Arrow and
NumPy (no per-row Python), and is stored on the version. Validation and drift read it,
so its shape is a contract::

    {
      "profile_version": 1,
      "row_count": 150,
      "columns": {
        "<column>": {
          "type": "double",            # logical Arrow type, as in the version's schema
          "kind": "numeric",           # numeric | string | boolean | temporal | other
          "nulls": 3,                  # missing values (Arrow nulls)
          "null_fraction": 0.02,       # nulls / row_count (0.0 for an empty table)
          "distinct": 42,              # distinct non-null values, exact; None if not
                                       # computable for the type (lists, structs)

          # numeric only (integers, floats, decimals):
          "nan_count": 0,              # float NaN: not null, not in the statistics below
          "inf_count": 0,              # +inf and -inf: not in the statistics below
          "min": 0.1, "max": 7.9,      # over finite values (ints stay ints)
          "mean": 3.76, "std": 1.76,   # std is the sample standard deviation (ddof=1);
                                       # 0.0 for a single value
          "quantiles": {"0": …, "0.01": …, "0.05": …, "0.25": …, "0.5": …,
                        "0.75": …, "0.95": …, "0.99": …, "1": …},   # linear interpolation
          "histogram": {"edges": [21 floats], "counts": [20 ints]},  # numpy.histogram,
                                       # 20 equal bins over [min, max] of the finite
                                       # values (a constant column: bins centred on it,
                                       # ±max(0.5, 1e-6·|value|)); counts sum to the
                                       # finite values; None if max - min overflows

          # string, categorical (dictionary) and boolean:
          "top": [{"value": "setosa", "count": 50}, …],  # up to 50, most frequent first,
                                                          # ties by value
          # temporal (timestamps, dates, times):
          "min": "2024-01-01T00:00:00", "max": "…"        # ISO 8601 text
        }
      }
    }

Numeric statistics are ``None`` when a column has no finite value. NaN from pandas
float columns becomes an Arrow null when a DataFrame is logged (as pandas treats it), so
it counts in ``nulls``; NaN inside Arrow or Parquet data counts in ``nan_count``. The
profile holds no NaN or infinity anywhere, so it is strict JSON.

Example:
    >>> import pyarrow as pa
    >>> p = profile_table(pa.table({"x": [1.0, 2.0, None]}))
    >>> p["row_count"], p["columns"]["x"]["nulls"], p["columns"]["x"]["mean"]
    (3, 1, 1.5)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._tables import type_name

__all__ = ["HISTOGRAM_BINS", "PROFILE_VERSION", "QUANTILES", "TOP_VALUES", "profile_table"]

PROFILE_VERSION = 1
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
HISTOGRAM_BINS = 20
TOP_VALUES = 50


def profile_table(table: pa.Table) -> dict[str, Any]:
    """The statistical profile of ``table`` (shape in the module docstring).

    Args:
        table: any Arrow table.

    Returns:
        A JSON-able dict.

    Example:
        >>> import pyarrow as pa
        >>> profile_table(pa.table({"s": ["a", "b", "a"]}))["columns"]["s"]["top"][0]
        {'value': 'a', 'count': 2}
    """
    rows = table.num_rows
    columns = {
        name: _profile_column(column, rows)
        for name, column in zip(table.column_names, table.columns, strict=True)
    }
    return {"profile_version": PROFILE_VERSION, "row_count": rows, "columns": columns}


def _profile_column(column: pa.ChunkedArray, rows: int) -> dict[str, Any]:
    kind = _kind(column.type)
    nulls = column.null_count
    stats: dict[str, Any] = {
        "type": type_name(column.type),
        "kind": kind,
        "nulls": nulls,
        "null_fraction": nulls / rows if rows else 0.0,
        "distinct": _distinct(column),
    }
    if kind == "numeric":
        stats.update(_numeric(column))
    elif kind in ("string", "boolean"):
        stats["top"] = _top(column)
    elif kind == "temporal":
        stats.update(_temporal_range(column))
    return stats


def _kind(arrow_type: pa.DataType) -> str:
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_temporal(t) and not pa.types.is_duration(t) and not pa.types.is_interval(t):
        return "temporal"
    return "other"


def _distinct(column: pa.ChunkedArray) -> int | None:
    try:
        return int(pc.count_distinct(_decoded(column), mode="only_valid").as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    values = _decoded(column).drop_null()
    floats = values.cast(pa.float64(), safe=False).to_numpy()
    finite_mask = np.isfinite(floats)
    finite = floats[finite_mask]
    nan_count = int(np.isnan(floats).sum())
    stats: dict[str, Any] = {
        "nan_count": nan_count,
        "inf_count": int(len(floats) - len(finite) - nan_count),
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "quantiles": None,
        "histogram": None,
    }
    if not len(finite):
        return stats
    low, high = _exact_range(values, finite)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow gives None, not a warning
        stats.update(
            min=low,
            max=high,
            mean=_number(np.mean(finite)),
            std=_number(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0,
            quantiles={
                _q_key(q): _number(v)
                for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES), strict=True)
            },
            histogram=_histogram(finite),
        )
    return stats


def _histogram(finite: np.ndarray) -> dict[str, list[Any]] | None:
    """20 equal bins over the finite values; ``None`` if their span overflows a float."""
    low, high = float(finite.min()), float(finite.max())
    if not math.isfinite(high - low):
        return None
    if high - low <= 1e-9 * max(1.0, abs(low), abs(high)):
        # (nearly) constant: centre the bins on the value, wide enough to be representable
        pad = max(0.5, abs(low) * 1e-6)
        low, high = low - pad, high + pad
    try:
        counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS, range=(low, high))
    except ValueError:  # bins too fine for float64 at this magnitude
        return None
    return {"edges": [float(edge) for edge in edges], "counts": counts.tolist()}


def _exact_range(values: pa.ChunkedArray, finite: np.ndarray) -> tuple[Any, Any]:
    """Min and max: integers exactly (a float64 could round them), others as floats."""
    if pa.types.is_integer(values.type):
        found = pc.min_max(values)
        return found["min"].as_py(), found["max"].as_py()
    return _number(finite.min()), _number(finite.max())


def _top(column: pa.ChunkedArray) -> list[dict[str, Any]]:
    counted = pc.value_counts(_decoded(column).drop_null())
    if not len(counted):
        return []
    values, counts = counted.field("values"), counted.field("counts")
    order = pc.sort_indices(
        pa.table({"v": values, "n": counts}),
        sort_keys=[("n", "descending"), ("v", "ascending")],
    )[:TOP_VALUES]
    return [
        {"value": value, "count": count}
        for value, count in zip(
            values.take(order).to_pylist(), counts.take(order).to_pylist(), strict=True
        )
    ]


def _temporal_range(column: pa.ChunkedArray) -> dict[str, Any]:
    found = pc.min_max(column)
    return {"min": _iso(found["min"].as_py()), "max": _iso(found["max"].as_py())}


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if isoformat is not None else str(value)


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _q_key(q: float) -> str:
    return format(q, "g")
