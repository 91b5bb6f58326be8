"""Arrow <-> pandas for feature values, one conversion for offline and online alike.

On-demand functions see frames built here both when a training set is made and when
online rows are served, so the same values arrive with the same dtypes.

Example:
    >>> table = columns_to_arrow({"trips": ("int64", [3, None])})
    >>> to_pandas(table)["trips"].tolist()
    [3.0, nan]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.features._types import arrow_type

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["columns_to_arrow", "to_pandas"]


def columns_to_arrow(columns: Mapping[str, tuple[str, Sequence[Any]]]) -> pa.Table:
    """A table from ``{name: (dtype, values)}``; values are cast to the declared types.

    Raises:
        InvalidInputError: a value cannot become its column's type (``"abc"`` as float64).
    """
    import pyarrow as pa

    return pa.table(
        {name: _array(name, dtype, values) for name, (dtype, values) in columns.items()}
    )


def _array(name: str, dtype: str, values: Sequence[Any]) -> pa.Array:
    import pyarrow as pa

    target = arrow_type(dtype)
    try:
        return pa.array(values, type=target, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass  # e.g. strings from a command line for a float64 column: parse them
    try:
        return pa.array(values, from_pandas=True).cast(target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        raise InvalidInputError(
            f"values of '{name}' cannot be read as {dtype}: {err}; pass {dtype} values",
            details={"column": name, "dtype": dtype},
        ) from err


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """The frame loopml gives on-demand functions and callers (pandas' default mapping)."""
    frame: pd.DataFrame = table.to_pandas()
    return frame
