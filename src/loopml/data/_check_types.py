"""Arrow types as the dtype families a schema speaks, and the data as one Arrow table.

Validation runs on Arrow (``pyarrow.compute``): vectorised, typed, and the same for a
pandas frame, a Parquet file or a CSV file. ``NaN`` in a float column counts as missing,
as pandas has always treated it.

Example:
    >>> import pyarrow as pa
    >>> family_of(pa.int32()), family_of(pa.dictionary(pa.int8(), pa.string()))
    ('int', 'categorical')
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc

from loopml.errors import InvalidInputError

__all__ = [
    "DTYPES",
    "Bound",
    "Dtype",
    "Scalar",
    "as_table",
    "beyond",
    "compatible",
    "family_of",
    "missing_mask",
    "plain",
]

Dtype = Literal["int", "float", "bool", "string", "categorical", "timestamp", "date", "other"]
DTYPES: tuple[Dtype, ...] = (
    "int",
    "float",
    "bool",
    "string",
    "categorical",
    "timestamp",
    "date",
    "other",
)
_EPOCH = dt.datetime(1970, 1, 1)
Scalar = str | int | float | bool
"""A category value."""
Bound = int | float | dt.datetime | dt.date
"""A range bound: a number, or a datetime / date for temporal columns."""

# What else a column may hold where the schema expects a family (safe widenings).
_ACCEPTS: dict[str, frozenset[str]] = {
    "float": frozenset({"int"}),
    "string": frozenset({"categorical"}),
    "categorical": frozenset({"string"}),
}


def family_of(arrow_type: pa.DataType) -> Dtype:
    """The dtype family of an Arrow type; ``other`` for lists, structs, binary, ..."""
    if pa.types.is_dictionary(arrow_type):
        return "categorical"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    return "other"


def compatible(expected: str, observed: str) -> bool:
    """Whether a column of family ``observed`` satisfies a schema expecting ``expected``."""
    return expected == observed or observed in _ACCEPTS.get(expected, frozenset())


def as_table(data: Any) -> pa.Table:
    """``data`` (an Arrow table or record batch, or a pandas frame) as an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise InvalidInputError(
                f"the data frame cannot be read as typed columns: {err}; "
                "give each column one type (e.g. df[col].astype(str))"
            ) from err
    raise InvalidInputError(
        f"expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}"
    )


def plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` with dictionary encoding undone and decimals as floats, ready to compare."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    if pa.types.is_decimal(column.type):
        return column.cast(pa.float64())
    return column


def missing_mask(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """True where a value is null, or NaN in a float column."""
    if pa.types.is_floating(column.type):
        return pc.is_null(column, nan_is_null=True)
    return pc.is_null(column)


def beyond(values: pa.ChunkedArray, bound: Bound, *, below: bool) -> pa.ChunkedArray | None:
    """True where a value is below ``bound`` (``below``) or above it; ``None`` if none can be.

    Integers and timestamps compare as exact integers in the column's own type, with the
    bound rounded inwards to it: no float rounding, and a bound outside what the type can
    hold never overflows. A naive datetime bound on a column with a time zone is read as
    UTC; an aware bound on a naive column is converted to UTC.
    """
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_timestamp(kind):
        number = _as_integer(bound, kind, below=below)
        lowest, highest = _integer_range(kind)
        if number <= lowest if below else number >= highest:
            return None
        if number > highest if below else number < lowest:
            return pc.is_valid(values)  # every value is past a bound the type cannot reach
        scalar = pa.scalar(int(number), type=pa.int64() if pa.types.is_timestamp(kind) else kind)
        scalar = scalar.cast(kind)
    elif pa.types.is_date(kind):
        scalar = pa.scalar(bound, type=kind)
    else:
        scalar = pa.scalar(float(cast(float, bound)), type=pa.float64())
    return pc.less(values, scalar) if below else pc.greater(values, scalar)


def _as_integer(bound: Bound, kind: pa.DataType, *, below: bool) -> int | float:
    """``bound`` in the column's integer units, rounded so that comparisons stay exact."""
    if isinstance(bound, dt.datetime):
        micros = _micros(bound)
        per = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(kind.unit)
        if per is None:  # nanoseconds
            return micros * 1000
        return -(-micros // per) if below else micros // per
    if isinstance(bound, float) and math.isfinite(bound):
        return math.ceil(bound) if below else math.floor(bound)
    return cast(int | float, bound)  # an int, or an infinite float


def _micros(value: dt.datetime) -> int:
    # Arrow stores instants as UTC, zoned or not: a naive bound is UTC, an aware one converts.
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def _integer_range(kind: pa.DataType) -> tuple[int, int]:
    if pa.types.is_timestamp(kind):
        return -(2**63), 2**63 - 1
    width = kind.bit_width
    if pa.types.is_signed_integer(kind):
        return -(2 ** (width - 1)), 2 ** (width - 1) - 1
    return 0, 2**width - 1
