"""Model signatures: the named, typed inputs (and outputs) a model takes.

A signature is inferred from an input example when a model is logged and stored in
``model.json``. Three input shapes exist: a table (named, typed columns: a pandas
DataFrame), one tensor (an array: dtype and shape, ``-1`` for the batch dimension) or
named tensors (a dict of arrays). :func:`check_input` holds data up against a
signature before a loaded model sees it, reporting every problem at once.

Column types: ``double``, ``float``, ``long``, ``integer``, ``boolean``, ``string``,
``binary``, ``datetime``.

Example:
    >>> import numpy as np
    >>> signature = infer_signature(np.zeros((3, 4), dtype="float32"))
    >>> signature.to_dict()["inputs"]
    {'type': 'tensor', 'dtype': 'float32', 'shape': [-1, 4]}
    >>> check_input(signature, np.ones((2, 4), dtype="int32")).dtype
    dtype('float32')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from loopml.errors import InvalidInputError, SignatureError
from loopml.packaging import _tables
from loopml.packaging._casting import COLUMN_DTYPES, cast_array, dtype_name

__all__ = ["ColumnSpec", "Schema", "Signature", "TensorSpec", "check_input", "infer_signature"]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One named, typed column of a table input.

    Example:
        >>> ColumnSpec("age", "long").to_dict()
        {'name': 'age', 'type': 'long'}
    """

    name: str
    type: str

    def __post_init__(self) -> None:
        if self.type not in COLUMN_DTYPES:
            raise InvalidInputError(
                f"column '{self.name}' has unknown type '{self.type}'; "
                f"use one of {', '.join(COLUMN_DTYPES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An array input or output: its dtype and shape (``-1`` where any size fits).

    Example:
        >>> TensorSpec("float32", (-1, 28, 28), name="image").to_dict()
        {'dtype': 'float32', 'shape': [-1, 28, 28], 'name': 'image'}
    """

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dtype": self.dtype, "shape": list(self.shape)}
        if self.name is not None:
            out["name"] = self.name
        return out


Schema: TypeAlias = tuple[ColumnSpec, ...] | tuple[TensorSpec, ...] | TensorSpec
"""Columns of a table, named tensors, or one tensor."""


@dataclass(frozen=True, slots=True)
class Signature:
    """What a model takes and gives: ``inputs`` and (when known) ``outputs``.

    Example:
        >>> sig = Signature([ColumnSpec("x", "double")], TensorSpec("int64", (-1,)))
        >>> Signature.from_dict(sig.to_dict()) == sig
        True
    """

    inputs: Schema
    outputs: Schema | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", _checked_schema(self.inputs))
        if self.outputs is not None:
            object.__setattr__(self, "outputs", _checked_schema(self.outputs))

    @property
    def input_names(self) -> list[str] | None:
        """The input columns' or tensors' names; ``None`` for a single tensor."""
        if isinstance(self.inputs, TensorSpec):
            return None
        return [str(spec.name) for spec in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        outputs = None if self.outputs is None else _schema_to_dict(self.outputs)
        return {"inputs": _schema_to_dict(self.inputs), "outputs": outputs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        outputs = data.get("outputs")
        return cls(
            _schema_from_dict(data["inputs"]), _schema_from_dict(outputs) if outputs else None
        )


def infer_signature(example: Any, output: Any = None) -> Signature:
    """The signature of a model that takes ``example`` (and gives ``output`` for it).

    Args:
        example: a pandas DataFrame (named columns), an array or nested list (one
            tensor), or a dict of arrays (named tensors).
        output: what the model predicts for ``example``, if known.

    Raises:
        InvalidInputError: a value's type has no signature form; the message says which.

    Example:
        >>> import pandas as pd
        >>> infer_signature(pd.DataFrame({"a": [1.0], "b": ["x"]})).input_names
        ['a', 'b']
    """
    outputs = None if output is None else _infer_schema(output, "output")
    return Signature(_infer_schema(example, "input example"), outputs)


def check_input(signature: Signature, data: Any) -> Any:
    """``data`` made to fit ``signature``, or one error listing every mismatch.

    Missing columns, types that would need an unsafe cast and wrong non-batch
    dimensions are all reported together. Safe casts are applied (``int -> float``,
    ``int32 -> int64``, ``float32 -> float64``); extra columns are dropped and columns
    come in the signature's order.

    Raises:
        SignatureError: ``data`` does not fit; ``problems`` lists each mismatch.

    Example:
        >>> import pandas as pd
        >>> sig = Signature([ColumnSpec("age", "long"), ColumnSpec("income", "double")])
        >>> check_input(sig, pd.DataFrame({"income": [1], "age": [30], "x": [0]})).columns.tolist()
        ['age', 'income']
    """
    problems: list[str] = []
    inputs = signature.inputs
    if isinstance(inputs, TensorSpec):
        result = _check_tensor(inputs, data, "input", problems)
    elif isinstance(inputs[0], ColumnSpec):
        columns = [(spec.name, spec.type) for spec in inputs]
        result = _tables.check_columns(columns, data, problems)
    else:
        result = _check_named_tensors(inputs, data, problems)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise SignatureError(
            f"input does not match the model's signature ({count}): {'; '.join(problems)}; "
            "fix the input, or log the model again with a signature that fits it",
            problems=problems,
        )
    return result


def _check_tensor(spec: TensorSpec, data: Any, label: str, problems: list[str]) -> Any:
    try:
        values = _tables.as_array(data)
    except InvalidInputError as err:
        problems.append(f"{label}: {err.message}")
        return data
    want = tuple("?" if size == -1 else size for size in spec.shape)
    if values.ndim != len(spec.shape) or any(
        size not in (-1, got) for size, got in zip(spec.shape, values.shape, strict=False)
    ):
        problems.append(f"{label}: expected shape {_shape(want)}, got {_shape(values.shape)}")
        return data
    cast, problem = cast_array(values, spec.dtype)
    if problem:
        problems.append(f"{label} ({spec.dtype}): {problem}")
        return data
    return cast


def _check_named_tensors(specs: Sequence[TensorSpec], data: Any, problems: list[str]) -> Any:
    names = ", ".join(f"'{spec.name}'" for spec in specs)
    if not isinstance(data, Mapping):
        problems.append(f"expected a dict of tensors {names}, got {type(data).__name__}")
        return data
    out: dict[str, Any] = {}
    for spec in specs:
        if spec.name not in data:
            problems.append(f"missing tensor '{spec.name}' ({spec.dtype}, shape {spec.shape})")
            continue
        out[str(spec.name)] = _check_tensor(
            spec, data[spec.name], f"tensor '{spec.name}'", problems
        )
    return out


def _shape(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ("," if len(shape) == 1 else "") + ")"


def _infer_schema(value: Any, what: str) -> Schema:
    if _tables.is_frame(value):
        return tuple(ColumnSpec(name, kind) for name, kind in _tables.infer_columns(value))
    if isinstance(value, Mapping):
        if not value:
            raise InvalidInputError(f"the {what} is an empty dict; give it at least one tensor")
        return tuple(_tensor_spec(_tables.as_array(v), what, str(k)) for k, v in value.items())
    return _tensor_spec(_tables.as_array(value), what)


def _tensor_spec(values: np.ndarray[Any, Any], what: str, name: str | None = None) -> TensorSpec:
    if values.ndim == 0:
        raise InvalidInputError(
            f"the {what} is a single value, not a batch; give rows (e.g. a list of rows)"
        )
    return TensorSpec(dtype_name(values), (-1, *values.shape[1:]), name)


def _checked_schema(schema: Any) -> Schema:
    if isinstance(schema, TensorSpec):
        return schema
    specs = tuple(schema)
    if not specs or not (
        all(isinstance(s, ColumnSpec) for s in specs)
        or all(isinstance(s, TensorSpec) and s.name for s in specs)
    ):
        raise InvalidInputError(
            "a signature's inputs and outputs are a TensorSpec, a non-empty list of "
            "ColumnSpec, or a non-empty list of named TensorSpec"
        )
    return specs


def _schema_to_dict(schema: Schema) -> dict[str, Any]:
    if isinstance(schema, TensorSpec):
        return {"type": "tensor", **schema.to_dict()}
    if isinstance(schema[0], ColumnSpec):
        return {"type": "dataframe", "columns": [spec.to_dict() for spec in schema]}
    return {"type": "tensors", "tensors": [spec.to_dict() for spec in schema]}


def _schema_from_dict(data: Mapping[str, Any]) -> Schema:
    kind = data.get("type")
    if kind == "tensor":
        return TensorSpec(data["dtype"], tuple(data["shape"]), data.get("name"))
    if kind == "dataframe":
        return tuple(ColumnSpec(c["name"], c["type"]) for c in data["columns"])
    if kind == "tensors":
        return tuple(TensorSpec(t["dtype"], tuple(t["shape"]), t["name"]) for t in data["tensors"])
    raise InvalidInputError(
        f"unknown signature schema type {kind!r}; expected tensor, dataframe or tensors "
        "(was the package written by a newer loopml?)"
    )
