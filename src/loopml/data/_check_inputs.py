"""What validation accepts as data: a frame, a Parquet or CSV file, or a dataset URI.

Example:
    >>> import pyarrow as pa
    >>> load_data(pa.table({"x": [1]})).num_rows
    1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from loopml.data._check_types import as_table
from loopml.errors import InvalidInputError
from loopml.uris import is_uri

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["load_data", "read_table"]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".tsv")


def load_data(data: Any, *, settings: Settings | None = None) -> pa.Table:
    """``data`` as an Arrow table, whatever form it came in.

    Args:
        data: a pandas DataFrame, a pyarrow Table or RecordBatch, a Parquet/CSV path, or
            a ``datasets:/name/3`` / ``datasets:/name@latest`` URI.
        settings: where dataset URIs are looked up; :meth:`Settings.load` if ``None``.

    Raises:
        InvalidInputError: a missing or unreadable file, or an object of another kind.
        NotFoundError: no such dataset or version.

    Example:
        >>> load_data("data/train.parquet").num_rows  # doctest: +SKIP
        48210
    """
    if isinstance(data, str | os.PathLike):
        return read_table(data, settings=settings)
    return as_table(data)


def read_table(source: str | os.PathLike[str], *, settings: Settings | None = None) -> pa.Table:
    """Read a Parquet file or folder, a CSV/TSV file, or a ``datasets:/name/3`` version.

    Raises:
        InvalidInputError: the file is missing or unreadable, or the format unknown.
    """
    text = os.fspath(source)
    if is_uri(text, "datasets"):
        return _read_dataset(text, settings)
    path = Path(text)
    if not path.exists():
        raise InvalidInputError(
            f"data '{path}' does not exist; give a Parquet or CSV file, "
            "or a dataset URI such as datasets:/name/3"
        )
    suffix = path.suffix.lower()
    try:
        if path.is_dir() or suffix in _PARQUET:
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in _CSV:
            import pyarrow.csv as pacsv

            delimiter = "\t" if suffix == ".tsv" else ","
            return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowException, OSError) as err:
        raise InvalidInputError(f"cannot read data '{path}': {err}") from err
    raise InvalidInputError(
        f"cannot tell the format of '{path}'; use a .parquet, .pq, .csv or .tsv file, "
        "or a folder of Parquet files"
    )


def _read_dataset(uri: str, settings: Settings | None) -> pa.Table:
    from loopml.uris import parse_uri

    parse_uri(uri)  # a clear error for a malformed URI before anything opens the store
    from loopml.config import Settings
    from loopml.data.versions import DatasetClient

    client = DatasetClient(settings or Settings.load())
    table = client.load(uri, as_arrow=True)
    if not isinstance(table, pa.Table):
        raise InvalidInputError(f"{uri} is not a table dataset; validation needs rows and columns")
    return table
