"""The feature value types, and what each one is in DuckDB, Arrow and the online packing.

One table, so that the offline join, the online packing and the on-demand frames can
never disagree about what a declared ``dtype`` means. Timestamps are microseconds in
UTC everywhere (DuckDB's ``TIMESTAMP`` resolution).

Example:
    >>> DTYPES["float64"].duckdb
    'DOUBLE'
    >>> check_dtype("int64", owner="feature 'trips'")
    'int64'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopml.errors import InvalidInputError, close_matches

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DTYPES", "DType", "arrow_type", "check_dtype"]


@dataclass(frozen=True, slots=True)
class DType:
    """One declarable feature type.

    Attributes:
        name: what definitions write, e.g. ``"int64"``.
        duckdb: the DuckDB type values are cast to.
        family: which source column types may feed it (``"int"``, ``"float"``, …).
        struct_code: the :mod:`struct` code of its slot in a packed online row; variable
            length types keep their byte length there (``"I"``) and the bytes at the end.
        variable: whether the value has a variable length (strings and bytes).
    """

    name: str
    duckdb: str
    family: str
    struct_code: str
    variable: bool = False


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("int32", "INTEGER", "int", "i"),
        DType("int64", "BIGINT", "int", "q"),
        DType("float32", "FLOAT", "float", "f"),
        DType("float64", "DOUBLE", "float", "d"),
        DType("bool", "BOOLEAN", "bool", "?"),
        DType("string", "VARCHAR", "string", "I", variable=True),
        DType("bytes", "BLOB", "bytes", "I", variable=True),
        DType("timestamp", "TIMESTAMPTZ", "timestamp", "q"),
    )
}

# Which source column families a declared family accepts: ints widen to floats, never back.
ACCEPTS: dict[str, frozenset[str]] = {
    "int": frozenset({"int"}),
    "float": frozenset({"int", "float"}),
    "bool": frozenset({"bool"}),
    "string": frozenset({"string"}),
    "bytes": frozenset({"bytes"}),
    "timestamp": frozenset({"timestamp"}),
}


def check_dtype(dtype: str, *, owner: str) -> str:
    """``dtype`` if loopml knows it, else :class:`InvalidInputError` naming close matches."""
    if dtype in DTYPES:
        return dtype
    hint = close_matches(dtype, DTYPES)
    suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
    raise InvalidInputError(
        f"{owner} has the unknown dtype {dtype!r}{suggestion} (known: {', '.join(DTYPES)})",
        details={"dtype": dtype, "known": list(DTYPES)},
    )


def duckdb_family(duckdb_type: str) -> str:
    """The family of a column type as DuckDB's ``DESCRIBE`` spells it (``"nested"`` for lists)."""
    upper = duckdb_type.upper()
    if "[" in upper or upper.startswith(("STRUCT", "MAP", "UNION")):
        return "nested"
    base = upper.split("(")[0].strip()
    return _FAMILIES.get(base, "timestamp" if base.startswith("TIMESTAMP") else base.lower())


_INTEGERS = "TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT"
_FAMILIES = {
    **dict.fromkeys(_INTEGERS.split(), "int"),
    **dict.fromkeys(("FLOAT", "DOUBLE", "DECIMAL", "REAL"), "float"),
    "DATE": "timestamp",
    "BOOLEAN": "bool",
    "VARCHAR": "string",
    "BLOB": "bytes",
}


def arrow_type(dtype: str) -> pa.DataType:
    """The Arrow type a column of ``dtype`` has, offline and online alike."""
    import pyarrow as pa

    return {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "bytes": pa.binary(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[dtype]
