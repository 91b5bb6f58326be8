"""MLflow's scoring format (``POST /invocations``) and simple JSON (``POST /predict``).

MLflow's server takes a JSON object with exactly one of ``dataframe_split``
(``{"columns": [...], "data": [[...]]}``), ``dataframe_records`` (a list of records),
``instances`` (TF-serving style rows, or records) or ``inputs`` (a tensor, or a dict of
tensors), or a CSV body (``Content-Type: text/csv``), and answers
``{"predictions": ...}``: rows for an array, records for a DataFrame, a dict of lists
for a dict. ``/predict`` takes the data itself (a list of records, a dict of columns or
a list of rows) and answers the same, with the request's id and the version that answered.

Example:
    >>> parse_invocations(b'{"dataframe_records": [{"a": 1}]}', "application/json").value
    [{'a': 1}]
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from loopml.errors import InvalidInputError
from loopml.serving._inputs import Payload, frame_columns

__all__ = ["FORMATS", "encode_predictions", "parse_invocations", "parse_predict"]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInputError(f"the body is not valid JSON ({err})") from err


def parse_predict(body: bytes) -> Payload:
    """``/predict``: the body is the data (records, columns or rows)."""
    return Payload(value=_loads(body))


def parse_invocations(body: bytes, content_type: str) -> Payload:
    """``/invocations`` in MLflow's scoring format.

    Raises:
        InvalidInputError: not one of the formats, or a malformed one; the message says which.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/csv":
        return _csv(body)
    if kind not in ("application/json", ""):
        raise InvalidInputError(
            f"Content-Type {content_type!r} is not supported; send application/json or text/csv"
        )
    request = _loads(body)
    keys = [key for key in FORMATS if isinstance(request, dict) and key in request]
    if len(keys) != 1:
        raise InvalidInputError(
            "the body must be a JSON object with exactly one of "
            f"{', '.join(FORMATS)} (MLflow's scoring format), got "
            f"{sorted(request) if isinstance(request, dict) else type(request).__name__}"
        )
    key = keys[0]
    value = request[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records" and not (
        isinstance(value, list) and all(isinstance(row, dict) for row in value)
    ):
        raise InvalidInputError("dataframe_records must be a list of records (objects)")
    if (
        key == "instances"
        and isinstance(value, list)
        and value
        and all(isinstance(row, dict) for row in value)
    ):
        return Payload(value=_records_to_columns(value))
    return Payload(value=value)


def _split(value: Any) -> Payload:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInputError("dataframe_split must be an object with 'columns' and 'data'")
    rows = value["data"]
    columns = value.get("columns")
    if columns is None:
        return Payload(value=rows)
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidInputError("dataframe_split 'columns' must be a list of names")
    if len(set(columns)) != len(columns):
        raise InvalidInputError(f"dataframe_split names a column twice: {columns}")
    if not all(isinstance(row, list) and len(row) == len(columns) for row in rows):
        raise InvalidInputError(
            f"every row of dataframe_split 'data' must hold {len(columns)} values, one per column"
        )
    return Payload(value={name: [row[i] for row in rows] for i, name in enumerate(columns)})


def _records_to_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(records[0])
    if any(list(record) != names for record in records):
        raise InvalidInputError("every instance must have the same keys")
    return {name: [record[name] for record in records] for name in names}


def _csv(body: bytes) -> Payload:
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"the CSV body cannot be read ({err})") from err
    return Payload(value={str(name): frame[name].tolist() for name in frame.columns})


def encode_predictions(result: Any, extra: Mapping[str, Any] | None = None) -> bytes:
    """``{"predictions": ...}`` (plus ``extra`` keys), as MLflow writes predictions."""
    reply = dict(extra or {})
    reply["predictions"] = _jsonable(result)
    return orjson.dumps(reply, option=_OPTIONS)


def _jsonable(result: Any) -> Any:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(result, pandas.DataFrame):
        columns = frame_columns(result)
        if all(values.dtype.kind in "biuf" for values in columns.values()):
            names = list(columns)  # numbers only: records straight from the arrays
            return [
                dict(zip(names, row, strict=True))
                for row in zip(*(values.tolist() for values in columns.values()), strict=True)
            ]
        return [{str(k): _jsonable(v) for k, v in row.items()} for row in result.to_dict("records")]
    if pandas is not None and isinstance(result, pandas.Series):
        return _jsonable(result.to_numpy())
    if isinstance(result, Mapping):
        return {str(name): _jsonable(values) for name, values in result.items()}
    if hasattr(result, "detach") and hasattr(result, "numpy"):
        result = result.detach().cpu().numpy()
    if isinstance(result, np.ndarray):
        if result.dtype.kind in "biuf":
            return np.ascontiguousarray(result)
        return _jsonable(result.tolist())
    if isinstance(result, list | tuple):
        return [_jsonable(item) for item in result]
    if isinstance(result, bytes):
        return result.decode("utf-8", "replace")
    if isinstance(result, np.generic):
        return result.item()
    return result
