"""Turning rows into :class:`Run` objects, loading params, metrics and tags in bulk."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row

from loopml.tracking._inputs import inputs_of
from loopml.tracking.models import Run, RunInput, RunStatus

__all__ = ["hydrate_runs"]

_IN_CHUNK = 900  # keep well under SQLite's bound-variable limit


def hydrate_runs(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Build runs from ``runs`` rows, in the same order, with their data attached.

    The three bulk reads go straight to the driver: a page of a thousand runs is read
    often (the run list, MLflow's ``search_runs``), and compiling ``IN`` lists of a
    thousand bound ids costs more than the queries themselves.
    """
    ids = [row.id for row in rows]
    run_params: dict[str, dict[str, str]] = defaultdict(dict)
    run_tags: dict[str, dict[str, str]] = defaultdict(dict)
    run_metrics: dict[str, dict[str, float]] = defaultdict(dict)
    run_inputs: dict[str, tuple[RunInput, ...]] = {}
    q = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for chunk in _chunks(ids):
        among = f"run_id IN ({', '.join([q] * len(chunk))})"
        for run_id, key, value in _fetch(
            conn, f"SELECT run_id, key, value FROM params WHERE {among}", chunk
        ):
            run_params[run_id][key] = value
        for run_id, key, value in _fetch(
            conn, f"SELECT run_id, key, value FROM tags WHERE {among}", chunk
        ):
            run_tags[run_id][key] = value
        for run_id, key, value, nan in _fetch(
            conn, f"SELECT run_id, key, value, is_nan FROM latest_metrics WHERE {among}", chunk
        ):
            run_metrics[run_id][key] = math.nan if nan else value
        run_inputs.update(inputs_of(conn, chunk))
    statuses = {status.value: status for status in RunStatus}
    empty: dict[str, Any] = {}
    return [
        Run(
            id=row.id,
            experiment_id=row.experiment_id,
            name=row.name,
            status=statuses[row.status],
            start_time=row.start_time,
            end_time=row.end_time,
            parent_run_id=row.parent_run_id,
            user=row.user,
            host=row.host,
            deleted_at=row.deleted_at,
            params=_sorted(run_params.get(row.id, empty)),
            metrics=_sorted(run_metrics.get(row.id, empty)),
            tags=_sorted(run_tags.get(row.id, empty)),
            inputs=run_inputs.get(row.id, ()),
        )
        for row in rows
    ]


def _fetch(conn: Connection, sql: str, values: Sequence[str]) -> list[tuple[Any, ...]]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(values))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _sorted(values: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(values.items())) if len(values) > 1 else dict(values)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]
