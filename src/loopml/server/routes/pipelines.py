"""Pipelines over REST: the pipelines that have runs, their runs with every step's state,
cache hit and duration, and the registered pipelines with their schedules and triggers.

The queries are :mod:`loopml.pipelines.history`'s and :mod:`loopml.pipelines.schedules`'
(the ones ``loopml pipeline list|runs|show|explain-cache|schedules`` call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.server.api import PAGING, Api, Call, Param
from loopml.server.routes._common import listing

if TYPE_CHECKING:
    from loopml.pipelines import Registration
    from loopml.pipelines.models import PipelineRunInfo

__all__ = ["api"]

api = Api("/api/v1", tag="pipelines")

MAX_FIRES = 100


@api.get("/pipelines", summary="Pipelines that have runs, by name, each with its latest run",
         params=PAGING)  # fmt: skip
def list_pipelines(call: Call) -> dict[str, Any]:
    from loopml.pipelines.history import list_pipelines as page

    found = page(call.ctx.store, limit=call.limit(), page_token=call.text("page_token"))
    return listing("pipelines", found)  # each through its to_dict


@api.get(
    "/pipeline-runs",
    summary="Pipeline runs, newest first, with step counts (filter by pipeline and status)",
    params=(
        Param("pipeline", description="only this pipeline's runs"),
        Param("status", description="running, finished, failed or killed"),
        *PAGING,
    ),
)
def list_runs(call: Call) -> dict[str, Any]:
    from loopml.pipelines.history import list_runs as page

    found = page(
        call.ctx.store,
        call.text("pipeline"),
        status=call.text("status"),
        limit=call.limit(50),
        page_token=call.text("page_token"),
    )
    return listing("runs", found, lambda info: _run_json(info, steps=False))


@api.get(
    "/pipeline-runs/{run}",
    summary="A pipeline run (by id, or a pipeline's name for its latest) with its DAG and "
    "every step's state, cache hit and duration",
)
def get_run(call: Call) -> dict[str, Any]:
    from loopml.pipelines.history import find_run

    info = find_run(call.ctx.store, call.path["run"])
    return {**_run_json(info, steps=True), "nodes": info.spec.get("nodes", [])}


@api.get(
    "/pipeline-runs/{run}/cache",
    summary="For each step of a run: a cache hit (from where) or a miss with every reason",
)
def explain_cache(call: Call) -> dict[str, Any]:
    from loopml.pipelines.history import explain_cache as explain
    from loopml.pipelines.history import find_run

    info = find_run(call.ctx.store, call.path["run"])
    verdicts = explain(call.ctx.store, info)
    return {"run": info.id, "pipeline": info.pipeline, "steps": [v.to_dict() for v in verdicts]}


@api.get(
    "/registered-pipelines",
    summary="Pipelines registered for schedules and triggers, with when each fires next",
)
def list_registrations(call: Call) -> dict[str, Any]:
    from loopml.pipelines.schedules import list_registrations as every

    found = every(settings=call.ctx.settings)
    return {"registered": [_registration_json(r, 1) for r in found]}


@api.get(
    "/registered-pipelines/{name}",
    summary="One registration: entrypoint, params, schedule, triggers and its next fire times",
    params=(Param("fires", "integer", f"how many next fire times, 0 to {MAX_FIRES} (default 5)"),),
)
def get_registration(call: Call) -> dict[str, Any]:
    from loopml.pipelines.schedules import get_registration as one

    found = one(call.path["name"], settings=call.ctx.settings)
    return _registration_json(found, call.integer("fires", 5, low=0, high=MAX_FIRES) or 0)


@api.get(
    "/registered-pipelines/{name}/runs",
    summary="The runs of a registered pipeline, newest first",
    params=(Param("status", description="running, finished, failed or killed"), *PAGING),
)
def registration_runs(call: Call) -> dict[str, Any]:
    from loopml.pipelines.history import list_runs as page
    from loopml.pipelines.schedules import get_registration as one

    found = one(call.path["name"], settings=call.ctx.settings)
    runs = page(
        call.ctx.store,
        found.name,
        status=call.text("status"),
        limit=call.limit(50),
        page_token=call.text("page_token"),
    )
    return listing("runs", runs, lambda info: _run_json(info, steps=False))


# -- shapes ------------------------------------------------------------------------------


def _run_json(info: PipelineRunInfo, *, steps: bool) -> dict[str, Any]:
    """A pipeline run as ``loopml pipeline runs|show --json`` prints it; each step also says
    whether it was a cache hit."""
    data = info.to_dict(steps=steps)
    if steps:
        data["steps"] = [
            {**step, "cache_hit": step["status"] == "cached"} for step in data["steps"]
        ]
    return data


def _registration_json(found: Registration, fires: int) -> dict[str, Any]:
    """A registration without its webhook token's hash, with its next ``fires`` times."""
    data = found.to_dict()
    data["triggers"] = [
        {"kind": "webhook", "token_set": t.get("token_sha256") is not None}
        if t.get("kind") == "webhook"
        else t
        for t in data["triggers"]
    ]
    times = found.next_fire_times(fires) if found.enabled and fires else []
    data["next_fire_times"] = [int(t.timestamp() * 1000) for t in times]
    data["next_fire_at"] = data["next_fire_times"][0] if data["next_fire_times"] else None
    return data
