"""Which dtype changes a model input may go through on its way in: safe casts only.

A value may widen (``int32 -> int64``, ``float32 -> float64``, any integer -> float),
an integer may narrow when every value fits, and ``float64`` may become ``float32``
(see :func:`_to_float`); nothing else changes type: a float is never truncated to an
integer, a string never parsed as a number, a boolean never counted.
:func:`cast_array` returns the cast array or the reason it refused.

Example:
    >>> import numpy as np
    >>> cast_array(np.array([1, 2]), "float64")[0].dtype
    dtype('float64')
    >>> cast_array(np.array([1.5]), "int64")[1]
    'float64 -> int64 would drop the fraction; round and cast the values first'
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["COLUMN_DTYPES", "cast_array", "dtype_name"]

# A column type in a signature -> the numpy dtype its values are cast to.
COLUMN_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "str",
    "binary": "bytes",
    "datetime": "datetime64[ns]",
}


def dtype_name(values: np.ndarray[Any, Any]) -> str:
    """The signature's name for an array's dtype: numpy's, or ``str``/``bytes``/``object``."""
    kind = values.dtype.kind
    if kind == "U":
        return "str"
    if kind == "S":
        return "bytes"
    if kind == "O":
        found = {type(v) for v in values.ravel().tolist() if v is not None}
        if found and found <= {str}:
            return "str"
        if found and found <= {bytes}:
            return "bytes"
        return "object"
    return _DTYPE_NAMES.get(values.dtype) or str(values.dtype)


# numpy builds a dtype's name on every access (~5 us); a server asks per column per request.
_DTYPE_NAMES = {
    np.dtype(name): name
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64",
    )
}  # fmt: skip


def cast_array(
    values: np.ndarray[Any, Any], target: str
) -> tuple[np.ndarray[Any, Any], str | None]:
    """``values`` cast to ``target`` (a :func:`dtype_name`), or the reason it may not be.

    Returns:
        ``(cast values, None)``, or ``(values unchanged, why the cast is refused)``.
    """
    source = dtype_name(values)
    if source == target:
        return values, None
    if target == "object":
        return values, None
    if target in ("str", "bytes"):
        return values, f"{source} is not {target}; convert the values to {target} first"
    if target.startswith("datetime64"):
        if values.dtype.kind == "M":
            return values.astype(target), None
        return values, f"{source} is not a datetime; parse it first (pandas.to_datetime)"
    wanted = np.dtype(target)
    kind = values.dtype.kind
    if wanted.kind == "b" or kind not in "iuf":
        return values, f"{source} cannot become {target}; only numbers widen, nothing else casts"
    if wanted.kind == "f":
        return _to_float(values, wanted)
    if kind == "f":
        return (
            values,
            f"{source} -> {target} would drop the fraction; round and cast the values first",
        )
    return _narrow_integers(values, wanted)


def _narrow_integers(
    values: np.ndarray[Any, Any], wanted: np.dtype[Any]
) -> tuple[np.ndarray[Any, Any], str | None]:
    if np.can_cast(values.dtype, wanted, casting="safe"):
        return values.astype(wanted), None
    limits = np.iinfo(wanted)
    if values.size == 0 or (values.min() >= limits.min and values.max() <= limits.max):
        return values.astype(wanted), None
    return values, (
        f"values outside the {wanted} range [{limits.min}, {limits.max}] cannot become {wanted}"
    )


def _to_float(
    values: np.ndarray[Any, Any], wanted: np.dtype[Any]
) -> tuple[np.ndarray[Any, Any], str | None]:
    # float64 -> float32 is allowed although it rounds: JSON, Python floats and numpy's
    # default all give float64, and a float32 model rounds its inputs the same way anyway.
    # Only values the narrower type cannot hold at all (they would become inf) are refused.
    with np.errstate(over="ignore"):
        cast = values.astype(wanted)
    if values.dtype.kind == "f" and values.dtype.itemsize > wanted.itemsize:
        overflow = np.isinf(cast) & ~np.isinf(values)
        if overflow.any():
            limit = float(np.finfo(wanted).max)
            return values, f"values beyond ±{limit:.4g} do not fit {wanted}"
    return cast, None
