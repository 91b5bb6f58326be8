"""Learn a schema from data: what each column holds, written down as checks it passes.

Rules, chosen so that a schema inferred from one batch is useful on the next:

- ``nullable`` when a column has any null (or NaN); ``max_null_fraction`` is the share
  seen, rounded up to 4 decimals.
- ``min_value`` / ``max_value`` for int and float columns, widened by ``range_slack`` of
  their width on each side. Timestamp and date columns get only ``min_value``: time
  moves forward, so an upper bound learned today would reject tomorrow's data.
  Timestamps keep microseconds (rounded outwards); a time zone's bounds are in UTC.
- ``categories`` only for string and categorical columns with at most
  ``categorical_max`` distinct values and some value repeated: a column of all-distinct
  strings is an identifier, not a category.
- ``unique`` only for int and string columns with all values distinct: identifiers.
  Distinct floats or timestamps are usually chance, not a rule.

Example:
    >>> import pyarrow as pa
    >>> infer_table(pa.table({"id": [1, 2, 3]}), categorical_max=50, range_slack=0.0,
    ...             row_count_slack=None, description="").column("id").unique
    True
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._check_types import Bound, Scalar, as_table, family_of, missing_mask, plain
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from loopml.data.schema import ColumnSchema, DataSchema

__all__ = ["infer_table"]

_EPOCH = dt.datetime(1970, 1, 1)
_MICROS_PER = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}
_FIRST_US = (dt.datetime.min - _EPOCH) // dt.timedelta(microseconds=1)
_LAST_US = (dt.datetime.max - _EPOCH) // dt.timedelta(microseconds=1)


def infer_table(
    data: Any,
    *,
    categorical_max: int,
    range_slack: float,
    row_count_slack: float | None,
    description: str,
) -> DataSchema:
    """The schema ``data`` passes; see the module docstring for the rules."""
    from loopml.data.schema import DataSchema

    _check_options(categorical_max, range_slack, row_count_slack)
    table = as_table(data)
    rows = table.num_rows
    if rows == 0:
        raise InvalidInputError("cannot infer a schema from 0 rows; use data with some rows")
    columns = tuple(
        _column(str(name), table.column(i), rows, categorical_max, range_slack)
        for i, name in enumerate(table.column_names)
    )
    low = high = None
    if row_count_slack is not None:
        low = max(0, math.floor(rows * (1 - row_count_slack)))
        high = math.ceil(rows * (1 + row_count_slack))
    from loopml.data.reference import reference_profile

    return DataSchema(
        columns,
        min_rows=low,
        max_rows=high,
        description=description,
        reference_profile=reference_profile(table),
    )


def _check_options(categorical_max: int, range_slack: float, row_count_slack: float | None) -> None:
    if (
        isinstance(categorical_max, bool)
        or not isinstance(categorical_max, int)
        or categorical_max < 0
    ):
        raise InvalidInputError(
            f"categorical_max must be a whole number >= 0, got {categorical_max!r}"
        )
    for name, value in (("range_slack", range_slack), ("row_count_slack", row_count_slack)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InvalidInputError(f"{name} must be a number >= 0, got {value!r}")


def _column(
    name: str, column: pa.ChunkedArray, rows: int, categorical_max: int, range_slack: float
) -> ColumnSchema:
    from loopml.data.schema import ColumnSchema

    dtype = family_of(column.type)
    values = plain(column)
    missing = int(pc.sum(missing_mask(values)).as_py() or 0)
    present = rows - missing
    low = high = None
    if present and dtype in ("int", "float", "timestamp", "date"):
        low, high = _range(values, dtype, range_slack)
        if dtype in ("timestamp", "date"):
            high = None  # time moves forward: no upper bound (see the module docstring)
    distinct = (
        int(pc.count_distinct(values).as_py()) if dtype in ("int", "string", "categorical") else 0
    )
    categories = None
    if (
        dtype in ("string", "categorical")
        and 0 < distinct <= categorical_max
        and distinct < present
    ):
        categories = _domain(values)
    return ColumnSchema(
        name=name,
        dtype=dtype,
        nullable=missing > 0,
        # Rounded up in exact integer arithmetic, so the data always passes.
        max_null_fraction=-(-missing * 10_000 // rows) / 10_000 if missing else None,
        min_value=low,
        max_value=high,
        categories=categories,
        unique=dtype in ("int", "string") and present > 1 and distinct == present,
    )


def _range(values: pa.ChunkedArray, dtype: str, slack: float) -> tuple[Bound | None, Bound | None]:
    if dtype == "timestamp":
        return _timestamp_range(values, slack)
    extremes = pc.min_max(values)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if dtype == "date":
        span = math.ceil((high - low).days * slack)
        first = max(low.toordinal() - span, 1)
        last = min(high.toordinal() + span, dt.date.max.toordinal())
        return dt.date.fromordinal(first), dt.date.fromordinal(last)
    if dtype == "int":
        # Exact integer arithmetic, kept inside what the column's type can hold.
        span = math.ceil((high - low) * slack)
        width = values.type.bit_width
        signed = pa.types.is_signed_integer(values.type)
        floor, ceiling = (
            (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)
        )
        return max(low - span, floor), min(high + span, ceiling)
    if slack and math.isfinite(low) and math.isfinite(high):
        span = (high - low) * slack
        low, high = low - span, high + span
    return low, high


def _timestamp_range(
    values: pa.ChunkedArray, slack: float
) -> tuple[dt.datetime | None, dt.datetime | None]:
    unit, tz = values.type.unit, values.type.tz
    extremes = pc.min_max(values.cast(pa.int64()))
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if unit == "ns":  # bounds keep microseconds: round outwards
        low, high = low // 1000, -(-high // 1000)
    else:
        low, high = low * _MICROS_PER[unit], high * _MICROS_PER[unit]
    if low < _FIRST_US or high > _LAST_US:
        return None, None  # beyond Python's datetimes (years 1-9999): no bounds
    span = math.ceil((high - low) * slack)
    first, last = max(low - span, _FIRST_US), min(high + span, _LAST_US)
    bounds = [_EPOCH + dt.timedelta(microseconds=v) for v in (first, last)]
    if tz is not None:
        bounds = [b.replace(tzinfo=dt.UTC) for b in bounds]
    return bounds[0], bounds[1]


def _domain(values: pa.ChunkedArray) -> tuple[Scalar, ...] | None:
    found = [v for v in pc.unique(values).to_pylist() if v is not None]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in found):
        return None  # e.g. a dictionary of floats: no category domain
    return tuple(sorted(found, key=lambda v: (isinstance(v, str), v)))
