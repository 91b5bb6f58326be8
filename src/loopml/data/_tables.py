"""Tables: convert from pandas, name the content canonically, write Parquet, read CSV.

**The canonical digest** names a table's logical content, independent of how it is laid
out in memory or on disk: the same rows give the same digest whether they come from a
DataFrame, an Arrow table or a Parquet file, in any chunking, and under any schema
metadata. It is the SHA-256 of:

1. the schema as compact JSON ``[[name, logical type, nullable], …]`` where the logical
   type does not tell ``string`` from ``large_string`` (nor binary or list from their
   large twins), plus the columns pandas marks as the index, if any, and the columns
   whose DataFrame name was an integer, if any;
2. then, for each slice of 65,536 rows and each column in order, the Arrow IPC message of
   the column cast to its large form, dictionaries decoded; a column with nulls is
   written as its validity mask followed by its non-null values, so the undefined bytes
   under a null never count.

**Parquet is written deterministically**: zstd level 3, format 2.6, row groups of 2^20
rows written from contiguous slices, so the same table gives the same bytes with the same
pyarrow. Schema metadata (pandas' included) is kept in the file so a DataFrame loads back
with its dtypes and index; it is not part of the digest.

**Column names** are text in Arrow. A DataFrame's integer column names (``df.columns``
of ``0, 1, …``) are recorded in the schema metadata (:data:`INTEGER_NAMES`) and restored
by :func:`table_to_frame`; other names that are not text, and MultiIndex columns, are
refused rather than loaded back as something else.

**CSV text is UTF-8** unless an ``encoding`` is given; a CSV that is not UTF-8 would be
read as binary columns, so logging one is refused, naming the encoding option.

Example:
    >>> import pyarrow as pa
    >>> a = pa.table({"x": [1, 2, 3]})
    >>> b = pa.concat_tables([a.slice(0, 1), a.slice(1)])  # same rows, two chunks
    >>> canonical_digest(a) == canonical_digest(b)
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CSV_COMPRESSION",
    "INTEGER_NAMES",
    "canonical_digest",
    "check_text",
    "frame_to_table",
    "read_csv",
    "read_parquet",
    "table_schema",
    "table_to_frame",
    "type_name",
    "write_parquet",
]

_SLICE = 1 << 16
_ROW_GROUP = 1 << 20
CSV_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
# Schema metadata key: the JSON list of columns whose DataFrame name was an integer.
INTEGER_NAMES = b"loopml.integer_column_names"


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as Arrow; its index is kept unless it is an unnamed ``RangeIndex``.

    Integer column names are recorded so that :func:`table_to_frame` restores them.

    Raises:
        InvalidInputError: column names repeat, are MultiIndex tuples or neither text nor
            integers, or a column cannot be converted (mixed types).
    """
    import pandas as pd

    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise InvalidInputError(
            f"the DataFrame has repeated column names {duplicated}; rename them so each "
            "column name is unique"
        )
    integers = _integer_names(frame.columns)
    default_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    try:
        table = pa.Table.from_pandas(frame, preserve_index=not default_index)
    except _ARROW_ERRORS as err:
        raise InvalidInputError(
            f"the DataFrame cannot be stored as a table: {err}; give each column a single "
            "type (e.g. df['col'] = df['col'].astype(str))"
        ) from err
    if not integers:
        return table
    metadata = {**(table.schema.metadata or {}), INTEGER_NAMES: json.dumps(integers).encode()}
    return table.replace_schema_metadata(metadata)


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """The DataFrame of a stored table, integer column names restored.

    Example:
        >>> import pandas as pd
        >>> list(table_to_frame(frame_to_table(pd.DataFrame({0: [1], "a": [2]}))).columns)
        [0, 'a']
    """
    frame: pd.DataFrame = table.to_pandas()
    integers = set(_stored_integer_names(table))
    if integers:
        frame.columns = [int(c) if c in integers else c for c in frame.columns]
    return frame


