"""A data schema: what a dataset's columns must look like, as an editable TOML file.

:func:`infer_schema` reads a dataset and writes down what it sees (types, nulls, ranges,
category domains, uniqueness, row-count bounds); :func:`save_schema` puts it in a
commented TOML file next to the project, to review, edit and commit; :func:`load_schema`
reads it back and :func:`loopml.data.validate.validate` checks data against it.

Every check has a severity: ``error`` fails validation, ``warn`` only reports. A column's
``severity`` applies to all its checks; ``severities`` overrides single checks.

Example:
    >>> import pandas as pd
    >>> schema = infer_schema(pd.DataFrame({"age": [31, 45, 27], "plan": ["a", "b", "a"]}))
    >>> schema.column("age").dtype, schema.column("plan").categories
    ('int', ('a', 'b'))
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from loopml.data._check_types import Bound, Dtype, Scalar
from loopml.errors import InvalidInputError, NotFoundError

__all__ = [
    "COLUMN_CHECKS",
    "ColumnSchema",
    "DataSchema",
    "DriftConfig",
    "Severity",
    "infer_schema",
    "load_schema",
    "save_schema",
]

Severity = Literal["error", "warn"]
ExtraColumns = Literal["error", "warn", "ignore"]
COLUMN_CHECKS = ("missing_column", "type", "nulls", "range", "categories", "unique")
"""The checks a column's ``severities`` can set, in the order they run."""
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ColumnSchema:
    """What one column must hold. ``None`` (or the default) leaves a check off.

    Attributes:
        name: the column's name.
        dtype: ``int``, ``float``, ``bool``, ``string``, ``categorical``, ``timestamp``,
            ``date`` or ``other``. A ``float`` column may hold ints; ``string`` and
            ``categorical`` accept each other.
        required: whether a missing column is a violation.
        nullable: whether nulls (and NaN) are allowed at all.
        max_null_fraction: the largest share of nulls allowed when ``nullable``.
        min_value: the smallest value allowed (numbers, datetimes, dates).
        max_value: the largest value allowed.
        categories: the values allowed; others are "unseen categories".
        unique: whether every non-null value must be distinct.
        severity: the severity of this column's violations.
        severities: per-check overrides, keyed by a name in :data:`COLUMN_CHECKS`.
        description: a note for people; loopml does not read it.

    Example:
        >>> col = ColumnSchema("age", "int", min_value=0, severities={"range": "warn"})
        >>> col.severity_of("range"), col.severity_of("nulls")
        ('warn', 'error')
    """

    name: str
    dtype: Dtype
    required: bool = True
    nullable: bool = True
    max_null_fraction: float | None = None
    min_value: Bound | None = None
    max_value: Bound | None = None
    categories: tuple[Scalar, ...] | None = None
    unique: bool = False
    severity: Severity = "error"
    severities: Mapping[str, Severity] = field(default_factory=dict, hash=False)
    description: str = ""

    def __post_init__(self) -> None:
        from loopml.data._check_parse import check_column

        check_column(self)

    def severity_of(self, check: str) -> Severity:
        """The severity of ``check`` on this column."""
        return self.severities.get(check, self.severity)


@dataclass(frozen=True)
class DriftConfig:
    """Compare each column's distribution with a reference dataset.

    Attributes:
        reference: a ``datasets:/name/3`` URI or a Parquet/CSV path; can also be given
            when validating.
        method: ``auto`` or a method of :mod:`loopml.data.drift`.
        threshold: overrides the method's default threshold.
        columns: the columns to compare; empty means every non-unique column of type
            int, float, bool, string or categorical.
        severity: drift is statistical, so it warns unless told otherwise.
        profile: the reference profile file beside the schema file (what an inferred
            schema saves, see :mod:`loopml.data.reference`); used when no
            ``reference`` is set or given.

    Example:
        >>> DriftConfig("datasets:/churn/3", method="psi").threshold is None
        True
    """

    reference: str | None = None
    method: str = "auto"
    threshold: float | None = None
    columns: tuple[str, ...] = ()
    severity: Severity = "warn"
    profile: str | None = None


