"""``loopml.monitoring.drift``: the drift of a table against a reference, in one call.

For notebooks and CI. The reference is a stored :class:`~loopml.data.sketch.ReferenceSketch`
(or a file written by :meth:`~loopml.data.sketch.ReferenceSketch.to_bytes`), or reference
data (a table, a frame, a Parquet or CSV file), which is sketched first. The result, a
:class:`~loopml.data.sketch.TableDrift`, renders as a table in notebooks.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> reference = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    >>> drift(reference, pd.DataFrame({"x": rng.normal(2, 1, 300)})).drifted_columns
    ('x',)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError

if TYPE_CHECKING:  # the statistics pull in scipy: imported on the first call
    import pyarrow as pa

    from loopml.data.sketch import ReferenceSketch, TableDrift

__all__ = ["drift"]


def drift(
    reference: ReferenceSketch | pa.Table | Any | str | Path,
    current: pa.Table | Any,
    **options: Any,
) -> TableDrift:
    """The drift of ``current`` against ``reference``.

    Args:
        reference: a :class:`~loopml.data.sketch.ReferenceSketch`; a path to a sketch
            file (``ReferenceSketch.to_bytes``) or to a Parquet / CSV file of reference
            data; or reference data as an Arrow table or pandas frame.
        current: the data to judge, as an Arrow table or pandas frame.
        **options: :func:`~loopml.data.sketch.drift_against`'s options (``method``,
            ``thresholds``, ``correction``, ``alpha``, ``importance``, ...).

    Raises:
        InvalidInputError: the reference file is missing or not a sketch, or an option
            is wrong.
    """
    from loopml.data.sketch import drift_against

    return drift_against(_sketch_of(reference, options.get("columns")), current, **options)


def _sketch_of(reference: Any, columns: Any) -> ReferenceSketch:
    from loopml.data.sketch import ReferenceSketch, sketch_table

    if isinstance(reference, ReferenceSketch):
        return reference
    if isinstance(reference, str | Path):
        return _read(Path(reference), columns)
    return sketch_table(reference, columns=columns)


def _read(path: Path, columns: Any) -> ReferenceSketch:
    from loopml.data.sketch import ReferenceSketch, sketch_table

    if not path.is_file():
        raise InvalidInputError(
            f"reference {path} is not a file; pass a sketch file (ReferenceSketch.to_bytes), "
            "a Parquet or CSV file, or a table"
        )
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return sketch_table(pq.read_table(path), columns=columns)
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        return sketch_table(pacsv.read_csv(path), columns=columns)
    return ReferenceSketch.from_bytes(path.read_bytes(), str(path))