def _integer_names(columns: Any) -> list[str]:
    """The integer names among a DataFrame's column names (as text), or an error for a name
    that would not come back as it was."""
    import numbers

    import pandas as pd

    if isinstance(columns, pd.MultiIndex):
        raise InvalidInputError(
            f"the DataFrame has MultiIndex columns ({columns.nlevels} levels, e.g. "
            f"{columns[0]!r}); a dataset table needs one name per column: flatten them, e.g. "
            "df.columns = ['_'.join(map(str, c)) for c in df.columns]"
        )
    integers, texts = [], set()
    for name in columns:
        if isinstance(name, str):
            texts.add(name)
        elif not isinstance(name, bool) and isinstance(name, numbers.Integral):
            integers.append(str(int(name)))
        else:
            raise InvalidInputError(
                f"column name {name!r} ({type(name).__name__}) is neither text nor an integer; "
                "rename it (e.g. df.columns = [str(c) for c in df.columns]) so it loads back "
                "as it was"
            )
    clash = sorted(texts.intersection(integers))
    if clash:
        raise InvalidInputError(
            f"the DataFrame has both {clash[0]} and '{clash[0]}' as column names; they are "
            "one name in a table: rename one"
        )
    return integers


def _stored_integer_names(table: pa.Table) -> list[str]:
    stored = (table.schema.metadata or {}).get(INTEGER_NAMES)
    if stored is None:
        return []
    try:
        names = json.loads(stored)
    except ValueError:  # not ours after all: names stay text
        return []
    return [n for n in names if isinstance(n, str) and n in table.column_names]


def check_table(table: pa.Table, what: str) -> pa.Table:
    """``table`` if it has columns with unique names, else an error naming ``what``."""
    names = table.column_names
    if not names:
        raise InvalidInputError(f"{what} has no columns; a dataset table needs at least one")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInputError(f"{what} has repeated column names {repeated}; rename them")
    return table


def type_name(arrow_type: pa.DataType) -> str:
    """The logical name of a type: ``large_string`` and ``string`` are both ``string``."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return f"dictionary<{type_name(t.value_type)}{', ordered' if t.ordered else ''}>"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_large_list_view(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{f.name}: {type_name(f.type)}" for f in t)
        return f"struct<{inner}>"
    return str(t)


def table_schema(table: pa.Table) -> dict[str, Any]:
    """The schema as stored on a version: ``{"columns": [{name, type, nullable}], …}``."""
    columns = [
        {"name": f.name, "type": type_name(f.type), "nullable": f.nullable} for f in table.schema
    ]
    schema: dict[str, Any] = {"columns": columns}
    index = _index_columns(table)
    if index:
        schema["index_columns"] = index
    return schema


def canonical_digest(table: pa.Table) -> str:
    """The SHA-256 of the table's logical content (see the module docstring)."""
    digest = hashlib.sha256()
    header = [[f.name, type_name(f.type), f.nullable] for f in table.schema]
    layout: dict[str, Any] = {"columns": header, "index": _index_columns(table)}
    integers = _stored_integer_names(table)
    if integers:  # absent otherwise, so the digests of every other table stay as they were
        layout["integer_names"] = integers
    text = json.dumps(layout, separators=(",", ":"))
    digest.update(text.encode())
    digest.update(table.num_rows.to_bytes(8, "big"))
    targets = [_large(f.type) for f in table.schema]
    for start in range(0, table.num_rows, _SLICE):
        piece = table.slice(start, _SLICE)
        for column, target in zip(piece.columns, targets, strict=True):
            _hash_array(digest, column.combine_chunks(), target)
    return digest.hexdigest()


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet, deterministically (see the module docstring)."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(
        path, table.schema, compression="zstd", compression_level=3, version="2.6"
    ) as writer:
        for start in range(0, table.num_rows, _ROW_GROUP):
            piece = table.slice(start, _ROW_GROUP).combine_chunks()
            writer.write_table(piece, row_group_size=_ROW_GROUP)


