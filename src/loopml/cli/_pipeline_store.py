"""What ``loopml pipeline …`` shows of the store, shaped for its tables and ``--json``.

The queries are :mod:`loopml.pipelines.history`'s (paged, reconciling dead runs first);
this module only walks the pages and turns value objects into the JSON rows.

Example:
    >>> info = find_run(client, "diamond")  # doctest: +SKIP
    >>> [row["verdict"] for row in explain_cache(client, info)]  # doctest: +SKIP
    ['hit', 'hit', 'miss', 'miss']
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import islice
from typing import TYPE_CHECKING, Any

from loopml.paging import MAX_PAGE_SIZE, iter_pages

if TYPE_CHECKING:
    from loopml.pipelines.models import PipelineRunInfo
    from loopml.tracking import TrackingClient

__all__ = [
    "explain_cache",
    "find_run",
    "list_runs",
    "pipelines_seen",
    "registered_pipelines",
]


def find_run(client: TrackingClient, text: str) -> PipelineRunInfo:
    """A pipeline run by id (or ``runs:/<id>``), or the latest run of the pipeline ``text``."""
    from loopml.pipelines.history import find_run as find

    return find(client.store, text)


def list_runs(
    client: TrackingClient, pipeline: str | None, *, limit: int, status: str | None
) -> list[PipelineRunInfo]:
    """At most ``limit`` pipeline runs, newest first, of one pipeline or all."""
    from loopml.pipelines.history import list_runs as page_runs

    size = min(limit, MAX_PAGE_SIZE)
    pages = iter_pages(
        lambda token: page_runs(client.store, pipeline, status=status, limit=size, page_token=token)
    )
    return list(islice(pages, limit))


def pipelines_seen(client: TrackingClient) -> list[dict[str, Any]]:
    """Every pipeline that has runs: its name, run count and latest run (id, status, time)."""
    from loopml.pipelines.history import list_pipelines

    pages = iter_pages(lambda token: list_pipelines(client.store, page_token=token))
    return [asdict(found) for found in pages]


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
    """For each node of a run: ``hit`` (and from where) or ``miss`` with every reason."""
    from loopml.pipelines.history import explain_cache as explain

    return [verdict.to_dict() for verdict in explain(client.store, info)]
