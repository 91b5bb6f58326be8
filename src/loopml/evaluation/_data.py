"""The data an evaluation runs on: a dataset version or a DataFrame, and how to name it.

A dataset version is recorded by its exact URI (``datasets:/churn@latest`` is pinned to
the version it meant at the time) and becomes a lineage node; a DataFrame is recorded
by its shape and a digest of its content, so two evaluations on the same frame say so.

Example:
    >>> import pandas as pd
    >>> describe_frame(pd.DataFrame({"x": [1, 2]}))[:21]
    'dataframe(2x1, sha256'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.config import Settings
from loopml.errors import InvalidInputError, close_matches
from loopml.uris import is_uri

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["EvaluationData", "check_target", "describe_frame", "load_data", "target_values"]


@dataclass(frozen=True, slots=True)
class EvaluationData:
    """The frame to evaluate on, what to call it, and its lineage node (dataset versions)."""

    frame: pd.DataFrame
    label: str
    node: tuple[str, str] | None


def load_data(data: Any, settings: Settings) -> EvaluationData:
    """The table ``data`` names: a ``datasets:/`` URI (a table version) or a DataFrame.

    Raises:
        InvalidInputError: anything else, a dataset version that is a folder of files,
            or an empty table.
        NotFoundError: no such dataset or version.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        found = EvaluationData(data, describe_frame(data), None)
    elif is_uri(data, "datasets"):
        found = _dataset(data, settings)
    else:
        raise InvalidInputError(
            f"data must be a dataset URI (datasets:/name/3, datasets:/name@latest) or a pandas "
            f"DataFrame, got {type(data).__name__} {data!r:.80}"
        )
    if found.frame.empty:
        raise InvalidInputError(f"{found.label} has no rows; evaluate on data with rows")
    return found


def _dataset(uri: str, settings: Settings) -> EvaluationData:
    import pandas as pd

    from loopml.data.versions import DatasetClient

    client = DatasetClient(settings)
    version = client.get(uri)
    if version.kind != "table":
        raise InvalidInputError(
            f"{version.uri} is a folder of files, not a table; evaluate on a table version "
            "(a DataFrame, Parquet or CSV logged with DatasetClient.log)"
        )
    frame = client.load(version.uri)
    assert isinstance(frame, pd.DataFrame)  # a table version loads as a DataFrame
    node = ("dataset_version", f"{version.name}/{version.version}")
    return EvaluationData(frame, version.uri, node)


def describe_frame(frame: pd.DataFrame) -> str:
    """``dataframe(<rows>x<columns>, sha256 <first 12 hex>)`` of a frame's columns and values."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([str(c) for c in frame.columns]).encode())
    digest.update(repr([str(t) for t in frame.dtypes]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    rows, columns = frame.shape
    return f"dataframe({rows}x{columns}, sha256 {digest.hexdigest()[:12]})"


def check_target(data: EvaluationData, target: str) -> None:
    """Refuse a target column the data does not have (with close matches and the columns),
    or one with missing labels (no metric can count those rows)."""
    if target not in data.frame.columns:
        have = [str(c) for c in data.frame.columns]
        near = close_matches(target, have)
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        raise InvalidInputError(
            f"target column {target!r} is not in {data.label}{hint}; columns: {', '.join(have)}"
        )
    missing = int(data.frame[target].isna().sum())
    if missing:
        raise InvalidInputError(
            f"target column {target!r} of {data.label} has {missing} missing label(s); "
            "drop those rows (or fill them) before evaluating"
        )


def target_values(labels: pd.Series) -> NDArray[Any]:
    """The labels as a NumPy array; pandas' nullable numbers become plain NumPy numbers.

    Example:
        >>> import pandas as pd
        >>> target_values(pd.Series([1, 0], dtype="Int64")).dtype
        dtype('int64')
    """
    import pandas as pd

    dtype = labels.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
        return labels.to_numpy(dtype=getattr(dtype, "numpy_dtype", None))
    return labels.to_numpy()
