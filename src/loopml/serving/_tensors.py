"""Open Inference Protocol (V2) tensors: datatypes, JSON and binary data, both ways.

A V2 tensor is a name, a datatype (``FP32``, ``INT64``, ``BYTES``, ...), a shape and
its data: in JSON as a (flat or nested) list in row-major order, or with the binary
tensor data extension as raw little-endian bytes after the JSON header (``BYTES``
elements each prefixed by a 4-byte little-endian length). Decoding refuses, with a
message naming the tensor, anything that does not add up: unknown datatypes, negative
or oversized shapes, a data length that does not match the shape, values outside the
datatype's range, floats for an integer tensor.

Example:
    >>> decode_json("x", "INT32", [2, 2], [1, 2, 3, 4]).tolist()
    [[1, 2], [3, 4]]
    >>> datatype_of(np.zeros(1, dtype="float32"))
    'FP32'
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from loopml.errors import InvalidInputError

__all__ = [
    "DATATYPES",
    "datatype_of",
    "datatype_of_signature",
    "decode_binary",
    "decode_json",
    "encode_binary",
    "json_data",
]

DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
"""V2 datatype -> numpy dtype (``BYTES`` elements are ``str`` from JSON, ``bytes`` from binary)."""

# A signature's column types (loopml.packaging.signature) and the datatype they travel as.
_COLUMN_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}
_BY_DTYPE = {value: key for key, value in DATATYPES.items() if key != "BYTES"}
_BY_NUMPY = {np.dtype(name): datatype for name, datatype in _BY_DTYPE.items()}  # no name lookups
_LENGTH = struct.Struct("<I")


def datatype_of(values: np.ndarray[Any, Any]) -> str:
    """The V2 datatype of an array: numbers by dtype, anything else ``BYTES``."""
    return _BY_NUMPY.get(values.dtype, "BYTES")


def datatype_of_signature(dtype: str) -> str:
    """The V2 datatype of a signature's dtype or column type (``double`` -> ``FP64``)."""
    return _COLUMN_DATATYPES.get(dtype) or _BY_DTYPE.get(dtype, "BYTES")


def _checked_shape(name: str, shape: Any) -> tuple[list[int], int]:
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) for size in shape
    ):
        raise InvalidInputError(
            f"input '{name}': shape must be a list of whole numbers, got {shape!r}"
        )
    if any(size < 0 for size in shape):
        raise InvalidInputError(f"input '{name}': shape {shape} has a negative dimension")
    if len(shape) > 32:
        raise InvalidInputError(f"input '{name}': shape has {len(shape)} dimensions; at most 32")
    return shape, math.prod(shape)  # Python ints: a huge shape cannot overflow


def _checked_datatype(name: str, datatype: Any) -> str:
    if datatype not in DATATYPES:
        raise InvalidInputError(
            f"input '{name}': unknown datatype {datatype!r}; use one of {', '.join(DATATYPES)}"
        )
    return str(datatype)


def decode_json(name: str, datatype: Any, shape: Any, data: Any) -> np.ndarray[Any, Any]:
    """A JSON tensor's data (flat or nested, row-major) as an array of ``shape``.

    Raises:
        InvalidInputError: the datatype, shape or data is wrong; the message says how.
    """
    datatype = _checked_datatype(name, datatype)
    dims, count = _checked_shape(name, shape)
    if not isinstance(data, list):
        data = [data]
    try:
        values = np.asarray(data, dtype=object if datatype == "BYTES" else None)
        if values.dtype.kind == "f" and datatype.startswith(("INT", "UINT")):
            values = np.asarray(data, dtype=object)  # ints past int64 became floats: look again
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidInputError(
            f"input '{name}': data is not a rectangular list of values ({err})"
        ) from err
    if values.size != count:
        raise InvalidInputError(
            f"input '{name}': shape {dims} holds {count} values, data has {values.size}"
        )
    values = _json_values(name, datatype, values.reshape(-1))
    return values.reshape(dims)