@dataclass(frozen=True)
class DataSchema:
    """What a whole dataset must look like.

    Attributes:
        columns: the expected columns, in order.
        min_rows: the fewest rows allowed.
        max_rows: the most rows allowed.
        extra_columns: what a column not in the schema is: ``error``, ``warn`` or ``ignore``.
        unique_keys: column combinations that must be unique together.
        severity: the severity of the row-count and unique-key checks.
        drift: an optional drift comparison with a reference dataset.
        description: a note for people, e.g. where the schema was inferred from.
        reference_profile: a sketch of the data the schema was inferred from
            (:mod:`loopml.data.reference`); drift is checked against it by default.

    Example:
        >>> schema = DataSchema((ColumnSchema("id", "int", unique=True),), min_rows=1)
        >>> schema.names
        ('id',)
    """

    columns: tuple[ColumnSchema, ...]
    min_rows: int | None = None
    max_rows: int | None = None
    extra_columns: ExtraColumns = "warn"
    unique_keys: tuple[tuple[str, ...], ...] = ()
    severity: Severity = "error"
    drift: DriftConfig | None = None
    description: str = ""
    reference_profile: Mapping[str, Any] | None = field(
        default=None, hash=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        from loopml.data._check_parse import check_schema

        check_schema(self)

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSchema:
        """The schema of column ``name``; :class:`NotFoundError` naming close matches."""
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFoundError("schema column", name, choices=self.names)

    def to_dict(self) -> dict[str, Any]:
        """The schema as the file's structure; defaults are left out."""
        from loopml.data._check_toml import schema_to_dict

        return schema_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSchema:
        """Read the file's structure; :class:`InvalidInputError` names any bad key."""
        from loopml.data._check_parse import schema_from_dict

        return schema_from_dict(data)


def infer_schema(
    data: Any,
    *,
    categorical_max: int = 50,
    range_slack: float = 0.0,
    row_count_slack: float | None = 0.5,
    description: str = "",
) -> DataSchema:
    """Describe ``data`` (a pandas DataFrame or pyarrow Table) as a schema.

    Args:
        data: the dataset to learn from.
        categorical_max: a string column with at most this many distinct values, some
            repeated, gets a category domain.
        range_slack: widen each ``[min, max]`` by this share of its width on both sides.
        row_count_slack: allow this share fewer or more rows than ``data`` has;
            ``None`` sets no row-count bounds.
        description: a note stored with the schema (e.g. where the data came from).

    Returns:
        A schema that ``data`` itself passes.

    Example:
        >>> import pyarrow as pa
        >>> column = infer_schema(pa.table({"x": [1.5, None, 3.0]})).column("x")
        >>> column.dtype, column.max_null_fraction, column.min_value, column.max_value
        ('float', 0.3334, 1.5, 3.0)
    """
    from loopml.data._check_infer import infer_table

    return infer_table(
        data,
        categorical_max=categorical_max,
        range_slack=range_slack,
        row_count_slack=row_count_slack,
        description=description,
    )


def save_schema(schema: DataSchema, path: str | os.PathLike[str]) -> Path:
    """Write ``schema`` to ``path``: commented TOML, or JSON when it ends in ``.json``.

    The write is atomic: readers see the old file or the new one, never half of it.

    Example:
        >>> save_schema(DataSchema((ColumnSchema("id", "int"),)), "schema.toml")  # doctest: +SKIP
        PosixPath('schema.toml')
    """
    from loopml.data._check_toml import render_toml

    target = Path(path)
    if schema.reference_profile is not None:
        sidecar = target.with_name(f"{target.stem}.reference.json")
        _write_atomic(sidecar, json.dumps(schema.reference_profile, indent=1, sort_keys=True,
                                          ensure_ascii=False, default=_iso) + "\n")  # fmt: skip
        schema = replace(schema, drift=replace(schema.drift or DriftConfig(), profile=sidecar.name))
    if target.suffix.lower() == ".json":
        text = json.dumps(schema.to_dict(), indent=2, ensure_ascii=False, default=_iso) + "\n"
    else:
        text = render_toml(schema, path_hint=str(path))
    _write_atomic(target, text)
    return target


def _write_atomic(target: Path, text: str) -> None:
    scratch = target.with_name(f".{target.name}.tmp")
    try:
        scratch.write_text(text, encoding="utf-8")
        scratch.replace(target)
    except OSError as err:
        scratch.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write schema file '{target}': {err}") from err


def load_schema(path: str | os.PathLike[str]) -> DataSchema:
    """Read a schema file written by :func:`save_schema` (or by hand).

    Raises:
        InvalidInputError: the file is missing, is not TOML/JSON, or has a bad key or
            value (the message names the key and what it should hold), or it declares no
            columns and no table checks, so that any data would pass it.

    Example:
        >>> load_schema("schema.toml").names  # doctest: +SKIP
        ('age', 'plan')
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InvalidInputError(
            f"schema file '{source}' does not exist; create one with "
            f"`loopml data validate DATA --schema {source} --infer`"
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"cannot read schema file '{source}': {err}") from err
    is_json = source.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        kind = "JSON" if is_json else "TOML"
        raise InvalidInputError(f"schema file '{source}' is not valid {kind}: {err}") from err
    if not isinstance(data, dict):
        raise InvalidInputError(f"schema file '{source}' must hold a table of settings")
    try:
        schema = DataSchema.from_dict(data)
    except InvalidInputError as err:
        raise InvalidInputError(f"schema file '{source}': {err.message}") from err
    if _checks_nothing(schema):
        raise InvalidInputError(
            f"schema file '{source}' declares no columns or checks; it would pass any data. "
            f"Infer one from data you trust: `loopml data validate DATA --schema {source} "
            "--infer --force`, or add [columns.NAME] tables by hand"
        )
    if schema.drift is not None and schema.drift.profile is not None:
        schema = replace(schema, reference_profile=_load_profile(source, schema.drift.profile))
    return schema


def _checks_nothing(schema: DataSchema) -> bool:
    """Whether every dataset would pass ``schema`` (the extra-columns rule aside: with no
    columns declared it could only fail every dataset, which is no check either)."""
    return not (
        schema.columns
        or schema.min_rows is not None
        or schema.max_rows is not None
        or schema.unique_keys
        or schema.drift is not None
    )


def _load_profile(schema_file: Path, name: str) -> Mapping[str, Any]:
    from loopml.data.reference import check_profile

    sidecar = schema_file.parent / name
    if Path(name).name != name:
        raise InvalidInputError(
            f"schema file '{schema_file}': drift.profile must name a file beside it, got {name!r}"
        )
    try:
        profile = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InvalidInputError(
            f"schema file '{schema_file}' names the reference profile '{sidecar}', which does "
            "not exist; infer the schema again, or remove drift.profile to check no drift"
        ) from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"cannot read reference profile '{sidecar}': {err}") from err
    return check_profile(profile, f"'{sidecar}'")


def _iso(value: Any) -> str:
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to a JSON schema")
