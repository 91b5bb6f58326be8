"""Check data against a schema and get every violation at once.

:func:`validate` runs every check of :mod:`loopml.data.checks` on the whole data, and
the drift check when the schema has a ``[drift]`` section or a reference is given. It
never stops early: the :class:`ValidationResult` lists every violation, and the data
passes when none of them has severity ``error``.

Example:
    >>> import pandas as pd
    >>> from loopml.data.schema import infer_schema
    >>> frame = pd.DataFrame({"age": [31, 45, 27]})
    >>> schema = infer_schema(frame)
    >>> validate(frame, schema).passed
    True
    >>> validate(pd.DataFrame({"age": [31, -4, 27]}), schema).errors[0].message
    "column 'age' has 1 value (33.33%) outside [27, 45], e.g. -4"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._check_inputs import load_data
from loopml.data._check_types import family_of, missing_mask
from loopml.data.checks import (
    Violation,
    check_column,
    check_columns,
    check_row_count,
    check_unique_keys,
)
from loopml.errors import GateFailedError, InvalidInputError

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.data.drift import DriftResult
    from loopml.data.schema import DataSchema

__all__ = ["ColumnSummary", "ValidationResult", "Violation", "load_data", "validate"]


@dataclass(frozen=True)
class ColumnSummary:
    """One column as validation saw it.

    Attributes:
        name: the column.
        expected: the schema's dtype; ``None`` for a column the schema does not know.
        observed: the data's dtype family; ``None`` for a missing column.
        null_fraction: the share of nulls (and NaN); ``None`` for a missing column.
        status: ``error``, ``warn`` or ``ok``: the worst of its violations.

    Example:
        >>> ColumnSummary("age", "int", "int", 0.0, "ok").status
        'ok'
    """

    name: str
    expected: str | None
    observed: str | None
    null_fraction: float | None
    status: Literal["error", "warn", "ok"]


@dataclass(frozen=True)
class ValidationResult:
    """Everything :func:`validate` found.

    Attributes:
        violations: every violation, table-level checks first, then column by column.
        row_count: the rows validated.
        columns: a summary of each schema column, then of each extra column.
        drift: the drift result of each compared column, drifted or not.
        distributions: each compared column's values beside the reference's, binned
            alike (``kind`` ``numeric``: ``edges``, ``reference``, ``current`` counts;
            ``categorical``: ``values``, ``reference``, ``current``); the HTML report
            draws them.

    Example:
        >>> result = ValidationResult((), row_count=10, columns=())
        >>> result.passed, result.summary
        (True, 'passed: 10 rows, no violations')
    """

    violations: tuple[Violation, ...]
    row_count: int
    columns: tuple[ColumnSummary, ...]
    drift: Mapping[str, DriftResult] = field(default_factory=dict, hash=False)
    distributions: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict, hash=False, compare=False, repr=False
    )

    @property
    def passed(self) -> bool:
        """Whether no violation has severity ``error`` (warnings do not fail)."""
        return not self.errors

    @property
    def errors(self) -> list[Violation]:
        """The violations of severity ``error``."""
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        """The violations of severity ``warn``."""
        return [v for v in self.violations if v.severity == "warn"]

    @property
    def summary(self) -> str:
        """One line: the verdict and the counts."""
        verdict = "passed" if self.passed else "failed"
        if not self.violations:
            return f"{verdict}: {self.row_count} rows, no violations"
        errors, warnings = len(self.errors), len(self.warnings)
        return (
            f"{verdict}: {self.row_count} rows, {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "passed": self.passed,
            "summary": self.summary,
            "row_count": self.row_count,
            "error_count": len(self.errors),
            "warning_count": len(self.warnings),
            "violations": [v.to_dict() for v in self.violations],
            "columns": [vars(c).copy() for c in self.columns],
            "drift": {name: vars(result).copy() for name, result in self.drift.items()},
            "distributions": {name: dict(found) for name, found in self.distributions.items()},
        }

    def raise_for_errors(self) -> None:
        """Raise :class:`~loopml.errors.GateFailedError` if any violation is an error.

        Example:
            >>> ValidationResult((), row_count=0, columns=()).raise_for_errors()
        """
        if self.passed:
            return
        first = self.errors[0].message
        more = len(self.errors) - 1
        raise GateFailedError(
            f"data failed validation: {first}" + (f" (and {more} more errors)" if more else ""),
            details={"violations": [v.to_dict() for v in self.errors]},
        )


def validate(
    data: Any,
    schema: DataSchema,
    *,
    reference: Any = None,
    settings: Settings | None = None,
) -> ValidationResult:
    """Check ``data`` against ``schema`` and return every violation.

    Drift is checked against ``reference`` when given, else against the schema's
    ``drift.reference``, else against the reference profile an inferred schema keeps
    (:mod:`loopml.data.reference`): a schema inferred from data checks drift by default.

    Args:
        data: a pandas DataFrame, a pyarrow Table, a Parquet/CSV path, or a
            ``datasets:/name/3`` URI.
        schema: what the data must look like (see :func:`loopml.data.schema.load_schema`).
        reference: data to measure drift against (same kinds as ``data``); overrides the
            schema's ``drift.reference``. Drift is checked when either is set.
        settings: where ``datasets:/`` URIs are looked up; :meth:`Settings.load` if ``None``.

    Raises:
        InvalidInputError: unreadable data, or a drift section with no reference.

    Example:
        >>> validate("data.parquet", load_schema("schema.toml")).passed  # doctest: +SKIP
        True
    """
    table = load_data(data, settings=settings)
    rows = table.num_rows
    names = [str(n) for n in table.column_names]
    found = check_columns(names, schema, rows)
    row_count = check_row_count(rows, schema)
    found += [row_count] if row_count is not None else []
    found += check_unique_keys(table, schema)
    first = {name: i for i, name in reversed(list(enumerate(names)))}
    for spec in schema.columns:
        if spec.name in first:
            found += check_column(table.column(first[spec.name]), spec, rows)
    drift: dict[str, DriftResult] = {}
    pictures: dict[str, dict[str, Any]] = {}
    ref_source = reference if reference is not None else _schema_reference(schema)
    if ref_source is not None or schema.reference_profile is not None:
        from loopml.data._check_drift import check_drift, check_profile_drift, distributions

        if ref_source is not None:
            ref_table = load_data(ref_source, settings=settings)
            drifted, drift = check_drift(table, ref_table, schema)
            pictures = distributions(table, ref_table, drift)
        else:
            assert schema.reference_profile is not None
            drifted, drift = check_profile_drift(table, schema.reference_profile, schema)
            pictures = distributions(table, schema.reference_profile, drift)
        found += drifted
    summaries = _summaries(table, first, schema, found)
    return ValidationResult(tuple(found), rows, summaries, drift, pictures)


def _schema_reference(schema: DataSchema) -> str | None:
    if schema.drift is None:
        return None
    if schema.drift.reference is None and schema.reference_profile is not None:
        return None  # drift against the profile the schema was inferred with
    if schema.drift.reference is None:
        raise InvalidInputError(
            "the schema has a [drift] section but no reference; set drift.reference "
            "(e.g. datasets:/name/3) or pass a reference (--reference on the command line)"
        )
    return schema.drift.reference


def _summaries(
    table: pa.Table, first: dict[str, int], schema: DataSchema, found: list[Violation]
) -> tuple[ColumnSummary, ...]:
    worst: dict[str | None, str] = {}
    for violation in found:
        if worst.get(violation.column) != "error":
            worst[violation.column] = violation.severity
    dtypes = {spec.name: spec.dtype for spec in schema.columns}
    names = [*dtypes, *(n for n in first if n not in dtypes)]
    summaries = []
    for name in names:
        expected = dtypes.get(name)
        observed = fraction = None
        if name in first:
            column = table.column(first[name])
            observed = family_of(column.type)
            missing = int(pc.sum(missing_mask(column)).as_py() or 0)
            fraction = missing / table.num_rows if table.num_rows else 0.0
        status: Any = worst.get(name, "ok")
        summaries.append(ColumnSummary(name, expected, observed, fraction, status))
    return tuple(summaries)
