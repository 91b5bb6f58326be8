"""A feature view's source as a DuckDB query: Parquet files or a dataset version.

:func:`view_rows` gives the SQL of a view's rows, checked against its definition,
with one column per join key, ``__ts`` (the event time as a UTC ``TIMESTAMP``), one
column per feature cast to its declared type, and ``__file``/``__row`` saying where
the row was written, so that "the last row written wins" when timestamps tie.

Parquet globs and directories are expanded here, in name order, so that order is
the same on every machine. A ``datasets:/`` source is resolved through
:class:`loopml.data.versions.DatasetClient` when first read, and the version actually
read is reported for lineage.

Example:
    >>> con = connect()  # doctest: +SKIP
    >>> rows = view_rows(con, driver_stats, settings, alias="src_0")  # doctest: +SKIP
    >>> con.sql(f"SELECT count(*) FROM ({rows.sql})").fetchone()  # doctest: +SKIP
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, close_matches
from loopml.features._types import ACCEPTS, DTYPES, duckdb_family
from loopml.features.definitions import FeatureView

if TYPE_CHECKING:
    import duckdb

    from loopml.config import Settings

__all__ = [
    "INTERNAL_COLUMNS",
    "SourceRows",
    "check_source",
    "connect",
    "ident",
    "literal",
    "view_rows",
]

# Columns loopml adds to a source to order its rows; never a user's, never in a message.
INTERNAL_COLUMNS = frozenset({"file_row_number", "file_index", "__loopml_row"})


@dataclass(frozen=True)
class SourceRows:
    """The checked rows of one view's source.

    Attributes:
        sql: a ``SELECT`` over the source (see the module docstring for its columns).
        key_families: ``"int"`` or ``"string"``: what each join key column holds.
        dataset_version: ``(name, version)`` of the dataset version read, if any.
    """

    sql: str
    key_families: dict[str, str]
    dataset_version: tuple[str, int] | None = None


def connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection that works in UTC."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def view_rows(
    con: duckdb.DuckDBPyConnection, view: FeatureView, settings: Settings, *, alias: str
) -> SourceRows:
    """The SQL of ``view``'s rows, its source registered on ``con`` as needed.

    Raises:
        InvalidInputError: the source has no files, or lacks a column the view declares,
            or a column has a type the view cannot use.
    """
    dataset = None
    if view.source_is_dataset:
        table, dataset = _dataset_table(view, settings)
        con.register(alias, table)
        from_sql = alias
    else:
        files = ", ".join(literal(f) for f in _parquet_files(view))
        from_sql = f"read_parquet([{files}], file_row_number = true, union_by_name = true)"
    described = con.sql(f"DESCRIBE SELECT * FROM {from_sql}").fetchall()
    columns = {row[0]: row[1] for row in described}
    _check_columns(view, columns)
    ordering = (
        "0 AS __file, __loopml_row AS __row"
        if view.source_is_dataset
        else "file_index AS __file, file_row_number AS __row"
    )
    keys = ", ".join(ident(k) for k in view.join_keys)
    features = ", ".join(
        f"CAST({ident(f.name)} AS {DTYPES[f.dtype].duckdb}) AS {ident(f.name)}"
        for f in view.features
    )
    not_null = " AND ".join(
        f"{ident(c)} IS NOT NULL" for c in (*view.join_keys, view.timestamp_field)
    )
    sql = (
        f"SELECT {keys}, CAST({ident(view.timestamp_field)} AS TIMESTAMP) AS __ts, {features}, "
        f"{ordering} FROM {from_sql} WHERE {not_null}"
    )
    families = {k: duckdb_family(columns[k]) for k in view.join_keys}
    return SourceRows(sql, families, dataset)


def check_source(view: FeatureView, settings: Settings) -> None:
    """Check ``view``'s columns against its source's schema when the source is there now,
    reading the schema only (Parquet footers; a dataset version's recorded schema, by
    name). A source not written yet is checked when the view is materialized.

    Raises:
        InvalidInputError: a join key, the timestamp field or a feature is not a column of
            the source (close matches and the source's columns are listed), or a Parquet
            column has a type the view cannot use.
    """
    if view.source_is_dataset:
        columns = _dataset_columns(view, settings)
    else:
        files = _find_files(view)
        columns = None
        if files:
            listed = ", ".join(literal(f) for f in files)
            described = (
                connect()
                .sql(f"DESCRIBE SELECT * FROM read_parquet([{listed}], union_by_name = true)")
                .fetchall()
            )
            columns = {row[0]: row[1] for row in described}
    if columns is not None:
        _check_columns(view, columns)


def _dataset_columns(view: FeatureView, settings: Settings) -> dict[str, str | None] | None:
    """The column names a dataset source's version recorded (types unknown here), or
    ``None`` when there is no such version yet or it is not a table."""
    from loopml.data.versions import DatasetClient
    from loopml.errors import NotFoundError

    try:
        found = DatasetClient(settings).get(str(view.source))
    except NotFoundError:
        return None
    schema = found.schema or {}
    if found.kind != "table" or not schema.get("columns"):
        return None
    return {str(column["name"]): None for column in schema["columns"]}


def _find_files(view: FeatureView) -> list[str]:
    source = str(view.source)
    path = Path(source).expanduser()
    if glob.has_magic(source):
        return sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*.parquet") if p.is_file())
    return [str(path)] if path.is_file() else []


def _parquet_files(view: FeatureView) -> list[str]:
    source = str(view.source)
    files = _find_files(view)
    if not files:
        raise InvalidInputError(
            f"feature view '{view.name}': its source '{source}' matches no Parquet files; "
            "fix the path or glob and apply the view again",
            details={"view": view.name, "source": source},
        )
    return files


def _dataset_table(view: FeatureView, settings: Settings) -> tuple[Any, tuple[str, int]]:
    import numpy as np
    import pyarrow as pa

    from loopml.data.versions import DatasetClient

    client = DatasetClient(settings)
    found = client.get(str(view.source))
    if found.kind != "table":
        raise InvalidInputError(
            f"feature view '{view.name}': {found.uri} is a folder of files, not a table; "
            "use a dataset logged from a DataFrame, Arrow table, Parquet or CSV file"
        )
    table = client.load(found.uri, as_arrow=True)
    assert isinstance(table, pa.Table)  # a "table" version loads as one
    rows = pa.array(np.arange(table.num_rows, dtype=np.int64))
    return table.append_column("__loopml_row", rows), (found.name, found.version)


def _check_columns(view: FeatureView, found: dict[str, str] | dict[str, str | None]) -> None:
    """Every column the view names is in ``found`` (name -> DuckDB type, ``None`` when
    unknown) with a type it can use; loopml's own columns are neither matched nor shown."""
    where = f"feature view '{view.name}'"
    columns = {name: kind for name, kind in found.items() if name not in INTERNAL_COLUMNS}

    def need(column: str, role: str, families: frozenset[str], wanted: str) -> None:
        if column not in columns:
            hint = close_matches(column, columns)
            raise InvalidInputError(
                f"{where}: its source has no column '{column}' (the {role})"
                + (f"; did you mean {', '.join(hint)}?" if hint else "")
                + f"; columns: {', '.join(sorted(columns))}",
                details={"view": view.name, "column": column},
            )
        kind = columns[column]
        if kind is None:
            return
        family = duckdb_family(kind)
        if family not in families:
            raise InvalidInputError(
                f"{where}: column '{column}' (the {role}) is {kind} in the source, but {wanted}",
                details={"view": view.name, "column": column, "type": kind},
            )

    for key in view.join_keys:
        need(key, "join key", frozenset({"int", "string"}), "join keys must be integers or strings")
    need(
        view.timestamp_field,
        "timestamp field",
        frozenset({"timestamp"}),
        "it must be a timestamp or date",
    )
    for f in view.features:
        family = DTYPES[f.dtype].family
        need(
            f.name,
            f"feature, declared {f.dtype}",
            ACCEPTS[family],
            f"declared {f.dtype}, it needs {'/'.join(sorted(ACCEPTS[family]))} values",
        )
