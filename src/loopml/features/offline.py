"""Point-in-time correct training sets: one DuckDB ``ASOF JOIN`` per feature view.

For each row of the entity frame and each feature view, the value is the one of the
view's latest row with the same join keys whose timestamp is at or before the row's
timestamp: never a value from the future. When that row is older than the view's TTL
the values are null (an older row is older still). When several rows of one entity
share a timestamp, the one written last wins (the later file in name order, the later
row in a file). On-demand views are computed afterwards from the joined columns.

The result keeps the entity frame as it is (its rows, order, duplicates, index and
columns) and adds one column per requested feature.

Example:
    >>> entity_df = pd.DataFrame({"driver_id": [1001, 1002],
    ...                           "event_timestamp": pd.to_datetime(["2025-01-02", "2025-01-03"])})
    >>> training_set(entity_df, plan, settings)  # doctest: +SKIP
       driver_id event_timestamp  trips
    0       1001      2025-01-02     12
    1       1002      2025-01-03   <NA>
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, close_matches
from loopml.features._frames import to_pandas
from loopml.features._refs import FeaturePlan, ViewRead
from loopml.features._sources import connect, ident, view_rows
from loopml.features._types import arrow_type

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from loopml.config import Settings

__all__ = ["DEFAULT_TIMESTAMP_COLUMN", "training_set"]

# Told, per feature view read, the dataset version (name, version) its source resolved to.
SourceRead = Callable[[str, tuple[str, int] | None], None]

DEFAULT_TIMESTAMP_COLUMN = "event_timestamp"
_ROW = "__loopml_row"


def training_set(
    entity_df: pd.DataFrame,
    plan: FeaturePlan,
    settings: Settings,
    *,
    timestamp_column: str = DEFAULT_TIMESTAMP_COLUMN,
    on_source: SourceRead | None = None,
) -> pd.DataFrame:
    """``entity_df`` with the point-in-time values of the planned features added.

    ``on_source`` is told, per feature view read, the ``(name, version)`` of the dataset
    version its source resolved to (``None`` for a Parquet source), for lineage.

    Raises:
        InvalidInputError: ``entity_df`` is not a DataFrame, lacks a join key, the
            timestamp column or a request field, has a timestamp column that is not of a
            datetime type, has join keys of a type the source does not have, or already
            has a column a feature would be written to.
    """
    import pandas as pd

    if not isinstance(entity_df, pd.DataFrame):
        raise InvalidInputError(
            f"entity_df must be a pandas DataFrame, got {type(entity_df).__name__}"
        )
    _check_entity_frame(entity_df, plan, timestamp_column)
    con = connect()
    try:
        entities = _entity_table(entity_df, plan, timestamp_column)
        con.register("__entities", entities)
        joined = con.sql(_join_sql(con, plan, settings, entities, on_source)).to_arrow_table()
    finally:
        con.close()
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for i, read in enumerate(plan.views):
        for feature, column in read.outputs.items():
            columns[column] = joined.column(_internal(i, feature))
    for od in plan.on_demand:
        inputs = _on_demand_inputs(od.view.inputs, joined, plan, entity_df)
        computed = od.view.compute(inputs)
        for feature, column in od.outputs.items():
            columns[column] = computed[feature]
    return _assemble(entity_df, plan, columns)


def _check_entity_frame(entity_df: pd.DataFrame, plan: FeaturePlan, timestamp_column: str) -> None:
    import pandas as pd

    present = [str(c) for c in entity_df.columns]
    needed = [*plan.join_keys, timestamp_column, *(name for name, _ in plan.request_fields)]
    for column in needed:
        if column not in entity_df.columns:
            role = (
                "timestamp column" if column == timestamp_column
                else "join key" if column in plan.join_keys else "request field"
            )  # fmt: skip
            hint = close_matches(column, present)
            raise InvalidInputError(
                f"entity_df has no column '{column}' (a {role} the requested features need)"
                + (f"; did you mean {', '.join(hint)}?" if hint else "")
                + f"; its columns: {', '.join(present) or '(none)'}",
                details={"column": column, "role": role},
            )
    stamps = entity_df[timestamp_column]
    if not (pd.api.types.is_datetime64_any_dtype(stamps.dtype)):
        raise InvalidInputError(
            f"entity_df column '{timestamp_column}' holds {stamps.dtype}, not timestamps; "
            f"convert it with pd.to_datetime(entity_df['{timestamp_column}']) (naive times "
            "are read as UTC)",
            details={"column": timestamp_column, "dtype": str(stamps.dtype)},
        )
    for column in plan.columns:
        if column in entity_df.columns:
            raise InvalidInputError(
                f"entity_df already has a column '{column}', where feature values would go; "
                "rename it, or ask for full_feature_names=True"
            )


def _entity_table(entity_df: pd.DataFrame, plan: FeaturePlan, timestamp_column: str) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    keys = list(plan.join_keys)
    arrays: dict[str, Any] = {_ROW: pa.array(np.arange(len(entity_df), dtype=np.int64))}
    for key in keys:
        array = _to_arrow(entity_df[key], key)
        if not (pa.types.is_integer(array.type) or pa.types.is_string(array.type)
                or pa.types.is_large_string(array.type)):  # fmt: skip
            raise InvalidInputError(
                f"entity_df join key '{key}' holds {entity_df[key].dtype}; join keys must be "
                "integers or strings (a float column often means missing keys: drop them "
                f"and cast with .astype('int64'))",
                details={"column": key, "dtype": str(entity_df[key].dtype)},
            )
        arrays[key] = array
    arrays["__ets"] = _to_arrow(entity_df[timestamp_column], timestamp_column)
    return pa.table(arrays)


def _to_arrow(series: pd.Series[Any], column: str) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise InvalidInputError(
            f"entity_df column '{column}' mixes types ({err}); give it one type"
        ) from err


def _join_sql(
    con: duckdb.DuckDBPyConnection,
    plan: FeaturePlan,
    settings: Settings,
    entities: pa.Table,
    on_source: SourceRead | None,
) -> str:
    ctes, selects, joins = [], [f"e.{_ROW}"], []
    for i, read in enumerate(plan.views):
        view = read.view
        rows = view_rows(con, view, settings, alias=f"__source_{i}")
        _check_key_types(read, rows.key_families, entities)
        if on_source is not None:
            on_source(view.name, rows.dataset_version)
        keys = ", ".join(ident(k) for k in view.join_keys)
        features = ", ".join(ident(f) for f in read.features)
        ctes.append(
            f"v{i} AS (SELECT {keys}, __ts, {features} FROM ({rows.sql}) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys}, __ts "
            "ORDER BY __file DESC, __row DESC) = 1)"
        )
        fresh = (
            "TRUE" if view.ttl is None
            else f"v{i}.__ts >= e.__ets - to_microseconds({_micros(view.ttl)})"
        )  # fmt: skip
        for feature in read.features:
            selects.append(
                f"CASE WHEN {fresh} THEN v{i}.{ident(feature)} END AS {_internal(i, feature)}"
            )
        on = " AND ".join(f"e.{ident(k)} = v{i}.{ident(k)}" for k in view.join_keys)
        joins.append(f"ASOF LEFT JOIN v{i} ON {on} AND e.__ets >= v{i}.__ts")
    entity_columns = ", ".join(
        [_ROW, *(ident(k) for k in plan.join_keys), "CAST(__ets AS TIMESTAMP) AS __ets"]
    )
    return (
        f"WITH e AS (SELECT {entity_columns} FROM __entities), {', '.join(ctes)} "
        f"SELECT {', '.join(selects)} FROM e {' '.join(joins)} ORDER BY e.{_ROW}"
    )


def _check_key_types(read: ViewRead, source_families: dict[str, str], entities: pa.Table) -> None:
    import pyarrow as pa

    for key in read.view.join_keys:
        entity_family = "int" if pa.types.is_integer(entities.schema.field(key).type) else "string"
        if entity_family != source_families[key]:
            want = "integers" if source_families[key] == "int" else "strings"
            raise InvalidInputError(
                f"entity_df join key '{key}' holds {entity_family}s, but feature view "
                f"'{read.view.name}' stores {want} there; convert the column "
                f"(.astype({'int' if want == 'integers' else 'str'!r}))",
                details={"column": key, "view": read.view.name},
            )


def _internal(i: int, feature: str) -> str:
    return f"v{i}__{feature}"


def _micros(ttl: Any) -> int:
    return int(ttl.total_seconds() * 1_000_000)


def _on_demand_inputs(
    inputs: tuple[tuple[str, str], ...],
    joined: pa.Table,
    plan: FeaturePlan,
    entity_df: pd.DataFrame,
) -> dict[str, Any]:
    import pyarrow as pa

    located = {f: _internal(i, f) for i, read in enumerate(plan.views) for f in read.features}
    columns: dict[str, Any] = {}
    for name, dtype in inputs:
        if name in located:
            columns[name] = joined.column(located[name]).combine_chunks()
        else:  # a request field, from the entity frame
            try:
                columns[name] = pa.Array.from_pandas(entity_df[name]).cast(arrow_type(dtype))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
                raise InvalidInputError(
                    f"entity_df column '{name}' cannot be read as {dtype} (a request field): {err}"
                ) from err
    return columns


def _assemble(entity_df: pd.DataFrame, plan: FeaturePlan, columns: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    arrow = {c: v for c, v in columns.items() if isinstance(v, pa.ChunkedArray | pa.Array)}
    frame = to_pandas(pa.table(arrow)) if arrow else pd.DataFrame(index=range(len(entity_df)))
    for column, values in columns.items():
        if column not in arrow:  # an on-demand column: a Series on the same RangeIndex
            frame[column] = values
    frame = frame[list(plan.columns)]
    frame.index = entity_df.index
    result: pd.DataFrame = pd.concat([entity_df, frame], axis=1)
    return result
