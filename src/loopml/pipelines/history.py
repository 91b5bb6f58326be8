"""What has run: pipeline runs, the pipelines that have runs, and cache verdicts, by store.

The service layer behind ``loopml pipeline list|runs|show|explain-cache`` (and a server
later): every listing pages (``limit``, ``page_token``) and returns value objects. Every
reader first marks ``killed`` the steps of pipeline runs whose process died, so a listing
never shows a dead run's steps as still running.

Example:
    >>> from loopml.store import open_store
    >>> store = open_store("sqlite:///:memory:")  # doctest: +SKIP
    >>> info = find_run(store, "diamond")  # doctest: +SKIP
    >>> [step.verdict for step in explain_cache(store, info)]  # doctest: +SKIP
    ['hit', 'hit', 'miss', 'miss']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from loopml.errors import InvalidInputError, NotFoundError
from loopml.paging import Page, check_limit, iter_pages
from loopml.pipelines import records
from loopml.pipelines.models import CacheVerdict, PipelineRunInfo, PipelineSummary, StepRunInfo
from loopml.uris import strip_scheme

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from loopml.store import Store

__all__ = [
    "RUN_STATUSES",
    "explain_cache",
    "find_run",
    "get_run",
    "list_pipelines",
    "list_runs",
]

RUN_STATUSES: Final = ("running", "finished", "failed", "killed")
_ENDED: Final = {"running": "was still running", "killed": "was killed", "skipped": "was skipped"}


def _reconciled(store: Store) -> None:
    store.transact(records.reconcile)


def get_run(store: Store, run_id: str) -> PipelineRunInfo:
    """The pipeline run ``run_id`` as stored (no reconciling: a live run reads itself).

    Raises:
        NotFoundError: no pipeline run has this id.
    """
    with store.read() as conn:
        return records.get_pipeline_run(conn, run_id)


def find_run(store: Store, text: str) -> PipelineRunInfo:
    """A pipeline run by id (or ``runs:/<id>``), or the latest run of the pipeline ``text``.

    Raises:
        NotFoundError: neither a pipeline run nor a pipeline with runs (close names suggested).
    """
    _reconciled(store)
    run_id = strip_scheme(text, "runs").strip("/")
    with store.read() as conn:
        try:
            return records.get_pipeline_run(conn, run_id)
        except NotFoundError:
            latest = records.list_pipeline_runs(conn, pipeline=text, limit=1)
            if latest:
                return records.get_pipeline_run(conn, latest[0].id)
    names = [
        found.name for found in iter_pages(lambda token: list_pipelines(store, page_token=token))
    ]
    raise NotFoundError(
        "pipeline run or pipeline",
        text,
        choices=names,
        hint="list runs with `loopml pipeline runs` and pipelines with `loopml pipeline list`",
    )


def list_runs(
    store: Store,
    pipeline: str | None = None,
    *,
    status: str | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> Page[PipelineRunInfo]:
    """One page of pipeline runs, newest first, of one pipeline or all, of one status or any.

    Raises:
        InvalidInputError: an unknown status, a bad limit or a foreign page token.
    """
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInputError(f"unknown status {status!r}; use one of {', '.join(RUN_STATUSES)}")
    limit = check_limit(limit)
    _reconciled(store)
    with store.read() as conn:
        return records.page_pipeline_runs(
            conn, pipeline, limit=limit, status=status, page_token=page_token
        )


def list_pipelines(
    store: Store, *, limit: int = 100, page_token: str | None = None
) -> Page[PipelineSummary]:
    """One page of the pipelines that have runs, by name, each with its latest run."""
    limit = check_limit(limit)
    _reconciled(store)
    with store.read() as conn:
        return records.page_pipelines(conn, limit=limit, page_token=page_token)


def explain_cache(store: Store, info: PipelineRunInfo) -> list[CacheVerdict]:
    """For each node of a run: ``hit`` (and from where) or ``miss`` with every reason."""
    maps = {node["id"] for node in info.spec.get("nodes", []) if node.get("map")}
    with store.read() as conn:
        return [_explain(conn, info, step, maps) for step in info.steps.values()]


def _first_line(text: str | None) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def _explain(
    conn: Connection, info: PipelineRunInfo, step: StepRunInfo, maps: set[str]
) -> CacheVerdict:
    status = str(step.status)

    def verdict(
        name: str,
        reasons: list[str],
        *,
        cached_from: str | None = None,
        compared_with: str | None = None,
        compared: bool = False,
    ) -> CacheVerdict:
        return CacheVerdict(
            step.node, status, step.run_id, name, reasons, cached_from, compared_with, compared
        )

    reason = step.reason or ""
    if step.node in maps:
        return verdict("map", [reason or f"the map {status}"])
    if status == "cached":
        return verdict("hit", [reason], cached_from=step.cached_from)
    if status == "skipped":
        return verdict("skipped", [reason or "skipped"])
    if step.key_parts is None:  # never got as far as a cache key
        name = "failed" if status == "failed" else "not run"
        return verdict(name, [_first_line(step.error) or reason or status])
    reasons, previous = _miss_reasons(conn, info, step)
    if status == "failed":
        reasons.append(f"then it failed: {_first_line(step.error) or reason}")
    name = {"completed": "miss", "failed": "failed"}.get(status, "not run")
    return verdict(name, reasons, compared_with=previous, compared=True)


def _miss_reasons(
    conn: Connection, info: PipelineRunInfo, step: StepRunInfo
) -> tuple[list[str], str | None]:
    """Why a step that ran did not reuse an earlier run, and which run it was compared with."""
    from loopml.pipelines.cache import explain_difference

    reason = step.reason or ""
    if reason.startswith("cache disabled"):
        return [reason], None
    previous = records.previous_step_run(conn, info.pipeline, step.node, info.created_at, info.id)
    if previous is None or previous.key_parts is None:
        return ["no earlier run of this step"], None
    changes = explain_difference(step.key_parts or {}, previous.key_parts)
    if changes:
        return changes, previous.run_id
    if not previous.status.done:  # same key, but only finished steps are reused
        ended = _ENDED.get(str(previous.status), str(previous.status))
        return [f"same cache key as step run {previous.run_id}, which {ended}"], previous.run_id
    return [reason or "same cache key, yet it ran"], previous.run_id
