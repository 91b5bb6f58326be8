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

__all__ = ["SourceRows", "connect", "ident", "literal", "view_rows"]


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


def _parquet_files(view: FeatureView) -> list[str]:
    source = str(view.source)
    path = Path(source).expanduser()
    if glob.has_magic(source):
        files = sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    elif path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet") if p.is_file())
    else:
        files = [str(path)] if path.is_file() else []
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


def _check_columns(view: FeatureView, columns: dict[str, str]) -> None:
    where = f"feature view '{view.name}'"

    def need(column: str, role: str, families: frozenset[str], wanted: str) -> None:
        if column not in columns:
            hint = close_matches(column, columns)
            raise InvalidInputError(
                f"{where}: its source has no column '{column}' (the {role})"
                + (f"; did you mean {', '.join(hint)}?" if hint else "")
                + f"; columns: {', '.join(sorted(columns))}",
                details={"view": view.name, "column": column},
            )
        family = duckdb_family(columns[column])
        if family not in families:
            raise InvalidInputError(
                f"{where}: column '{column}' (the {role}) is {columns[column]} in the source, "
                f"but {wanted}",
                details={"view": view.name, "column": column, "type": columns[column]},
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
