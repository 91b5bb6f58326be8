"""From a decoded request to what a model version takes, and from its answer to named outputs.

Every protocol decodes its body into a :class:`Payload`: named tensors (V2) or a JSON
value (records, columns, rows). :func:`model_input` holds it up to one version's
signature with the package's checker (:func:`loopml.packaging.signature.check_input`),
so a shadow with another signature gets its own view of the same request. A table
signature gets a pandas DataFrame; tensor signatures get numpy arrays and pandas is
never imported.

Example:
    >>> import numpy as np
    >>> from loopml.packaging.signature import TensorSpec, Signature
    >>> payload = Payload(tensors={"x": np.ones((2, 3))})
    >>> model_input(Signature(TensorSpec("float32", (-1, 3))), payload).dtype
    dtype('float32')
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.errors import InvalidInputError, SignatureError
from loopml.monitoring.payload import ColumnBlock
from loopml.packaging.signature import ColumnSpec, Signature, TensorSpec, check_input

__all__ = [
    "Payload",
    "logged_inputs",
    "lookup_rows",
    "model_input",
    "named_outputs",
    "output_specs",
]


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded request body: V2 ``tensors`` by name, or a JSON ``value``."""

    tensors: Mapping[str, np.ndarray[Any, Any]] | None = None
    value: Any = None


def lookup_rows(payload: Payload) -> Any:
    """What a feature lookup reads entity keys from: the JSON records or columns sent, or
    V2 tensors as columns (``[rows]`` or ``[rows, 1]`` each; BYTES decoded as UTF-8)."""
    if payload.tensors is None:
        return payload.value
    columns: dict[str, list[Any]] = {}
    for name, tensor in payload.tensors.items():
        values = _as_column(tensor)
        if values is None:
            raise InvalidInputError(
                f"input '{name}' must have shape [rows] or [rows, 1] for a feature lookup, "
                f"got {list(tensor.shape)}; send one entity key per row"
            )
        columns[name] = [
            value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            for value in values.tolist()
        ]
    return columns


def model_input(signature: Signature | None, payload: Payload) -> Any:
    """``payload`` as the model with ``signature`` takes it, checked and safely cast.

    Raises:
        SignatureError: it does not fit; every problem is listed.
        InvalidInputError: it is not data at all (a JSON string where rows belong).
    """
    problems: list[str] = []
    if payload.tensors is not None:
        data = _from_tensors(signature, payload.tensors, problems)
    else:
        data = _from_json(signature, payload.value)
    if signature is None:
        if problems:
            raise _signature_error(problems)
        return data
    try:
        checked = check_input(signature, data)
    except SignatureError as err:
        raise _signature_error([*problems, *err.problems]) from err
    if problems:
        raise _signature_error(problems)
    return checked


def _signature_error(problems: list[str]) -> SignatureError:
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    return SignatureError(
        f"input does not match the model's signature ({count}): {'; '.join(problems)}; "
        "fix the request to fit the model's inputs (GET /v2/models/<name> lists them)",
        problems=problems,
    )


def _from_tensors(
    signature: Signature | None, tensors: Mapping[str, np.ndarray[Any, Any]], problems: list[str]
) -> Any:
    inputs = None if signature is None else signature.inputs
    if inputs is None or isinstance(inputs, TensorSpec):
        if len(tensors) == 1:
            return next(iter(tensors.values()))
        if inputs is not None:
            problems.append(f"the model takes one tensor, got {len(tensors)}: {', '.join(tensors)}")
            return next(iter(tensors.values()))
        return dict(tensors)
    known = {str(spec.name) for spec in inputs}
    unknown = [name for name in tensors if name not in known]
    if unknown:
        problems.append(
            f"unknown input{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the model takes {', '.join(map(repr, sorted(known)))}"
        )
    if isinstance(inputs[0], ColumnSpec):
        columns: dict[str, Any] = {}
        for name, tensor in tensors.items():
            values = _as_column(tensor)
            if values is None:
                problems.append(f"column '{name}' must have shape [rows] or [rows, 1]")
                continue
            columns[name] = values
        if len({len(values) for values in columns.values()}) > 1:
            sizes = ", ".join(f"{name}={len(values)}" for name, values in columns.items())
            problems.append(f"columns have different lengths ({sizes})")
            return {}
        return columns
    return dict(tensors)