def read_parquet(source: Path | pa.NativeFile, what: str) -> pa.Table:
    """Read a Parquet file with the Arrow types it was written from, or say it is not one."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source)
        return _as_written(parquet.read(), parquet.metadata.metadata or {})
    except (*_ARROW_ERRORS, OSError) as err:
        raise InvalidInputError(
            f"{what} is not a readable Parquet file: {err}; check that it is complete and "
            "really Parquet (give format='csv' for a CSV file)"
        ) from err


def _as_written(table: pa.Table, metadata: dict[bytes, bytes]) -> pa.Table:
    """``table`` cast back to the Arrow schema stored in the file, where Parquet lost it.

    Parquet readers return ``dictionary<string>`` for a ``dictionary<large_string>``
    column, for example; the writer's Arrow schema (``ARROW:schema``) says what it was.
    """
    stored = metadata.get(b"ARROW:schema")
    if stored is None:
        return table
    try:
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored)))
        if schema.names != table.column_names or schema.types == table.schema.types:
            return table
        return table.cast(schema)
    except (*_ARROW_ERRORS, ValueError):  # an odd or foreign schema: keep what was read
        return table


def read_csv(source: Path | pa.NativeFile, what: str, encoding: str | None = None) -> pa.Table:
    """Read a CSV file (header row, comma-separated, UTF-8 or ``encoding``), inferring
    column types.

    Empty fields are nulls in every column, text columns included (as pandas reads them).

    Raises:
        InvalidInputError: not a readable CSV file, or an unknown ``encoding``.
    """
    import codecs

    import pyarrow.csv as pacsv

    read_options = None
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as err:
            raise InvalidInputError(
                f"unknown encoding {encoding!r}; give a Python codec name such as 'latin-1', "
                "'cp1252' or 'utf-16'"
            ) from err
        read_options = pacsv.ReadOptions(encoding=encoding)
    try:
        table = pacsv.read_csv(
            source,
            read_options=read_options,
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except (*_ARROW_ERRORS, OSError) as err:
        raise InvalidInputError(
            f"{what} is not a readable CSV file: {err}; it needs a header row, "
            f"comma-separated values and {encoding or 'UTF-8'} text"
        ) from err
    return check_table(table, what)


def check_text(table: pa.Table, what: str) -> pa.Table:
    """``table`` (read from a CSV) unless a column came out binary: its bytes were not
    UTF-8, so the file is in another encoding.

    Raises:
        InvalidInputError: naming the column, a sample of its bytes and the encoding option.
    """
    for field in table.schema:
        if type_name(field.type) != "binary":
            continue
        sample = next((v for v in table.column(field.name).to_pylist() if v), b"")
        raise InvalidInputError(
            f"{what} is not UTF-8 text: column '{field.name}' holds bytes that are not UTF-8 "
            f"(e.g. {sample[:40]!r}); give the file's encoding, e.g. encoding='latin-1' "
            "(or 'cp1252'), or `loopml data log … --encoding latin-1`",
            details={"column": field.name},
        )
    return table


def _index_columns(table: pa.Table) -> list[str]:
    meta = table.schema.pandas_metadata or {}
    return [name for name in meta.get("index_columns", []) if isinstance(name, str)]


def _large(arrow_type: pa.DataType) -> pa.DataType:
    """The type a column is cast to before hashing: dictionaries decoded, large offsets."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return _large(t.value_type)
    if pa.types.is_string(t) or pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary(t) or pa.types.is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.large_list(pa.field("item", _large(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(pa.field("item", _large(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _large(f.type), f.nullable) for f in t])
    return t


def _hash_array(digest: Any, array: pa.Array, target: pa.DataType) -> None:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if array.type != target:
        array = array.cast(target)
    if array.null_count:
        digest.update(b"V")
        _hash_ipc(digest, array.is_valid())
        array = array.drop_null()
    else:
        digest.update(b"A")
    _hash_ipc(digest, array)


def _hash_ipc(digest: Any, array: pa.Array) -> None:
    digest.update(pa.RecordBatch.from_arrays([array], names=["c"]).serialize())
