"""Turning rows into :class:`Run` objects, loading params, metrics and tags in bulk."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from loopml.store.schema import latest_metrics, params, tags
from loopml.tracking._inputs import inputs_of
from loopml.tracking.models import Run, RunInput, RunStatus

__all__ = ["hydrate_runs"]

_IN_CHUNK = 900  # keep well under SQLite's bound-variable limit


def hydrate_runs(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Build runs from ``runs`` rows, in the same order, with their data attached."""
    ids = [row.id for row in rows]
    run_params: dict[str, dict[str, str]] = defaultdict(dict)
    run_tags: dict[str, dict[str, str]] = defaultdict(dict)
    run_metrics: dict[str, dict[str, float]] = defaultdict(dict)
    run_inputs: dict[str, tuple[RunInput, ...]] = {}
    for chunk in _chunks(ids):
        for run_id, key, value in conn.execute(
            select(params.c.run_id, params.c.key, params.c.value).where(params.c.run_id.in_(chunk))
        ):
            run_params[run_id][key] = value
        for run_id, key, value in conn.execute(
            select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(chunk))
        ):
            run_tags[run_id][key] = value
        for run_id, key, value, nan in conn.execute(
            select(
                latest_metrics.c.run_id,
                latest_metrics.c.key,
                latest_metrics.c.value,
                latest_metrics.c.is_nan,
            ).where(latest_metrics.c.run_id.in_(chunk))
        ):
            run_metrics[run_id][key] = math.nan if nan else value
        run_inputs.update(inputs_of(conn, chunk))
    return [
        Run(
            id=row.id,
            experiment_id=row.experiment_id,
            name=row.name,
            status=RunStatus(row.status),
            start_time=row.start_time,
            end_time=row.end_time,
            parent_run_id=row.parent_run_id,
            user=row.user,
            host=row.host,
            deleted_at=row.deleted_at,
            params=dict(sorted(run_params[row.id].items())),
            metrics=dict(sorted(run_metrics[row.id].items())),
            tags=dict(sorted(run_tags[row.id].items())),
            inputs=run_inputs.get(row.id, ()),
        )
        for row in rows
    ]


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]
