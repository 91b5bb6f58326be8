"""Read a schema file's structure, and keep every schema self-consistent.

:func:`schema_from_dict` turns the parsed TOML/JSON into a :class:`DataSchema`, naming
the key of anything wrong (``columns.age.min_value must be a number, got "x"``).
:func:`check_column` and :func:`check_schema` run when the dataclasses are made, so a
schema built in Python obeys the same rules as one read from a file.

Example:
    >>> schema_from_dict({"columns": {"age": {"dtype": "int", "min_value": 0}}}).names
    ('age',)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from loopml.data._check_toml import toml_key
from loopml.data._check_types import DTYPES
from loopml.errors import InvalidInputError, close_matches

if TYPE_CHECKING:
    from loopml.data.schema import ColumnSchema, DataSchema, DriftConfig

__all__ = ["check_column", "check_schema", "schema_from_dict"]

_TOP = ("format", "description", "table", "drift", "columns")
_TABLE = ("min_rows", "max_rows", "extra_columns", "unique_keys", "severity")
_DRIFT = ("reference", "method", "threshold", "columns", "severity", "profile")
_COLUMN = (
    "dtype",
    "required",
    "nullable",
    "max_null_fraction",
    "min_value",
    "max_value",
    "categories",
    "unique",
    "severity",
    "severities",
    "description",
)
_RANGED = ("int", "float", "timestamp", "date")
_CATEGORY_WORDS = {
    "int": "whole numbers",
    "bool": "true or false",
    "string": "strings",
    "categorical": "strings or whole numbers",
}
_CATEGORY_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "bool": (bool,),
    "string": (str,),
    "categorical": (str, int),
}


def schema_from_dict(data: Mapping[str, Any]) -> DataSchema:
    """The schema a parsed schema file describes."""
    from loopml.data.schema import FORMAT_VERSION, DataSchema

    _known(data, _TOP, "the schema")
    version = data.get("format", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise InvalidInputError(
            f"format = {version!r} is not a schema format this loopml reads "
            f"(it reads {FORMAT_VERSION}); re-create the file with --infer"
        )
    table = _section(data, "table")
    _known(table, _TABLE, "table")
    columns = _section(data, "columns")
    return DataSchema(
        columns=tuple(
            _column(str(name), _table(spec, _where(name))) for name, spec in columns.items()
        ),
        min_rows=_value(table, "min_rows", "table", _is_count, "a whole number >= 0"),
        max_rows=_value(table, "max_rows", "table", _is_count, "a whole number >= 0"),
        extra_columns=_value(table, "extra_columns", "table", _is_str, "a string", "warn"),
        unique_keys=tuple(
            tuple(key) for key in _value(table, "unique_keys", "table", _is_key_list, _KEYS, [])
        ),
        severity=_value(table, "severity", "table", _is_str, "a string", "error"),
        drift=_drift(data["drift"]) if "drift" in data else None,
        description=_value(data, "description", "the schema", _is_str, "a string", ""),
    )


def check_column(column: ColumnSchema) -> None:
    """Refuse a column schema whose settings contradict each other or its dtype."""
    where = _where(column.name)
    _choice(column.dtype, DTYPES, f"{where}.dtype")
    _choice(column.severity, ("error", "warn"), f"{where}.severity")
    from loopml.data.schema import COLUMN_CHECKS

    for check, severity in column.severities.items():
        _choice(check, COLUMN_CHECKS, f"{where}.severities key")
        _choice(severity, ("error", "warn"), f"{where}.severities.{check}")
    fraction = column.max_null_fraction
    if fraction is not None and not 0 <= fraction <= 1:
        raise InvalidInputError(f"{where}.max_null_fraction must be in [0, 1], got {fraction}")
    if fraction is not None and not column.nullable:
        raise InvalidInputError(
            f"{where} sets max_null_fraction but nullable = false; remove one of them"
        )
    for key in ("min_value", "max_value"):
        _check_bound(getattr(column, key), column.dtype, f"{where}.{key}")
    low, high = column.min_value, column.max_value
    if low is not None and high is not None:
        try:
            inverted = cast(Any, low) > high
        except TypeError as err:  # an aware and a naive datetime
            raise InvalidInputError(
                f"{where}: give min_value and max_value both a time zone, or neither"
            ) from err
        if inverted:
            raise InvalidInputError(f"{where}: min_value {low} is above max_value {high}")
    if column.categories is not None:
        _check_categories(column.categories, column.dtype, f"{where}.categories")


def check_schema(schema: DataSchema) -> None:
    """Refuse a schema with repeated columns, bad bounds, or keys naming unknown columns."""
    seen: set[str] = set()
    for name in schema.names:
        if name in seen:
            raise InvalidInputError(f"column {name!r} appears twice in the schema; keep one")
        seen.add(name)
    low, high = schema.min_rows, schema.max_rows
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"table.min_rows {low} is above table.max_rows {high}")
    _choice(schema.extra_columns, ("error", "warn", "ignore"), "table.extra_columns")
    _choice(schema.severity, ("error", "warn"), "table.severity")
    for key in schema.unique_keys:
        if not key:
            raise InvalidInputError("table.unique_keys holds an empty key; list its columns")
        _known_columns(key, seen, "table.unique_keys")
    if schema.drift is not None:
        _check_drift(schema.drift, seen)


def _check_drift(drift: DriftConfig, columns: set[str]) -> None:
    from loopml.data.drift import METHODS

    _choice(drift.method, ("auto", *METHODS), "drift.method")
    _choice(drift.severity, ("error", "warn"), "drift.severity")
    limit = drift.threshold
    if limit is not None and not (_is_number(limit) and math.isfinite(limit) and limit >= 0):
        raise InvalidInputError(f"drift.threshold must be a number >= 0, got {limit!r}")
    _known_columns(drift.columns, columns, "drift.columns")


def _column(name: str, spec: Mapping[str, Any]) -> ColumnSchema:
    from loopml.data.schema import ColumnSchema

    where = _where(name)
    _known(spec, _COLUMN, where)
    if "dtype" not in spec:
        raise InvalidInputError(f"{where} has no dtype; set dtype to one of {', '.join(DTYPES)}")
    dtype = _value(spec, "dtype", where, _is_str, "a string")
    _choice(dtype, DTYPES, f"{where}.dtype")
    categories = _value(spec, "categories", where, _is_list, "a list of values", None)
    severities = _table(spec.get("severities", {}), f"{where}.severities")
    return ColumnSchema(
        name=name,
        dtype=dtype,
        required=_value(spec, "required", where, _is_bool, "true or false", True),
        nullable=_value(spec, "nullable", where, _is_bool, "true or false", True),
        max_null_fraction=_value(spec, "max_null_fraction", where, _is_number, "a number", None),
        min_value=_bound(spec.get("min_value"), dtype, f"{where}.min_value"),
        max_value=_bound(spec.get("max_value"), dtype, f"{where}.max_value"),
        categories=tuple(categories) if categories is not None else None,
        unique=_value(spec, "unique", where, _is_bool, "true or false", False),
        severity=_value(spec, "severity", where, _is_str, "a string", "error"),
        severities={
            str(k): _value(severities, k, f"{where}.severities", _is_str, "a string")
            for k in severities
        },
        description=_value(spec, "description", where, _is_str, "a string", ""),
    )


def _drift(raw: Any) -> DriftConfig:
    from loopml.data.schema import DriftConfig

    spec = _table(raw, "drift")
    _known(spec, _DRIFT, "drift")
    columns = _value(spec, "columns", "drift", _is_names, "a list of column names", [])
    return DriftConfig(
        reference=_value(spec, "reference", "drift", _is_str, "a dataset URI or path", None),
        method=_value(spec, "method", "drift", _is_str, "a string", "auto"),
        threshold=_value(spec, "threshold", "drift", _is_number, "a number", None),
        columns=tuple(columns),
        severity=_value(spec, "severity", "drift", _is_str, "a string", "warn"),
        profile=_value(spec, "profile", "drift", _is_str, "a file name", None),
    )


def _bound(raw: Any, dtype: str, where: str) -> Any:
    """A bound as the schema holds it: ISO text becomes a datetime or date."""
    if isinstance(raw, str) and dtype in ("timestamp", "date"):
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError as err:
            raise InvalidInputError(
                f"{where} must be an ISO date or datetime such as 2024-05-01T12:00:00, got {raw!r}"
            ) from err
        return parsed.date() if dtype == "date" else parsed
    if dtype == "timestamp" and type(raw) is dt.date:
        return dt.datetime.combine(raw, dt.time())
    return raw


def _check_bound(value: Any, dtype: str, where: str) -> None:
    if value is None:
        return
    if dtype not in _RANGED:
        raise InvalidInputError(
            f"{where}: ranges apply to {', '.join(_RANGED)} columns, not {dtype}"
        )
    if dtype in ("int", "float"):
        ok = _is_number(value) and not math.isnan(value)
        expected = "a number"
    elif dtype == "timestamp":
        ok, expected = isinstance(value, dt.datetime), "a datetime (2024-05-01T12:00:00)"
    else:
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        expected = "a date (2024-05-01)"
    if not ok:
        raise InvalidInputError(f"{where} must be {expected} for {dtype} columns, got {value!r}")


def _check_categories(values: Sequence[Any], dtype: str, where: str) -> None:
    allowed = _CATEGORY_TYPES.get(dtype)
    if allowed is None:
        raise InvalidInputError(
            f"{where}: categories apply to {', '.join(_CATEGORY_TYPES)} columns, not {dtype}"
        )
    for value in values:
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if wrong_bool or not isinstance(value, allowed):
            raise InvalidInputError(
                f"{where} holds {value!r}, but the categories of a {dtype} column must be "
                f"{_CATEGORY_WORDS[dtype]}"
            )


def _known(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in data:
        if key not in known:
            hint = close_matches(str(key), known)
            suggestion = f"did you mean {hint[0]}?" if hint else f"known keys: {', '.join(known)}"
            raise InvalidInputError(f"{where} has an unknown key {key!r}; {suggestion}")


def _known_columns(names: Sequence[str], columns: set[str], where: str) -> None:
    for name in names:
        if name not in columns:
            hint = close_matches(name, columns)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise InvalidInputError(f"{where} names {name!r}, which is not a schema column{extra}")


def _choice(value: Any, choices: Sequence[str], where: str) -> None:
    if value not in choices:
        raise InvalidInputError(f"{where} must be one of {', '.join(choices)}; got {value!r}")


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _table(data.get(key, {}), key)


def _table(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where} must be a table of settings, got {raw!r}")
    return raw


def _value(
    data: Mapping[str, Any], key: str, where: str, test: Any, expected: str, default: Any = None
) -> Any:
    if key not in data:
        return default
    value = data[key]
    if not test(value):
        raise InvalidInputError(f"{where}.{key} must be {expected}, got {value!r}")
    return value


def _where(name: object) -> str:
    return f"columns.{toml_key(str(name))}"


_KEYS = 'a list of column-name lists, e.g. [["user_id", "day"]]'


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_key_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_names(v) for v in value)
