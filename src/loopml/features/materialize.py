"""Materialization: the latest row of each entity in a time window, into the online store.

For a window ``[start, end)`` DuckDB picks, per entity, the row with the latest
timestamp (ties: the row written last), skips rows already expired at ``end`` (older
than the TTL), orders the result by entity key (so SQLite appends along its B-tree)
and streams it in Arrow batches. Each batch is packed once (see
:mod:`loopml.features._codec`) and written in one atomic ``write_batch``; the backend
keeps the newer record per key, so replaying a window is harmless. The store
records the window (the watermark) only after every batch landed.

Example:
    >>> done = materialize_view(view, online, settings, start_us=0, end_us=now)  # doctest: +SKIP
    >>> done.rows  # doctest: +SKIP
    100000
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loopml.config import Settings
from loopml.features._codec import RowCodec, key_sql
from loopml.features._sources import connect, ident, view_rows
from loopml.features.definitions import FeatureView
from loopml.features.online.base import OnlineStore

__all__ = ["BATCH_ROWS", "Progress", "ViewMaterialization", "materialize_view"]

BATCH_ROWS = 100_000
Progress = Callable[[str, int], None]  # (view name, entities written so far)


@dataclass(frozen=True)
class ViewMaterialization:
    """What one view's materialization wrote.

    Attributes:
        rows: entities written (each one's latest row in the window).
        dataset_version: ``(name, version)`` of the dataset version read, if any.
    """

    rows: int
    dataset_version: tuple[str, int] | None


def materialize_view(
    view: FeatureView,
    online: OnlineStore,
    settings: Settings,
    *,
    start_us: int,
    end_us: int,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ViewMaterialization:
    """Write the latest row per entity of ``view`` in ``[start_us, end_us)`` to ``online``.

    Raises:
        InvalidInputError: the view's source is missing or does not match the view.
    """
    if view.ttl is not None:  # rows expired at `end` can never be served
        start_us = max(start_us, end_us - int(view.ttl.total_seconds() * 1_000_000))
    codec = RowCodec([(f.name, f.dtype) for f in view.features])
    con = connect()
    try:
        rows = view_rows(con, view, settings, alias="__source")
        keys = ", ".join(ident(k) for k in view.join_keys)
        features = ", ".join(ident(f) for f in view.feature_names)
        sql = (
            f"SELECT {key_sql(view.join_keys)} AS __key, epoch_us(__ts) AS __ts_us, {features} "
            f"FROM ({rows.sql}) "
            f"WHERE __ts >= make_timestamp({int(start_us)}) "
            f"AND __ts < make_timestamp({int(end_us)}) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} "
            "ORDER BY __ts DESC, __file DESC, __row DESC) = 1 "
            "ORDER BY __key"
        )
        written = 0
        for batch in con.sql(sql).to_arrow_reader(batch_rows):
            if not batch.num_rows:
                continue
            payloads = codec.encode(batch)
            keys_ = batch.column("__key").to_pylist()
            stamps = batch.column("__ts_us").to_pylist()
            online.write_batch(view.name, list(zip(keys_, stamps, payloads, strict=True)))
            written += batch.num_rows
            if progress is not None:
                progress(view.name, written)
    finally:
        con.close()
    return ViewMaterialization(written, rows.dataset_version)
