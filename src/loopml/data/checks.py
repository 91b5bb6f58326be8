"""The data checks: each looks at a whole column (or table) at once and reports every breach.

A check never stops at the first bad value: it counts all of them with vectorised
:mod:`pyarrow.compute` kernels and returns one :class:`Violation` saying what was
expected, what was seen, how many rows offend and a few example values with their
counts. For checks about a whole column or table (missing or extra column, type, row
count, drift) ``count`` is the number of rows and ``fraction`` is 1.

Example:
    >>> import pyarrow as pa
    >>> from loopml.data.schema import ColumnSchema
    >>> spec = ColumnSchema("age", "int", min_value=0, max_value=120)
    >>> found = check_range(pa.chunked_array([[30, -1, 200, 40]]), spec, rows=4)
    >>> found.count, found.fraction, found.examples
    (2, 0.5, ((-1, 1), (200, 1)))
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._check_types import beyond, compatible, family_of, missing_mask, plain
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from loopml.data.schema import ColumnSchema, DataSchema, Severity

__all__ = [
    "Violation",
    "check_categories",
    "check_column",
    "check_columns",
    "check_nulls",
    "check_range",
    "check_row_count",
    "check_type",
    "check_unique",
    "check_unique_keys",
]

EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One way the data breaks the schema.

    Attributes:
        column: the column, or ``None`` for a table-level check.
        check: ``missing_column``, ``extra_column``, ``duplicate_column``, ``type``,
            ``nulls``, ``range``, ``categories``, ``unique``, ``row_count``,
            ``unique_key`` or ``drift``.
        expected: what the schema asks for, in words.
        observed: what the data has, in words.
        count: how many rows offend.
        fraction: ``count`` as a share of all rows.
        severity: ``error`` fails validation, ``warn`` does not.
        message: one sentence for people.
        examples: up to five offending values, each with the number of rows holding it.

    Example:
        >>> v = Violation("age", "nulls", "no nulls", "3 nulls", 3, 0.03, "error", "...")
        >>> v.to_dict()["fraction"]
        0.03
    """

    column: str | None
    check: str
    expected: str
    observed: str
    count: int
    fraction: float
    severity: Severity
    message: str
    examples: tuple[tuple[Any, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The violation as JSON-ready data (dates as ISO text)."""
        return {
            "column": self.column,
            "check": self.check,
            "severity": self.severity,
            "expected": self.expected,
            "observed": self.observed,
            "count": self.count,
            "fraction": self.fraction,
            "message": self.message,
            "examples": [{"value": _jsonable(v), "count": n} for v, n in self.examples],
        }


def check_columns(names: list[str], schema: DataSchema, rows: int) -> list[Violation]:
    """Required columns that are missing, columns the schema does not know, and repeats."""
    found: list[Violation] = []
    present = set(names)
    for spec in schema.columns:
        if spec.required and spec.name not in present:
            message = f"column {spec.name!r} is missing"
            found.append(_whole(spec, "missing_column", "present", "missing", rows, message))
    for name, times in Counter(names).items():
        if times > 1:
            message = f"column {name!r} appears {times} times; only the first is checked"
            found.append(
                Violation(name, "duplicate_column", "1", str(times), rows, 1.0, "error", message)
            )
    if schema.extra_columns != "ignore":
        known = set(schema.names)
        severity = schema.extra_columns
        for name in dict.fromkeys(n for n in names if n not in known):
            message = f"column {name!r} is not in the schema"
            extra = Violation(
                name, "extra_column", "absent", "present", rows, 1.0, severity, message
            )
            found.append(extra)
    return found


def check_row_count(rows: int, schema: DataSchema) -> Violation | None:
    """Whether the row count is within ``[min_rows, max_rows]``."""
    low, high = schema.min_rows, schema.max_rows
    if (low is None or rows >= low) and (high is None or rows <= high):
        return None
    lowest, highest = low if low is not None else 0, high if high is not None else "any"
    expected = f"[{lowest}, {highest}]"
    message = f"the data has {rows} rows; expected between {lowest} and {highest}"
    return Violation(None, "row_count", expected, str(rows), rows, 1.0, schema.severity, message)


def check_unique_keys(table: pa.Table, schema: DataSchema) -> list[Violation]:
    """Rows that repeat an earlier row's values in a ``unique_keys`` combination.

    Rows with a null in the key are skipped, as a SQL unique constraint does.
    """
    found = []
    for key in schema.unique_keys:
        if set(key) <= set(table.column_names):  # else the missing-column check reports it
            violation = _repeated_key(table, key, schema.severity)
            found += [violation] if violation is not None else []
    return found


def _repeated_key(table: pa.Table, key: tuple[str, ...], severity: Severity) -> Violation | None:
    columns = {f"k{i}": plain(table.column(name)) for i, name in enumerate(key)}
    keyed = pa.table(columns).drop_null()
    groups = keyed.group_by(list(columns)).aggregate([([], "count_all")])
    repeats = keyed.num_rows - groups.num_rows
    if repeats == 0:
        return None
    order = pc.array_sort_indices(groups.column("count_all"), order="descending")
    top = groups.take(order[:EXAMPLES]).to_pylist()
    examples = tuple((tuple(row[c] for c in columns), row["count_all"]) for row in top)
    label = ", ".join(key)
    message = f"{_count(repeats, 'row')} repeat an earlier ({label}) combination"
    fraction = _share(repeats, table.num_rows)
    return Violation(
        label, "unique_key", "unique", f"{repeats} repeated", repeats, fraction, severity,
        message, examples,
    )  # fmt: skip


def check_column(column: pa.ChunkedArray, spec: ColumnSchema, rows: int) -> list[Violation]:
    """Every check of one column; after a type change only the null check still runs."""
    wrong_type = check_type(column, spec, rows)
    values = plain(column)
    checks: tuple[Callable[[pa.ChunkedArray, ColumnSchema, int], Violation | None], ...]
    if wrong_type is not None:
        checks = (check_nulls,)
    else:
        checks = (check_nulls, check_range, check_categories, check_unique)
    found = [wrong_type] if wrong_type is not None else []
    found += [v for check in checks if (v := check(values, spec, rows)) is not None]
    return found


def check_type(column: pa.ChunkedArray, spec: ColumnSchema, rows: int) -> Violation | None:
    """Whether the column's dtype family is (compatible with) the schema's."""
    observed = family_of(column.type)
    if compatible(spec.dtype, observed):
        return None
    seen = f"{observed} ({column.type})"
    message = f"column {spec.name!r} should be {spec.dtype} but is {seen}"
    return _whole(spec, "type", spec.dtype, seen, rows, message)


def check_nulls(values: pa.ChunkedArray, spec: ColumnSchema, rows: int) -> Violation | None:
    """Nulls (and NaN) where none are allowed, or more than ``max_null_fraction``."""
    allowed = 0.0 if not spec.nullable else spec.max_null_fraction
    if allowed is None:
        return None
    count = int(pc.sum(missing_mask(values)).as_py() or 0)
    fraction = _share(count, rows)
    if count == 0 or fraction <= allowed:
        return None
    expected = "no nulls" if not spec.nullable else f"at most {allowed:.2%} nulls"
    observed = f"{_count(count, 'null')} ({fraction:.2%})"
    message = f"column {spec.name!r} has {observed}; expected {expected}"
    return _found(spec, "nulls", expected, observed, count, fraction, message)


def check_range(values: pa.ChunkedArray, spec: ColumnSchema, rows: int) -> Violation | None:
    """Values below ``min_value`` or above ``max_value``."""
    low, high = spec.min_value, spec.max_value
    if low is None and high is None:
        return None
    masks = [beyond(values, low, below=True)] if low is not None else []
    masks += [beyond(values, high, below=False)] if high is not None else []
    found = [mask for mask in masks if mask is not None]
    if not found:
        return None
    outside = found[0] if len(found) == 1 else pc.or_(found[0], found[1])
    count = int(pc.sum(outside).as_py() or 0)
    if count == 0:
        return None
    extremes = pc.min_max(values)
    expected = f"[{_show(low, '-inf')}, {_show(high, 'inf')}]"
    observed = f"[{_show(extremes['min'].as_py())}, {_show(extremes['max'].as_py())}]"
    offending = _top(pc.filter(values, outside))
    fraction = _share(count, rows)
    message = (
        f"column {spec.name!r} has {_count(count, 'value')} ({fraction:.2%}) outside {expected}, "
        f"e.g. {', '.join(_show(v) for v, _ in offending)}"
    )
    return _found(spec, "range", expected, observed, count, fraction, message, offending)


def check_categories(values: pa.ChunkedArray, spec: ColumnSchema, rows: int) -> Violation | None:
    """Values outside ``categories``: which ones, and how many rows hold each."""
    if spec.categories is None:
        return None
    counts = pc.value_counts(values)
    seen = counts.field("values")
    try:
        known = pc.is_in(seen, value_set=pa.array(list(spec.categories)))
    except (pa.ArrowTypeError, pa.ArrowInvalid) as err:
        raise InvalidInputError(
            f"columns.{spec.name}.categories cannot be compared with a {values.type} "
            f"column: {err}; list values of the column's type"
        ) from err
    unseen = counts.filter(pc.and_(pc.is_valid(seen), pc.invert(known)))
    if len(unseen) == 0:
        return None
    count = int(pc.sum(unseen.field("counts")).as_py())
    examples = _top_counts(unseen)
    fraction = _share(count, rows)
    names = ", ".join(f"{_show(v)} ({n})" for v, n in examples)
    more = f" and {len(unseen) - len(examples)} more" if len(unseen) > len(examples) else ""
    observed = f"{len(unseen)} unseen: {names}{more}"
    message = (
        f"column {spec.name!r} has {_count(count, 'row')} ({fraction:.2%}) with unseen values "
        f"{names}{more}"
    )
    expected = f"one of {len(spec.categories)} categories"
    return _found(spec, "categories", expected, observed, count, fraction, message, examples)


def check_unique(values: pa.ChunkedArray, spec: ColumnSchema, rows: int) -> Violation | None:
    """Non-null values that repeat an earlier row's value."""
    if not spec.unique:
        return None
    present = len(values) - values.null_count
    repeats = present - int(pc.count_distinct(values).as_py())
    if repeats == 0:
        return None
    counts = pc.value_counts(values)
    examples = _top_counts(counts.filter(pc.greater(counts.field("counts"), 1)))
    fraction = _share(repeats, rows)
    message = (
        f"column {spec.name!r} has {_count(repeats, 'repeated value')} ({fraction:.2%}), "
        f"e.g. {', '.join(f'{_show(v)} ({n}x)' for v, n in examples)}"
    )
    observed = f"{repeats} repeated"
    return _found(spec, "unique", "unique", observed, repeats, fraction, message, examples)


def _found(
    spec: ColumnSchema,
    check: str,
    expected: str,
    observed: str,
    count: int,
    fraction: float,
    message: str,
    examples: tuple[tuple[Any, int], ...] = (),
) -> Violation:
    severity = spec.severity_of(check)
    return Violation(
        spec.name, check, expected, observed, count, fraction, severity, message, examples
    )


def _whole(
    spec: ColumnSchema, check: str, expected: str, observed: str, rows: int, message: str
) -> Violation:
    return _found(spec, check, expected, observed, rows, 1.0, message)


def _top(values: pa.ChunkedArray) -> tuple[tuple[Any, int], ...]:
    return _top_counts(pc.value_counts(values))


def _top_counts(counts: pa.StructArray) -> tuple[tuple[Any, int], ...]:
    order = pc.array_sort_indices(counts.field("counts"), order="descending")[:EXAMPLES]
    picked = counts.take(order)
    return tuple(
        zip(picked.field("values").to_pylist(), picked.field("counts").to_pylist(), strict=True)
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _share(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def _show(value: Any, missing: str = "null") -> str:
    if value is None:
        return missing
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
