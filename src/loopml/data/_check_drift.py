"""The drift check: each column of the data against the same column of a reference.

Numbers go to :func:`loopml.data.drift.column_drift` as float arrays, categories (string,
categorical, bool, and any column with a category domain) as value counts computed by
Arrow, which keeps a million-row string column fast.

Example:
    >>> import pyarrow as pa
    >>> from loopml.data.schema import ColumnSchema, DataSchema
    >>> schema = DataSchema((ColumnSchema("x", "float"),))
    >>> current, reference = pa.table({"x": [5.0, 6, 7, 8, 9]}), pa.table({"x": [0.0, 1, 2, 3, 4]})
    >>> found, results = check_drift(current, reference, schema)
    >>> found[0].check, results["x"].method
    ('drift', 'ks')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._check_types import compatible, family_of, plain
from loopml.data.checks import Violation
from loopml.data.drift import DriftResult, bin_counts, column_drift
from loopml.data.reference import (
    category_counts,
    distribution,
    numbers,
    sketch_column,
)
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from loopml.data.schema import ColumnSchema, DataSchema, DriftConfig

__all__ = ["check_drift", "check_profile_drift", "distributions", "drift_columns"]

_COMPARABLE = ("int", "float", "bool", "string", "categorical")


def check_drift(
    table: pa.Table, reference: pa.Table, schema: DataSchema
) -> tuple[list[Violation], dict[str, DriftResult]]:
    """A violation per drifted column, and every column's result (drifted or not)."""
    from loopml.data.schema import DriftConfig

    config = schema.drift or DriftConfig()
    found: list[Violation] = []
    results: dict[str, DriftResult] = {}
    for spec in drift_columns(table, reference, schema, config):
        current, ref = table.column(spec.name), reference.column(spec.name)
        if not compatible(spec.dtype, family_of(current.type)):
            continue  # the type check reports it
        if len(current) == current.null_count or len(ref) == ref.null_count:
            continue  # no values, no distribution; the null check reports it
        categorical = spec.categories is not None or spec.dtype not in ("int", "float")
        result = _column_drift(
            spec.name, _sample(ref, categorical), _sample(current, categorical), config
        )
        results[spec.name] = result
        if result.drifted:
            found.append(_violation(spec.name, result, table.num_rows, config))
    return found, results


def check_profile_drift(
    table: pa.Table, profile: Mapping[str, Any], schema: DataSchema
) -> tuple[list[Violation], dict[str, DriftResult]]:
    """:func:`check_drift` against a reference profile (:mod:`loopml.data.reference`):
    each column's counts in the reference's bins (numbers) or per value (categories)."""
    from loopml.data.schema import DriftConfig

    config = schema.drift or DriftConfig()
    if config.method in ("ks", "wasserstein"):
        raise InvalidInputError(
            f"drift.method {config.method!r} needs the reference data itself; against the "
            "schema's reference profile use auto, chi2, js or psi, or give a reference "
            "(--reference, or drift.reference in the schema)"
        )
    sketches = profile["columns"]
    found: list[Violation] = []
    results: dict[str, DriftResult] = {}
    for spec in _profile_columns(table, sketches, schema, config):
        current, sketch = table.column(spec.name), sketches[spec.name]
        if not compatible(spec.dtype, family_of(current.type)):
            continue  # the type check reports it
        if len(current) == current.null_count:
            continue  # no values, no distribution; the null check reports it
        if sketch["kind"] == "numeric":
            edges = sketch["deciles"]["edges"]
            ref = dict(enumerate(sketch["deciles"]["counts"]))
            cur: dict[Any, int] = dict(enumerate(bin_counts(numbers(current), edges)))
        else:
            ref = {pair[0]: pair[1] for pair in sketch["counts"]}
            cur = category_counts(current)
        if not any(cur.values()):
            continue
        result = _column_drift(spec.name, ref, cur, config)
        results[spec.name] = result
        if result.drifted:
            found.append(_violation(spec.name, result, table.num_rows, config))
    return found, results


def _column_drift(name: str, reference: Any, current: Any, config: DriftConfig) -> DriftResult:
    """:func:`column_drift` with the schema's method and threshold; errors name the column."""
    try:
        return column_drift(reference, current, method=config.method, threshold=config.threshold)
    except InvalidInputError as err:
        raise InvalidInputError(f"drift of column {name!r}: {err.message}") from err


def _profile_columns(
    table: pa.Table, sketches: Mapping[str, Any], schema: DataSchema, config: DriftConfig
) -> list[ColumnSchema]:
    names = set(table.column_names) & set(sketches)
    if config.columns:
        return [schema.column(n) for n in config.columns if n in names]
    return [
        spec
        for spec in schema.columns
        if spec.name in names and spec.dtype in _COMPARABLE and not spec.unique
    ]


def distributions(
    table: pa.Table,
    reference: pa.Table | Mapping[str, Any],
    names: Iterable[str],
) -> dict[str, dict[str, Any]]:
    """Each named column's values beside the reference's, binned alike, for pictures.

    ``reference`` is the reference data or a reference profile.
    """
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        if isinstance(reference, pa.Table):
            sketch = sketch_column(reference.column(name))
        else:
            sketch = reference["columns"].get(name)
        if sketch is not None:
            found[name] = distribution(sketch, table.column(name))
    return found


def drift_columns(
    table: pa.Table, reference: pa.Table, schema: DataSchema, config: DriftConfig
) -> list[ColumnSchema]:
    """The columns to compare: those named in the config, or every comparable one."""
    if config.columns:
        lacking = [n for n in config.columns if n not in reference.column_names]
        if lacking:
            raise InvalidInputError(
                f"drift.columns names {lacking[0]!r}, which the reference data lacks; "
                f"its columns: {', '.join(reference.column_names)}"
            )
        return [schema.column(n) for n in config.columns if n in table.column_names]
    both = set(table.column_names) & set(reference.column_names)
    return [
        spec
        for spec in schema.columns
        if spec.name in both and spec.dtype in _COMPARABLE and not spec.unique
    ]


def _sample(column: pa.ChunkedArray, categorical: bool) -> Any:
    values = plain(column)
    if not categorical:
        return pc.cast(values, pa.float64()).to_numpy()
    counts = pc.value_counts(values)
    keep = pc.is_valid(counts.field("values"))
    counts = counts.filter(keep)
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )


def _violation(name: str, result: DriftResult, rows: int, config: DriftConfig) -> Violation:
    if result.p_value is not None:
        expected = f"{result.method} p-value >= {result.threshold:g}"
        observed = f"p-value {result.p_value:.4g} (statistic {result.statistic:.4g})"
    else:
        expected = f"{result.method} <= {result.threshold:g}"
        observed = f"{result.method} {result.statistic:.4g}"
    message = f"column {name!r} drifted from the reference: {result.summary}"
    return Violation(name, "drift", expected, observed, rows, 1.0, config.severity, message)
