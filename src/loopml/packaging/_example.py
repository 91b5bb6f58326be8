"""Input examples: a few rows kept in ``input_example.json``, given back as they came.

A DataFrame keeps its column names and dtypes, an array its dtype and shape, a dict
of arrays each array's. Values are plain JSON: NaN and missing values become
``null``, datetimes ISO strings, bytes ``{"base64": "…"}``.

Example:
    >>> import numpy as np
    >>> decode_example(encode_example(np.eye(2, dtype="float32"))).dtype
    dtype('float32')
"""

from __future__ import annotations

import base64
import datetime
import math
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopml.errors import InvalidInputError
from loopml.packaging._tables import as_array, is_frame

__all__ = ["MAX_ROWS", "decode_example", "encode_example", "prepare_example"]

MAX_ROWS = 5


def prepare_example(example: Any) -> Any:
    """The first :data:`MAX_ROWS` rows as a DataFrame, an array or a dict of arrays.

    Raises:
        InvalidInputError: a sparse matrix, a single value, or a type with no example form.
    """
    if is_frame(example):
        return example.head(MAX_ROWS).copy()
    if hasattr(example, "to_frame") and hasattr(example, "dtype"):  # a pandas Series
        return example.to_frame().head(MAX_ROWS)
    if hasattr(example, "toarray") and hasattr(example, "nnz"):  # a scipy sparse matrix
        raise InvalidInputError(
            "a sparse matrix cannot be an input example; give a dense slice of it "
            "(x[:5].toarray()) or no example"
        )
    if isinstance(example, Mapping):
        return {str(name): _rows(as_array(value), str(name)) for name, value in example.items()}
    return _rows(as_array(example), "input example")


def encode_example(example: Any) -> dict[str, Any]:
    """A prepared example as JSON-ready data (see :func:`prepare_example`)."""
    if is_frame(example):
        columns = [_column_values(example.iloc[:, i]) for i in range(example.shape[1])]
        return {
            "type": "dataframe",
            "columns": [_column_name(name) for name in example.columns],
            "dtypes": [str(dtype) for dtype in example.dtypes],
            "data": [list(row) for row in zip(*columns, strict=True)],
        }
    if isinstance(example, Mapping):
        return {"type": "dict", "data": {k: _encode_array(v) for k, v in example.items()}}
    return {"type": "ndarray", **_encode_array(example)}


def decode_example(data: Mapping[str, Any]) -> Any:
    """The example :func:`encode_example` stored, with its original types."""
    kind = data.get("type")
    if kind == "ndarray":
        return _decode_array(data)
    if kind == "dict":
        return {name: _decode_array(value) for name, value in data["data"].items()}
    if kind == "dataframe":
        import pandas as pd

        rows = [[_decode_value(v) for v in row] for row in data["data"]]
        frame = pd.DataFrame(rows, columns=data["columns"])
        for i, dtype in enumerate(data["dtypes"]):
            if dtype != "object":
                frame.isetitem(i, frame.iloc[:, i].astype(dtype).array)
        return frame
    raise InvalidInputError(
        f"unknown input example type {kind!r}; expected dataframe, ndarray or dict "
        "(was the package written by a newer loopml?)"
    )


def _rows(values: np.ndarray[Any, Any], what: str) -> np.ndarray[Any, Any]:
    if values.ndim == 0:
        raise InvalidInputError(f"the {what} is a single value; give a batch of rows")
    if values.dtype.kind not in "biufUSOM":
        raise InvalidInputError(
            f"the {what} has dtype {values.dtype}, which cannot be stored as an example; "
            "use numbers, booleans, strings, bytes or datetimes"
        )
    return values[:MAX_ROWS].copy()


def _column_name(name: Any) -> Any:
    return name if isinstance(name, str | int) and not isinstance(name, bool) else str(name)


def _column_values(series: Any) -> list[Any]:
    from pandas.api import types

    if types.is_datetime64_any_dtype(series.dtype):
        return [None if v is None or v != v else v.isoformat() for v in series.tolist()]
    return [_plain(value) for value in series.tolist()]


def _encode_array(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    if values.dtype.kind == "M":
        data: Any = values.astype(str).tolist()
    else:
        data = _nested(values.tolist())
    return {"dtype": str(values.dtype), "shape": list(values.shape), "data": data}


def _decode_array(data: Mapping[str, Any]) -> np.ndarray[Any, Any]:
    values = _nested_decode(data["data"])
    return np.array(values, dtype=np.dtype(data["dtype"])).reshape(data["shape"])


def _nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_nested(v) for v in value]
    return _plain(value)


def _nested_decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_nested_decode(v) for v in value]
    return _decode_value(value)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isinf(value):
            raise InvalidInputError(
                "the input example holds an infinite value, which JSON cannot keep; give "
                "rows with finite values"
            )
        return None if math.isnan(value) else value
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    pandas = sys.modules.get("pandas")
    if pandas is not None and pandas.api.types.is_scalar(value) and pandas.isna(value):
        return None  # pandas.NA, NaT
    if hasattr(value, "item"):  # a numpy scalar
        return _plain(value.item())
    raise InvalidInputError(
        f"the input example holds a {type(value).__name__}, which JSON cannot keep; "
        "use numbers, booleans, strings, bytes or datetimes"
    )


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"base64"}:
        return base64.b64decode(value["base64"])
    return value
