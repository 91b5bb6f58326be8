"""What ``loopml pipeline …`` reads from the metadata store: runs, pipelines, cache verdicts.

Every reader first marks ``killed`` the steps of pipeline runs whose process died, so a
listing never shows a dead run's steps as still running.

Example:
    >>> info = find_run(client, "diamond")  # doctest: +SKIP
    >>> [row["verdict"] for row in explain_cache(client, info)]  # doctest: +SKIP
    ['hit', 'hit', 'miss', 'miss']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.cli._pipeline_views import first_line, templates
from loopml.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from loopml.pipelines.models import PipelineRunInfo, StepRunInfo
    from loopml.tracking import TrackingClient

__all__ = [
    "RUN_STATUSES",
    "explain_cache",
    "find_run",
    "list_runs",
    "pipelines_seen",
    "registered_pipelines",
]

RUN_STATUSES = ("running", "finished", "failed", "killed")
_ENDED = {"running": "was still running", "killed": "was killed", "skipped": "was skipped"}


def _reconciled(client: TrackingClient) -> None:
    from loopml.pipelines import records

    client.store.transact(records.reconcile)


def find_run(client: TrackingClient, text: str) -> PipelineRunInfo:
    """A pipeline run by id (or ``runs:/<id>``), or the latest run of the pipeline ``text``.

    Raises:
        NotFoundError: neither a pipeline run nor a pipeline with runs (close names suggested).
    """
    from loopml.pipelines import records

    _reconciled(client)
    run_id = text.removeprefix("runs:/").strip("/")
    with client.store.read() as conn:
        try:
            return records.get_pipeline_run(conn, run_id)
        except NotFoundError:
            latest = records.list_pipeline_runs(conn, pipeline=text, limit=1)
            if latest:
                return records.get_pipeline_run(conn, latest[0].id)
            names = [row["name"] for row in _seen(conn)]
    raise NotFoundError(
        "pipeline run or pipeline",
        text,
        choices=names,
        hint="list runs with `loopml pipeline runs` and pipelines with `loopml pipeline list`",
    )


def list_runs(
    client: TrackingClient, pipeline: str | None, *, limit: int, status: str | None
) -> list[PipelineRunInfo]:
    """Pipeline runs, newest first, of one pipeline or all, optionally with one status."""
    from loopml.pipelines import records

    if status is not None and status not in RUN_STATUSES:
        raise InvalidInputError(f"unknown status {status!r}; use one of {', '.join(RUN_STATUSES)}")
    _reconciled(client)
    with client.store.read() as conn:
        return records.list_pipeline_runs(conn, pipeline=pipeline, limit=limit, status=status)


def pipelines_seen(client: TrackingClient) -> list[dict[str, Any]]:
    """Every pipeline that has runs: its name, run count and latest run (id, status, time)."""
    _reconciled(client)
    with client.store.read() as conn:
        return _seen(conn)


def _seen(conn: Connection) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from loopml.pipelines import records
    from loopml.store.schema import pipeline_runs, runs

    rows = conn.execute(
        select(pipeline_runs.c.pipeline, func.count().label("runs"))
        .join(runs, runs.c.id == pipeline_runs.c.id)
        .where(runs.c.deleted_at.is_(None))
        .group_by(pipeline_runs.c.pipeline)
        .order_by(pipeline_runs.c.pipeline)
    ).all()
    found = []
    for row in rows:
        (latest,) = records.list_pipeline_runs(conn, pipeline=row.pipeline, limit=1)
        found.append(
            {
                "name": row.pipeline,
                "runs": row.runs,
                "last_run_id": latest.id,
                "last_status": latest.status,
                "last_run_at": latest.created_at,
                "entrypoint": latest.entrypoint,
            }
        )
    return found


def registered_pipelines(client: TrackingClient) -> list[dict[str, Any]]:
    """The pipelines registered for schedules and triggers, with their next scheduled time."""
    from loopml.pipelines.schedules import list_registrations

    rows = []
    for found in list_registrations(settings=client.settings):
        upcoming = next(iter(found.next_fire_times(1)), None) if found.enabled else None
        rows.append(
            {
                "name": found.name,
                "entrypoint": found.entrypoint,
                "schedule": found.schedule,
                "timezone": found.timezone,
                "triggers": len(found.triggers),
                "trigger_kinds": [trigger.kind for trigger in found.triggers],
                "enabled": found.enabled,
                "version": found.version,
                "next_fire_at": None if upcoming is None else int(upcoming.timestamp() * 1000),
            }
        )
    return rows


def explain_cache(client: TrackingClient, info: PipelineRunInfo) -> list[dict[str, Any]]:
    """For each node of a run: ``hit`` (and from where) or ``miss`` with every reason.

    The verdict is ``hit``, ``miss``, ``failed`` (it ran, was a miss, then failed),
    ``skipped``, ``map`` (a map finishes with its items) or ``not run``.
    """
    maps = templates(info.spec)
    with client.store.read() as conn:
        return [_explain(conn, info, step, maps) for step in info.steps.values()]


def _explain(
    conn: Connection, info: PipelineRunInfo, step: StepRunInfo, maps: set[str]
) -> dict[str, Any]:
    status = str(step.status)
    row: dict[str, Any] = {"node": step.node, "status": status, "run_id": step.run_id}
    reason = step.reason or ""
    if step.node in maps:
        return {**row, "verdict": "map", "reasons": [reason or f"the map {status}"]}
    if status == "cached":
        return {**row, "verdict": "hit", "reasons": [reason], "cached_from": step.cached_from}
    if status == "skipped":
        return {**row, "verdict": "skipped", "reasons": [reason or "skipped"]}
    if step.key_parts is None:  # never got as far as a cache key
        verdict = "failed" if status == "failed" else "not run"
        return {**row, "verdict": verdict, "reasons": [first_line(step.error) or reason or status]}
    reasons, previous = _miss_reasons(conn, info, step)
    if status == "failed":
        reasons.append(f"then it failed: {first_line(step.error) or reason}")
    verdict = {"completed": "miss", "failed": "failed"}.get(status, "not run")
    return {**row, "verdict": verdict, "reasons": reasons, "compared_with": previous}


def _miss_reasons(
    conn: Connection, info: PipelineRunInfo, step: StepRunInfo
) -> tuple[list[str], str | None]:
    """Why a step that ran did not reuse an earlier run, and which run it was compared with."""
    from loopml.pipelines.cache import explain_difference
    from loopml.pipelines.records import previous_step_run

    reason = step.reason or ""
    if reason.startswith("cache disabled"):
        return [reason], None
    previous = previous_step_run(conn, info.pipeline, step.node, info.created_at, info.id)
    if previous is None or previous.key_parts is None:
        return ["no earlier run of this step"], None
    changes = explain_difference(step.key_parts or {}, previous.key_parts)
    if changes:
        return changes, previous.run_id
    if not previous.status.done:  # same key, but only finished steps are reused
        ended = _ENDED.get(str(previous.status), str(previous.status))
        return [f"same cache key as step run {previous.run_id}, which {ended}"], previous.run_id
    return [reason or "same cache key, yet it ran"], previous.run_id
