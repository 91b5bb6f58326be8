"""The payload log's segment index: which Parquet blobs hold a deployment's predictions.

A segment is written in two steps: its blob goes to the artifact store, then one
transaction adds its ``payload_segments`` row and an ``artifact_files`` row (owner
``payload_segment``) that keeps garbage collection off the blob. A writer killed between
the two leaves an unreferenced blob, which ``loopml gc`` deletes; the log itself never
shows a part of a segment.

Example:
    >>> from loopml.config import Settings
    >>> list_segments("churn-api", settings=Settings.load())  # doctest: +SKIP
    []
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from loopml.config import Settings
from loopml.monitoring._window import Moment, window
from loopml.monitoring.models import PayloadSegment
from loopml.store import Store, open_store
from loopml.store.schema import artifact_files, payload_segments

__all__ = ["OWNER_KIND", "SEGMENT_PATH", "index_segment", "list_segments", "query_segments"]

OWNER_KIND = "payload_segment"
"""``artifact_files.owner_kind`` of a segment's blob."""
SEGMENT_PATH = "predictions.parquet"
"""``artifact_files.path`` of a segment's blob."""


def index_segment(store: Store, segment: PayloadSegment) -> None:
    """Make a written segment visible: its index row and its blob reference, in one go."""

    def work(conn: Connection) -> None:
        conn.execute(insert(payload_segments).values(**segment.to_dict()))
        conn.execute(
            insert(artifact_files).values(
                owner_kind=OWNER_KIND,
                owner_id=segment.id,
                path=SEGMENT_PATH,
                digest=segment.digest,
                size=segment.size,
                created_at=segment.created_at,
            )
        )

    store.transact(work)


def list_segments(
    deployment: str,
    since: Moment | None = None,
    until: Moment | None = None,
    *,
    settings: Settings | None = None,
) -> list[PayloadSegment]:
    """The segments of ``deployment`` that may hold rows in ``[since, until)``, oldest first.

    Args:
        deployment: the deployment's name.
        since, until: the window (see :func:`~loopml.monitoring.read_predictions`).
        settings: where the metadata store is; ``Settings.load()`` by default.

    Example:
        >>> segments = list_segments("churn-api", since="1h")  # doctest: +SKIP
        >>> sum(s.row_count for s in segments)  # doctest: +SKIP
        1024
    """
    start, end = window(since, until)
    store = open_store((settings or Settings.load()).db_url)
    return query_segments(store, deployment, start, end)


def query_segments(
    store: Store, deployment: str, start: int | None, end: int | None
) -> list[PayloadSegment]:
    """:func:`list_segments` over an open store, with the window in Unix ms."""
    table = payload_segments
    query = select(table).where(table.c.deployment == deployment)
    if start is not None:
        query = query.where(table.c.end_ms >= start)
    if end is not None:
        query = query.where(table.c.start_ms < end)
    with store.read() as conn:
        rows = conn.execute(query.order_by(table.c.start_ms, table.c.id)).mappings().all()
    return [
        PayloadSegment(
            id=row["id"],
            deployment=row["deployment"],
            start_ms=row["start_ms"],
            end_ms=row["end_ms"],
            row_count=row["row_count"],
            prediction_count=row["prediction_count"],
            digest=row["digest"],
            size=row["size"],
            models=tuple((item["model"], item["version"]) for item in row["models"]),
            columns=tuple(row["columns"]),
            writer=row["writer"],
            created_at=row["created_at"],
        )
        for row in rows
    ]
