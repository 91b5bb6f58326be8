"""Row-wise views of model inputs and outputs: count, merge and split them by rows.

The batcher needs three things of a request's inputs: how many rows they hold, a layout
(two requests merge only when their layouts are equal) and how to concatenate several;
and of a merged output, how to cut it back into each request's rows. pandas is never
imported here: a DataFrame is recognised only when pandas is already loaded.

Example:
    >>> import numpy as np
    >>> describe(np.zeros((3, 2)))
    (3, ('array', '<f8', (2,)))
    >>> [part.tolist() for part in split(np.arange(5), [2, 3])]
    [[0, 1], [2, 3, 4]]
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["UnsplittableError", "concat", "describe", "split"]


class UnsplittableError(Exception):
    """A model output that does not have one item per input row (internal to serving)."""


def describe(inputs: Any) -> tuple[int, Hashable | None]:
    """``(rows, layout)`` of one request's inputs; layout ``None`` means "never merge"."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 0:
            return 1, None
        return inputs.shape[0], ("array", inputs.dtype.str, inputs.shape[1:])
    if _is_pandas(inputs, "DataFrame"):
        columns = tuple((str(name), str(dtype)) for name, dtype in inputs.dtypes.items())
        if len({name for name, _ in columns}) != len(columns):
            return len(inputs), None
        return len(inputs), ("frame", columns)
    if isinstance(inputs, Mapping):
        return _describe_columns(inputs)
    if isinstance(inputs, list | tuple):
        if not inputs:
            return 0, None
        return len(inputs), ("list", type(inputs).__name__, _item_kind(inputs[0]))
    return 1, None


def _describe_columns(columns: Mapping[Any, Any]) -> tuple[int, Hashable | None]:
    lengths: set[int] = set()
    kinds: list[Hashable] = []
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.ndim >= 1:
            kinds.append((name, "array", values.dtype.str, values.shape[1:]))
        elif isinstance(values, list | tuple):
            first = _item_kind(values[0]) if values else None
            kinds.append((name, type(values).__name__, first))
        else:  # a scalar or an unknown container: one record, or not rows at all
            return 1, None
        lengths.add(len(values))
    if len(lengths) != 1:  # no columns, or columns of different lengths: the model decides
        return 1, None
    try:
        hash(tuple(kinds))
    except TypeError:
        return lengths.pop(), None
    return lengths.pop(), ("columns", tuple(kinds))


def _item_kind(item: Any) -> Hashable:
    if isinstance(item, Mapping):
        return ("record", tuple(map(str, item)))
    if isinstance(item, list | tuple | np.ndarray):
        return ("row", len(item), type(item[0]).__name__ if len(item) else None)
    return type(item).__name__


def concat(parts: Sequence[Any]) -> Any:
    """The rows of ``parts`` (inputs of one layout, see :func:`describe`) as one input."""
    first = parts[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(parts, axis=0)
    if _is_pandas(first, "DataFrame"):
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    if isinstance(first, Mapping):
        return {name: _concat_values([part[name] for part in parts]) for name in first}
    return _concat_values(parts)


def _concat_values(values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(values, axis=0)
    return type(first)(itertools.chain.from_iterable(values))


def split(outputs: Any, counts: Sequence[int]) -> list[Any]:
    """``outputs`` cut into consecutive parts of ``counts`` rows each.

    Raises:
        UnsplittableError: ``outputs`` has no row axis, or not one item per input row.
    """
    total = sum(counts)
    bounds = list(itertools.accumulate(counts, initial=0))
    if isinstance(outputs, Mapping):
        columns = {name: _sliceable(values, total, name) for name, values in outputs.items()}
        return [
            {name: _cut(values, start, end) for name, values in columns.items()}
            for start, end in itertools.pairwise(bounds)
        ]
    whole = _sliceable(outputs, total, None)
    return [_cut(whole, start, end) for start, end in itertools.pairwise(bounds)]


def _sliceable(values: Any, total: int, name: Any) -> Any:
    label = "the output" if name is None else f"output {name!r}"
    if isinstance(values, str | bytes) or not hasattr(values, "__getitem__"):
        raise UnsplittableError(f"{label} is a {type(values).__name__}, not one item per row")
    shape = getattr(values, "shape", None)
    length = (shape[0] if shape else None) if shape is not None else _length(values)
    if length != total:
        raise UnsplittableError(f"{label} has {length} rows for {total} input rows")
    return values


def _length(values: Any) -> int | None:
    try:
        return len(values)
    except TypeError:
        return None


def _cut(values: Any, start: int, end: int) -> Any:
    if _is_pandas(values, "DataFrame") or _is_pandas(values, "Series"):
        return values.iloc[start:end].reset_index(drop=True)
    return values[start:end]


def _is_pandas(value: Any, kind: str) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, getattr(pandas, kind))
