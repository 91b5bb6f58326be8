"""Reading the payload log back: a deployment's predictions in a time window, as a table.

The index names the segments that overlap the window; their blobs are fetched (and
verified) from the artifact store, and DuckDB reads them as one table
(``union_by_name``: segments may differ in columns) and filters the rows exactly.

Example:
    >>> import loopml
    >>> frame = loopml.read_predictions("churn-api", since="1h")  # doctest: +SKIP
    >>> frame[["request_id", "version", "output.predict"]].head()  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring._rows import base_schema
from loopml.monitoring._window import Moment, window
from loopml.monitoring.feedback import join_labels, labels_for
from loopml.monitoring.models import PayloadSegment
from loopml.monitoring.segments import query_segments
from loopml.store import open_store

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["read_predictions"]

_ORDER = 'time_ms, request_id, role, "row"'


def read_predictions(
    deployment: str,
    since: Moment | None = None,
    until: Moment | None = None,
    *,
    settings: Settings | None = None,
    role: Literal["primary", "shadow"] | None = None,
    limit: int | None = None,
    artifact_store: ArtifactStore | None = None,
    with_labels: bool = False,
) -> pd.DataFrame:
    """The predictions ``deployment`` logged in ``[since, until)``, as a pandas DataFrame.

    One row per predicted row, ordered by time, request id, role (primary first) and
    row; the columns are described in :mod:`loopml.monitoring` (``request_id``, ``row``,
    ``time_ms``, …, then ``input.*``, ``feature.*``, ``output.*``). A column missing from
    some segments is null on their rows. An unknown deployment, or a window with
    nothing in it, gives an empty frame with the base columns.

    Args:
        deployment: the deployment's name.
        since: the window's inclusive start: Unix ms, a datetime (naive is UTC), an ISO
            string, ``now`` or an age such as ``"1h"``; open when ``None``.
        until: the window's exclusive end, in the same forms; open when ``None``.
        settings: where the stores are; ``Settings.load()`` by default.
        role: only ``"primary"`` or only ``"shadow"`` rows.
        limit: at most this many rows (the oldest first).
        artifact_store: where the segments are; the settings' artifact store by default.
        with_labels: add a ``label`` column: the request's delayed label
            (:func:`~loopml.monitoring.log_feedback`; one per request id), null where none.

    Raises:
        InvalidInputError: a bad time, role or limit, or ``since`` after ``until``.

    Example:
        >>> frame = read_predictions("churn-api", since="2026-12-01", until="now")  # doctest: +SKIP
        >>> frame.groupby("version").size()  # doctest: +SKIP
    """
    start, end = window(since, until)
    _check(deployment, role, limit)
    settings = settings or Settings.load()
    store = open_store(settings.db_url)
    segments = query_segments(store, deployment, start, end)
    if not segments or limit == 0:
        frame = _empty()
    else:
        blobs = artifact_store or ArtifactStore.from_url(settings.artifacts_url)
        with tempfile.TemporaryDirectory(prefix="loopml-payload-") as folder:
            files = _fetch(blobs, segments, Path(folder))
            table = _query(files, deployment, start, end, role, limit)
        frame = table.to_pandas()
    if with_labels:
        frame = join_labels(frame, labels_for(store, deployment, frame["request_id"]))
    return frame


def _check(deployment: str, role: str | None, limit: int | None) -> None:
    if not isinstance(deployment, str) or not deployment:
        raise InvalidInputError(f"deployment must be a non-empty name, got {deployment!r}")
    if role not in (None, "primary", "shadow"):
        raise InvalidInputError(f"role must be 'primary' or 'shadow', got {role!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInputError(f"limit must be a whole number >= 0, got {limit!r}")


def _fetch(blobs: ArtifactStore, segments: list[PayloadSegment], folder: Path) -> list[str]:
    """Each segment's blob as a local file, verified against its digest."""
    files = [folder / f"{segment.id}.parquet" for segment in segments]
    jobs = list(zip((s.digest for s in segments), files, strict=True))
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        list(pool.map(lambda job: blobs.get_file(*job), jobs))
    return [str(path) for path in files]


def _query(
    files: list[str],
    deployment: str,
    start: int | None,
    end: int | None,
    role: str | None,
    limit: int | None,
) -> pa.Table:
    import duckdb

    conditions, params = ["deployment = ?"], [deployment]  # type: list[str], list[object]
    for clause, value in (("time_ms >= ?", start), ("time_ms < ?", end), ("role = ?", role)):
        if value is not None:
            conditions.append(clause)
            params.append(value)
    where = " AND ".join(conditions)
    tail = f" ORDER BY {_ORDER}" + ("" if limit is None else f" LIMIT {int(limit)}")
    con = duckdb.connect()
    try:
        sql = f"SELECT * FROM read_parquet(?, union_by_name = true) WHERE {where}{tail}"
        return con.sql(sql, params=[files, *params]).to_arrow_table()
    except duckdb.Error:
        # Segments disagree on a column's type (a number here, a list there): read them
        # one by one and let Arrow unify what it can, the rest as text.
        sql = f"SELECT * FROM read_parquet(?) WHERE {where}"
        parts = [con.sql(sql, params=[file, *params]).to_arrow_table() for file in files]
        order = [(name, "ascending") for name in ("time_ms", "request_id", "role", "row")]
        merged = _merge(parts).sort_by(order)
        return merged if limit is None else merged.slice(0, limit)
    finally:
        con.close()


def _merge(parts: list[pa.Table]) -> pa.Table:
    import pyarrow as pa

    try:
        return pa.concat_tables(parts, promote_options="permissive")
    except (pa.ArrowException, TypeError):
        types: dict[str, set[str]] = {}
        for part in parts:
            for field in part.schema:
                types.setdefault(field.name, set()).add(str(field.type))
        clashing = {name for name, kinds in types.items() if len(kinds) > 1}
        return pa.concat_tables(
            [_as_text(part, clashing) for part in parts], promote_options="permissive"
        )


def _as_text(part: pa.Table, names: set[str]) -> pa.Table:
    import pyarrow as pa

    for index, field in enumerate(part.schema):
        if field.name in names:
            values: list[Any] = part.column(index).to_pylist()
            text = pa.array([None if v is None else str(v) for v in values], pa.string())
            part = part.set_column(index, field.name, text)
    return part


def _empty() -> pd.DataFrame:
    frame: pd.DataFrame = base_schema().empty_table().to_pandas()
    return frame
