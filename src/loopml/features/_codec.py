"""How one entity's feature values are packed into bytes for the online store.

Every backend stores the same bytes, so the format is defined once, here. A row of a
view with features ``f0 … fN-1`` is, little-endian and without padding::

    u8      format version (1)
    4 bytes layout fingerprint: SHA-256 of the view's [(name, dtype), …], first 4 bytes
    ceil(N/8) bytes  null bitmap, bit i (LSB first) set when fi is null
    N slots  one per feature, in order: int32 ``i``, int64 ``q``, float32 ``f``,
             float64 ``d``, bool ``?``, timestamp ``q`` (µs since the epoch, UTC),
             string/bytes ``I`` (the value's byte length)
    then     the bytes of each string/bytes value, in feature order (UTF-8 for strings)

Reading is one :meth:`struct.Struct.unpack_from` plus slicing; nothing is evaluated,
so a stored row can never run code (unlike pickle). A row whose fingerprint is not the
view's current layout was written for another version of the view and reads as absent.
Packing a batch is vectorized (numpy + Arrow), one pass per column.

Entity keys are text: each join key value as a decimal integer or the string itself,
joined by U+001F when a view has several join keys. DuckDB's ``CAST(x AS VARCHAR)``
and Python's ``str(int)`` agree, so materialization and lookups meet on one key.

Example:
    >>> codec = RowCodec([("trips", "int64"), ("city", "string")])
    >>> import pyarrow as pa
    >>> payloads = codec.encode(pa.record_batch({"trips": [3, None], "city": ["Oslo", None]}))
    >>> codec.decode(payloads[0]), codec.decode(payloads[1])
    ((3, 'Oslo'), (None, None))
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.features._types import DTYPES, arrow_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FORMAT_VERSION", "KEY_SEPARATOR", "RowCodec", "entity_key", "key_sql"]

FORMAT_VERSION = 1
KEY_SEPARATOR = "\x1f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMPY = {"i": "<i4", "q": "<i8", "f": "<f4", "d": "<f8", "?": "?", "I": "<u4"}


class RowCodec:
    """Packs and unpacks the feature values of one view layout.

    Args:
        features: ``(name, dtype)`` of each feature, in the view's order.
    """

    def __init__(self, features: Sequence[tuple[str, str]]) -> None:
        self.names = tuple(name for name, _ in features)
        self.dtypes = tuple(dtype for _, dtype in features)
        self.fingerprint = hashlib.sha256(json.dumps(list(map(list, features))).encode()).digest()[
            :4
        ]
        self._null_bytes = (len(features) + 7) // 8
        codes = "".join(DTYPES[d].struct_code for d in self.dtypes)
        self._struct = struct.Struct(f"<B4s{self._null_bytes}s{codes}")
        self._header = bytes([FORMAT_VERSION]) + self.fingerprint
        self._variable = [
            (i, d == "string") for i, d in enumerate(self.dtypes) if DTYPES[d].variable
        ]
        self._timestamps = [i for i, d in enumerate(self.dtypes) if d == "timestamp"]

    def encode(self, batch: pa.RecordBatch | pa.Table) -> list[bytes]:
        """One packed row per row of ``batch`` (columns named like the features)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = batch.num_rows
        layout = np.dtype(
            [("head", "V5"), ("nulls", f"V{self._null_bytes}")]
            + [(f"c{i}", _NUMPY[DTYPES[d].struct_code]) for i, d in enumerate(self.dtypes)]
        )
        packed = np.zeros(rows, dtype=layout)
        packed["head"] = np.frombuffer(self._header, dtype="V5")[0]
        columns = [
            _column(batch, name, dtype) for name, dtype in zip(self.names, self.dtypes, strict=True)
        ]
        if rows and any(c.null_count for c in columns):
            is_null = np.column_stack([c.is_null().to_numpy(zero_copy_only=False) for c in columns])
            bits = np.packbits(is_null, axis=1, bitorder="little")
            packed["nulls"] = np.ascontiguousarray(bits).view(f"V{self._null_bytes}").ravel()
        for i, (column, dtype) in enumerate(zip(columns, self.dtypes, strict=True)):
            packed[f"c{i}"] = _slot_values(column, dtype)
        width = layout.itemsize
        fixed = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), rows, [None, pa.py_buffer(packed)]
        ).cast(pa.binary())
        if self._variable:
            tails = [columns[i].cast(pa.binary()).fill_null(b"") for i, _ in self._variable]
            fixed = pc.binary_join_element_wise(fixed, *tails, pa.scalar(b"", pa.binary()))
        return fixed.to_pylist()  # type: ignore[no-any-return]

    def decode(self, payload: bytes) -> tuple[Any, ...] | None:
        """The values packed in ``payload``; ``None`` when it has another layout."""
        if payload[:5] != self._header:
            return None
        fields = self._struct.unpack_from(payload)
        nulls: bytes = fields[2]
        values = list(fields[3:])
        offset = self._struct.size
        for i, is_text in self._variable:
            end = offset + values[i]
            values[i] = payload[offset:end].decode() if is_text else bytes(payload[offset:end])
            offset = end
        for i in self._timestamps:
            values[i] = _EPOCH + timedelta(microseconds=values[i])
        if any(nulls):
            for i in range(len(values)):
                if nulls[i >> 3] >> (i & 7) & 1:
                    values[i] = None
        return tuple(values)


def _column(batch: pa.RecordBatch | pa.Table, name: str, dtype: str) -> pa.Array:
    import pyarrow as pa

    column = batch.column(name)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.cast(arrow_type(dtype))


def _slot_values(column: pa.Array, dtype: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if DTYPES[dtype].variable:
        column = pc.binary_length(column)
    elif dtype == "timestamp":
        column = column.cast(pa.int64())
    zero: Any = False if dtype == "bool" else 0
    return column.fill_null(zero).to_numpy(zero_copy_only=False)


def key_sql(columns: Sequence[str]) -> str:
    """The DuckDB expression of the entity key of a row with join key ``columns``."""
    parts = [f'CAST("{c}" AS VARCHAR)' for c in columns]
    return parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"


def entity_key(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    """The entity key of ``row`` (a mapping holding the join ``columns``).

    Raises:
        KeyError: a join key is missing from ``row`` (the caller names it).
        InvalidInputError: a value is neither an integer nor a string.
    """
    if len(columns) == 1:
        value = row[columns[0]]
        kind = type(value)
        if kind is str:
            return value  # type: ignore[no-any-return]
        if kind is int:
            return str(value)
        return _key_part(value, columns[0], composite=False)
    return KEY_SEPARATOR.join(_key_part(row[c], c, composite=True) for c in columns)


def _key_part(value: Any, column: str, *, composite: bool) -> str:
    if isinstance(value, str):
        if composite and KEY_SEPARATOR in value:
            raise InvalidInputError(f"join key '{column}' holds the control character U+001F")
        return value
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidInputError(
            f"join key '{column}' is {value!r} ({type(value).__name__}); join keys are "
            "integers or strings",
            details={"column": column},
        )
    return str(value.__index__())
