"""Reading and writing pipeline runs and step runs in the metadata store.

Every function takes an open connection, so the runner can write a step's row, its
tracked run, its output files and its lineage edges in one transaction.

Lineage: a step run ``consumed`` each ``step_output`` it read (named
``<producing run>/<output>``) and each ``dataset_version``; it ``produced`` its own
outputs. Blob outputs are also files of the step's run (``outputs/<name>.<ext>``), so
they show in ``loopml artifacts list`` and garbage collection keeps them.

Example:
    >>> output_node("01J", "model")
    ('step_output', '01J/model')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import Connection, bindparam, func, insert, select, update

from loopml.clock import now_ms
from loopml.errors import NotFoundError
from loopml.paging import Page
from loopml.pipelines.models import (
    OutputRef,
    PipelineRunInfo,
    PipelineSummary,
    StepRunInfo,
    StepStatus,
)
from loopml.store.lineage import Edge, add_edge_once, add_edges
from loopml.store.paging import SortKey, page_of, paged_query
from loopml.store.schema import artifact_files, pipeline_runs, runs, step_runs
from loopml.uris import parse_uri

__all__ = [
    "add_nodes",
    "find_cached",
    "get_pipeline_run",
    "insert_pipeline_run",
    "list_pipeline_runs",
    "mark_cached",
    "mark_finished",
    "mark_running",
    "mark_status",
    "output_node",
    "previous_step_run",
    "reconcile",
]


def output_node(run_id: str, output: str) -> tuple[str, str]:
    return ("step_output", f"{run_id}/{output}")


def insert_pipeline_run(
    conn: Connection,
    run_id: str,
    *,
    pipeline: str,
    entrypoint: str | None,
    params: dict[str, Any],
    spec: dict[str, Any],
    executor: str,
    cache: bool,
    resumed_from: str | None,
    nodes: Iterable[tuple[str, str]],
) -> None:
    conn.execute(
        insert(pipeline_runs).values(
            id=run_id,
            pipeline=pipeline,
            entrypoint=entrypoint,
            params=params,
            spec=spec,
            executor=executor,
            cache=cache,
            resumed_from=resumed_from,
            created_at=now_ms(),
        )
    )
    add_nodes(conn, run_id, nodes)


def add_nodes(conn: Connection, pipeline_run_id: str, nodes: Iterable[tuple[str, str]]) -> None:
    rows = [
        {
            "pipeline_run_id": pipeline_run_id,
            "node": node,
            "step": step,
            "status": StepStatus.PENDING.value,
            "attempts": 0,
        }
        for node, step in nodes
    ]
    if rows:
        conn.execute(insert(step_runs), rows)


# Statements built once: a pipeline writes one row per step, and building the statement
# costs more than running it.
_UPDATE_STEP = (
    update(step_runs)
    .where(step_runs.c.pipeline_run_id == bindparam("_run"), step_runs.c.node == bindparam("_node"))
    .execution_options(synchronize_session=False)
)
_INSERT_FILE = insert(artifact_files)


_updates: dict[tuple[str, ...], Any] = {}


def _update_step(conn: Connection, pipeline_run_id: str, node: str, **values: Any) -> None:
    columns = tuple(sorted(values))
    statement = _updates.get(columns)
    if statement is None:
        statement = _updates[columns] = _UPDATE_STEP.values({c: bindparam(c) for c in columns})
    conn.execute(statement, {"_run": pipeline_run_id, "_node": node, **values})


def mark_running(
    conn: Connection,
    pipeline_run_id: str,
    node: str,
    *,
    run_id: str,
    cache_key: str,
    key_parts: dict[str, Any],
    reason: str | None,
) -> None:
    _update_step(
        conn,
        pipeline_run_id,
        node,
        status=StepStatus.RUNNING.value,
        run_id=run_id,
        cache_key=cache_key,
        key_parts=key_parts,
        started_at=now_ms(),
        reason=reason,
    )


def mark_finished(
    conn: Connection,
    pipeline_run_id: str,
    node: str,
    *,
    run_id: str,
    ok: bool,
    attempts: int,
    started_at: int,
    ended_at: int,
    outputs: dict[str, OutputRef],
    consumed: Iterable[OutputRef],
    datasets: Iterable[str],
    error: str | None = None,
    traceback: str | None = None,
) -> None:
    """Record the end of an executed step, with its output files and lineage edges."""
    _update_step(
        conn,
        pipeline_run_id,
        node,
        status=(StepStatus.COMPLETED if ok else StepStatus.FAILED).value,
        attempts=attempts,
        started_at=started_at,
        ended_at=ended_at,
        outputs={name: ref.to_json() for name, ref in outputs.items()} if ok else None,
        error=error,
        traceback=traceback,
    )
    me = ("run", run_id)
    edges: list[Edge] = [
        (me, "consumed", _node_of(ref), {"digest": ref.digest})
        for ref in {(r.run_id, r.name, r.digest): r for r in consumed if r.run_id}.values()
    ]
    for uri in datasets:
        parsed = parse_uri(uri)
        version_node = ("dataset_version", f"{parsed.name}/{parsed.version}")
        add_edge_once(conn, me, "consumed", version_node, {"uri": uri})
    files = []
    if ok:
        for name, ref in outputs.items():
            edges.append((me, "produced", output_node(run_id, name), {"digest": ref.digest}))
            if not ref.is_inline:
                files.append(_file_row(run_id, name, ref, ended_at))
    add_edges(conn, edges)
    if files:
        conn.execute(_INSERT_FILE, files)


def _node_of(ref: OutputRef) -> tuple[str, str]:
    return output_node(ref.run_id, ref.name or "output")


def _file_row(run_id: str, name: str, ref: OutputRef, now: int) -> dict[str, Any]:
    from loopml.pipelines.materializers import get_materializer

    extension = get_materializer(ref.materializer).extension
    return {
        "owner_kind": "run",
        "owner_id": run_id,
        "path": f"outputs/{name}{extension}",
        "digest": ref.digest,
        "size": ref.size,
        "created_at": now,
    }


def mark_cached(
    conn: Connection,
    pipeline_run_id: str,
    node: str,
    *,
    cache_key: str,
    key_parts: dict[str, Any],
    cached_from: str,
    outputs: dict[str, OutputRef],
    reason: str,
) -> None:
    now = now_ms()
    _update_step(
        conn,
        pipeline_run_id,
        node,
        status=StepStatus.CACHED.value,
        run_id=cached_from,
        cached_from=cached_from,
        cache_key=cache_key,
        key_parts=key_parts,
        started_at=now,
        ended_at=now,
        outputs={name: ref.to_json() for name, ref in outputs.items()},
        reason=reason,
    )


def mark_status(
    conn: Connection,
    pipeline_run_id: str,
    node: str,
    reason: str,
    status: StepStatus = StepStatus.SKIPPED,
) -> None:
    """End a node that did not run: skipped, failed before it started, or a finished map."""
    _update_step(conn, pipeline_run_id, node, status=status.value, reason=reason, ended_at=now_ms())


_FIND_CACHED = (
    select(step_runs.c.run_id, step_runs.c.outputs)
    .join(runs, runs.c.id == step_runs.c.run_id)
    .where(
        step_runs.c.cache_key == bindparam("key"),
        step_runs.c.status == StepStatus.COMPLETED.value,
        runs.c.deleted_at.is_(None),
    )
    .order_by(step_runs.c.ended_at.desc())
    .limit(5)
)


def find_cached(conn: Connection, cache_key: str) -> list[tuple[str, dict[str, Any]]]:
    """``(run_id, outputs)`` of the latest (up to 5) completed step runs with this key."""
    rows = conn.execute(_FIND_CACHED, {"key": cache_key}).all()
    return [(row.run_id, row.outputs or {}) for row in rows]


def reconcile(conn: Connection) -> int:
    """Mark ``killed`` the unfinished steps of pipeline runs that are no longer running."""
    ended = select(runs.c.id).where(runs.c.status != "running")
    result = conn.execute(
        update(step_runs)
        .where(
            step_runs.c.status.in_([StepStatus.PENDING.value, StepStatus.RUNNING.value]),
            step_runs.c.pipeline_run_id.in_(ended),
        )
        .values(status=StepStatus.KILLED.value, reason="the pipeline run ended or was killed")
    )
    return int(result.rowcount or 0)


def get_pipeline_run(conn: Connection, run_id: str) -> PipelineRunInfo:
    row = conn.execute(
        select(pipeline_runs, runs.c.status, runs.c.end_time)
        .join(runs, runs.c.id == pipeline_runs.c.id)
        .where(pipeline_runs.c.id == run_id)
    ).first()
    if row is None:
        raise NotFoundError("pipeline run", run_id, hint="list them with `loopml pipeline runs`")
    steps = conn.execute(select(step_runs).where(step_runs.c.pipeline_run_id == run_id)).all()
    order = {n["id"]: i for i, n in enumerate(row.spec.get("nodes", []))}
    infos = sorted((_step_info(s) for s in steps), key=lambda s: _node_order(s.node, order))
    return _run_info(row, {s.node: s for s in infos})


def list_pipeline_runs(
    conn: Connection, pipeline: str | None = None, limit: int = 50, status: str | None = None
) -> list[PipelineRunInfo]:
    """Pipeline runs, newest first, of one pipeline or all, of one run status or any."""
    return page_pipeline_runs(conn, pipeline, limit=limit, status=status).items


_RUN_ORDER: Final[list[SortKey]] = [(pipeline_runs.c.created_at, True), (pipeline_runs.c.id, True)]


def page_pipeline_runs(
    conn: Connection,
    pipeline: str | None = None,
    *,
    limit: int = 50,
    status: str | None = None,
    page_token: str | None = None,
) -> Page[PipelineRunInfo]:
    """One page of pipeline runs, newest first (see :func:`list_pipeline_runs`)."""
    query = (
        select(pipeline_runs, runs.c.status, runs.c.end_time)
        .join(runs, runs.c.id == pipeline_runs.c.id)
        .where(runs.c.deleted_at.is_(None))
    )
    if pipeline is not None:
        query = query.where(pipeline_runs.c.pipeline == pipeline)
    if status is not None:
        query = query.where(runs.c.status == status)
    query = paged_query(query, _RUN_ORDER, limit, page_token)
    page = page_of(conn.execute(query).all(), _RUN_ORDER, limit)
    if not page.items:
        return Page([], None)
    ids = [row.id for row in page.items]
    steps: dict[str, dict[str, StepRunInfo]] = {i: {} for i in ids}
    for s in conn.execute(select(step_runs).where(step_runs.c.pipeline_run_id.in_(ids))):
        steps[s.pipeline_run_id][s.node] = _step_info(s)
    return Page([_run_info(row, steps[row.id]) for row in page.items], page.next_page_token)


_NAME_ORDER: Final[list[SortKey]] = [(pipeline_runs.c.pipeline, False)]


def page_pipelines(
    conn: Connection, *, limit: int = 100, page_token: str | None = None
) -> Page[PipelineSummary]:
    """One page of the pipelines that have live runs, by name, each with its latest run."""
    query = (
        select(pipeline_runs.c.pipeline, func.count().label("runs"))
        .join(runs, runs.c.id == pipeline_runs.c.id)
        .where(runs.c.deleted_at.is_(None))
        .group_by(pipeline_runs.c.pipeline)
    )
    query = paged_query(query, _NAME_ORDER, limit, page_token)
    page = page_of(conn.execute(query).all(), _NAME_ORDER, limit)
    found = []
    for row in page.items:
        (latest,) = list_pipeline_runs(conn, pipeline=row.pipeline, limit=1)
        found.append(
            PipelineSummary(
                name=row.pipeline,
                runs=row.runs,
                last_run_id=latest.id,
                last_status=latest.status,
                last_run_at=latest.created_at,
                entrypoint=latest.entrypoint,
            )
        )
    return Page(found, page.next_page_token)


def previous_step_run(
    conn: Connection, pipeline: str, node: str, before: int, exclude: str
) -> StepRunInfo | None:
    """The latest run of ``node`` in an earlier run of ``pipeline`` that got a key."""
    row = conn.execute(
        select(step_runs)
        .join(pipeline_runs, pipeline_runs.c.id == step_runs.c.pipeline_run_id)
        .where(
            pipeline_runs.c.pipeline == pipeline,
            pipeline_runs.c.created_at <= before,
            pipeline_runs.c.id != exclude,
            step_runs.c.node == node,
            step_runs.c.key_parts.is_not(None),
        )
        .order_by(pipeline_runs.c.created_at.desc(), pipeline_runs.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _step_info(row)


def _step_info(row: Any) -> StepRunInfo:
    return StepRunInfo(
        node=row.node,
        step=row.step,
        status=StepStatus(row.status),
        run_id=row.run_id,
        cache_key=row.cache_key,
        cached_from=row.cached_from,
        attempts=row.attempts,
        started_at=row.started_at,
        ended_at=row.ended_at,
        outputs={k: OutputRef.from_json(v) for k, v in (row.outputs or {}).items()},
        reason=row.reason,
        error=row.error,
        traceback=row.traceback,
        key_parts=row.key_parts,
    )


def _run_info(row: Any, steps: dict[str, StepRunInfo]) -> PipelineRunInfo:
    if row.status != "running":
        # The run ended (maybe killed) before these steps did; say so even before
        # anyone has written it down with reconcile().
        steps = {
            node: replace(step, status=StepStatus.KILLED, reason="the pipeline run ended first")
            if step.status in (StepStatus.PENDING, StepStatus.RUNNING)
            else step
            for node, step in steps.items()
        }
    return PipelineRunInfo(
        id=row.id,
        pipeline=row.pipeline,
        status=row.status,
        params=row.params,
        executor=row.executor,
        cache=row.cache,
        entrypoint=row.entrypoint,
        resumed_from=row.resumed_from,
        created_at=row.created_at,
        ended_at=row.end_time,
        spec=row.spec,
        steps=steps,
    )


def _node_order(node: str, order: dict[str, int]) -> tuple[int, int]:
    if node in order:
        return (order[node], -1)
    base, _, index = node.partition("[")
    return (order.get(base, len(order)), int(index.rstrip("]") or 0) if index else 0)