def _json_values(name: str, datatype: str, flat: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    target = np.dtype(DATATYPES[datatype])
    kind = flat.dtype.kind
    if flat.size == 0:
        return flat.astype(target)
    if datatype == "BYTES":
        if not all(isinstance(item, str) for item in flat.tolist()):
            raise InvalidInputError(f"input '{name}' (BYTES): JSON data must be strings")
        return flat.astype(str)
    if datatype == "BOOL":
        if kind != "b":
            raise InvalidInputError(f"input '{name}' (BOOL): data must be true/false values")
        return flat
    if target.kind == "f":
        if kind not in "iuf":
            raise InvalidInputError(f"input '{name}' ({datatype}): data must be numbers")
        with np.errstate(over="ignore"):
            return flat.astype(target)
    if kind not in "iu":
        flat = _whole_numbers(name, datatype, flat)
    limits = np.iinfo(target)
    if int(flat.min()) < limits.min or int(flat.max()) > limits.max:
        raise InvalidInputError(
            f"input '{name}' ({datatype}): values outside [{limits.min}, {limits.max}]"
        )
    return flat.astype(target)


def _whole_numbers(name: str, datatype: str, flat: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Integers numpy did not keep as integers (past int64: UINT64's upper half)."""
    items = flat.astype(object).tolist() if flat.dtype.kind == "O" else None
    if items is None or not all(type(item) is int for item in items):
        what = "fractions" if flat.dtype.kind == "f" else "values that are not whole numbers"
        raise InvalidInputError(f"input '{name}' ({datatype}): data holds {what}")
    if min(items) < 0:
        return np.array(items, dtype="int64") if max(items) < 2**63 else _too_wide(name, datatype)
    return np.array(items, dtype="uint64") if max(items) < 2**64 else _too_wide(name, datatype)


def _too_wide(name: str, datatype: str) -> np.ndarray[Any, Any]:
    raise InvalidInputError(f"input '{name}' ({datatype}): values beyond 64-bit integers")


def decode_binary(name: str, datatype: Any, shape: Any, raw: bytes) -> np.ndarray[Any, Any]:
    """A binary tensor (the binary tensor data extension) as an array of ``shape``.

    Raises:
        InvalidInputError: the bytes do not hold ``shape`` values of ``datatype``.
    """
    datatype = _checked_datatype(name, datatype)
    dims, count = _checked_shape(name, shape)
    if datatype == "BYTES":
        return _decode_bytes(name, raw, count).reshape(dims)
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    if count * dtype.itemsize != len(raw):
        raise InvalidInputError(
            f"input '{name}': shape {dims} of {datatype} needs {count * dtype.itemsize} bytes, "
            f"got {len(raw)}"
        )
    values = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL" and values.view(np.uint8).max(initial=0) > 1:
        raise InvalidInputError(f"input '{name}' (BOOL): bytes must be 0 or 1")
    return values.astype(dtype.newbyteorder("="), copy=False).reshape(dims)


def _decode_bytes(name: str, raw: bytes, count: int) -> np.ndarray[Any, Any]:
    items: list[bytes] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + 4 > end:
            raise InvalidInputError(f"input '{name}' (BYTES): truncated element length")
        (size,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + size > end:
            raise InvalidInputError(
                f"input '{name}' (BYTES): element of {size} bytes runs past the data"
            )
        items.append(raw[offset : offset + size])
        offset += size
        if len(items) > count:
            break
    if len(items) != count:
        raise InvalidInputError(
            f"input '{name}' (BYTES): shape holds {count} elements, data has {len(items)}"
        )
    values = np.empty(count, dtype=object)
    values[:] = items
    return values


def json_data(values: np.ndarray[Any, Any]) -> Any:
    """An output's data for JSON: flat, row-major; ``BYTES`` as strings."""
    flat = values.reshape(-1)
    if flat.dtype.kind in "biuf" and flat.dtype.name in _BY_DTYPE:
        return np.ascontiguousarray(flat)  # orjson writes these itself, fast
    return [
        item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        for item in flat.tolist()
    ]


def encode_binary(values: np.ndarray[Any, Any]) -> bytes:
    """An output's raw bytes for the binary tensor data extension."""
    if datatype_of(values) != "BYTES":
        little = values.astype(values.dtype.newbyteorder("<"), copy=False)
        return np.ascontiguousarray(little).tobytes()
    parts: list[bytes] = []
    for item in values.reshape(-1).tolist():
        data = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)