def _as_column(tensor: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """A tensor of shape ``[rows]`` or ``[rows, 1]`` as one column; ``None`` for others."""
    if tensor.ndim == 2 and tensor.shape[1] == 1:
        return tensor.reshape(-1)
    return tensor if tensor.ndim == 1 else None


def _from_json(signature: Signature | None, value: Any) -> Any:
    inputs = None if signature is None else signature.inputs
    if isinstance(value, str | int | float | bool) or value is None:
        raise InvalidInputError(
            f"expected rows, records or columns, got a single {type(value).__name__}; "
            "send a list of rows, a list of records or a dict of columns"
        )
    if inputs is None:
        if _is_table(value):
            import pandas as pd

            try:
                return pd.DataFrame(value)
            except (ValueError, TypeError) as err:
                raise InvalidInputError(
                    f"the records or columns sent are no table ({err})"
                ) from err
        return _array(value, "input")
    if isinstance(inputs, TensorSpec):
        return _array(_as_rows(value), "input")
    if isinstance(inputs[0], ColumnSpec):
        return value  # records or a dict of columns: check_input makes the table
    if not isinstance(value, Mapping):
        return value  # check_input reports the missing tensors
    return {str(name): _array(values, f"tensor '{name}'") for name, values in value.items()}


def _as_rows(value: Any) -> Any:
    """Columns or records (MLflow's dataframe formats) as rows, for a tensor model."""
    if isinstance(value, Mapping) and all(isinstance(c, list) for c in value.values()):
        return [list(row) for row in zip(*value.values(), strict=False)] if value else []
    if isinstance(value, list) and value and all(isinstance(r, Mapping) for r in value):
        return [list(record.values()) for record in value]
    return value


def _is_table(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(isinstance(column, list) for column in value.values())
    return isinstance(value, list) and bool(value) and all(isinstance(r, Mapping) for r in value)


def _array(value: Any, label: str) -> Any:
    try:
        return np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidInputError(f"{label}: not a rectangular list of values ({err})") from err


def named_outputs(signature: Signature | None, result: Any) -> Mapping[str, np.ndarray[Any, Any]]:
    """A model's answer as named arrays: a dict's keys, a frame's columns, or one output."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(result, pandas.DataFrame):
        return frame_columns(result)
    if isinstance(result, Mapping):
        return {str(name): _output_array(values) for name, values in result.items()}
    name = "predict"
    outputs = None if signature is None else signature.outputs
    if isinstance(outputs, TensorSpec) and outputs.name:
        name = outputs.name
    return {name: _output_array(result)}


def _output_array(values: Any) -> np.ndarray[Any, Any]:
    if hasattr(values, "detach") and hasattr(values, "numpy"):  # a torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    return array.reshape(1) if array.ndim == 0 else array


def output_specs(signature: Signature | None) -> list[tuple[str, str, list[int]]] | None:
    """``(name, signature dtype, shape)`` of each output the signature declares, if any."""
    outputs = None if signature is None else signature.outputs
    if outputs is None:
        return None
    if isinstance(outputs, TensorSpec):
        return [(outputs.name or "predict", outputs.dtype, list(outputs.shape))]
    return [
        (str(spec.name), spec.type, [-1])
        if isinstance(spec, ColumnSpec)
        else (str(spec.name), spec.dtype, list(spec.shape))
        for spec in outputs
    ]


def logged_inputs(data: Any) -> Mapping[str, Any]:
    """What the model saw, by column or tensor name, for the payload log."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return frame_columns(data)
    if isinstance(data, Mapping):
        return {str(name): values for name, values in data.items()}
    return {"input": data}


def frame_columns(frame: Any) -> Mapping[str, np.ndarray[Any, Any]]:
    """A DataFrame's columns by name as numpy arrays; a frame of one numeric dtype is read
    as one block (a :class:`~loopml.monitoring.payload.ColumnBlock`, whose columns are views),
    not column by column (30 lookups cost ~0.3 ms), and the payload log keeps it whole."""
    dtypes = set(frame.dtypes.tolist())
    single = len(dtypes) == 1 and next(iter(dtypes)).kind in "biuf"
    if single and frame.columns.is_unique:
        return ColumnBlock([str(name) for name in frame.columns.tolist()], frame.to_numpy())
    return {str(name): frame[name].to_numpy() for name in frame.columns}
