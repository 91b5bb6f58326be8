"""Experiment tracking over REST: experiments, runs, params, tags and metrics.

Every listing pages with ``limit`` and ``page_token`` and filters with the run-search
grammar of :mod:`loopml.tracking.search`. Metric values may be NaN or ±infinity: they are
read as JSON literals (``NaN``) or strings (``"NaN"``, ``"-Infinity"``) and written back as
those strings. Artifacts are in :mod:`loopml.server.routes.run_artifacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.clock import now_ms
from loopml.errors import InvalidInputError, quote
from loopml.server.api import PAGING, Api, Call, Param
from loopml.server.routes._common import (
    ORDER,
    body_value,
    listing,
    number_in,
    number_out,
    raw_values,
)
from loopml.server.scopes import of_experiment, path_run, run_scope
from loopml.tracking import ExperimentSummary, Metric, Run, RunStatus

__all__ = ["api", "run_json"]

api = Api("/api/v1", tag="tracking")

FILTER = Param("filter", description="e.g. \"metrics.auc > 0.9 and params.model = 'rf'\"")
MAX_BATCH = 100_000
# Writes to a run are checked on its experiment (a grant on experiment:NAME counts).
ON_RUN = run_scope(path_run)


# -- experiments -------------------------------------------------------------------------


@api.get(
    "/experiments",
    summary="Experiments with their run counts, newest first (filter on name and tags)",
    params=(
        Param("filter", description="e.g. \"name LIKE 'churn%' AND tags.team = 'risk'\""),
        ORDER,
        *PAGING,
    ),
)
def list_experiments(call: Call) -> dict[str, Any]:
    page = call.ctx.tracking.list_experiment_summaries(
        call.text("filter"),
        raw_values(call, "order_by") or None,
        limit=call.limit(),
        page_token=call.text("page_token"),
    )
    return listing("experiments", page, _summary_json)


@api.post(
    "/experiments/search",
    summary="Find experiments (body: filter, order_by, max_results, include_deleted)",
    role="viewer",
)
def search_experiments(call: Call) -> dict[str, Any]:
    found = call.ctx.tracking.search_experiments(
        call.field("filter", default=None),
        _order_field(call),
        call.field("max_results", int, default=1000),
        include_deleted=call.field("include_deleted", bool, default=False),
    )
    return {"experiments": found}


@api.post(
    "/experiments",
    summary="Create an experiment (body: name, description, tags)",
    status=201,
    scope=lambda call: of_experiment(call, call.json().get("name")),
)
def create_experiment(call: Call) -> Any:
    tracking = call.ctx.tracking
    tags = call.field("tags", dict, default=None)
    made = tracking.create_experiment(call.field("name"), call.field("description", default=None))
    return tracking.set_experiment_tags(made.id, tags) if tags else made


@api.get("/experiments/{experiment}", summary="One experiment, by name or id")
def get_experiment(call: Call) -> Any:
    return call.ctx.tracking.get_experiment(call.path["experiment"])


@api.put(
    "/experiments/{experiment}/tags",
    summary="Set an experiment's tags (body: tags, an object of key to value)",
    scope=lambda call: of_experiment(call, call.path["experiment"]),
)
def set_experiment_tags(call: Call) -> Any:
    return call.ctx.tracking.set_experiment_tags(call.path["experiment"], call.field("tags", dict))


# -- runs --------------------------------------------------------------------------------


@api.get(
    "/runs",
    summary="Runs, newest first or in order_by, filtered with the run-search grammar",
    params=(
        Param("experiment", "array", "an experiment name or id (repeatable)"),
        FILTER,
        ORDER,
        Param("include_deleted", "boolean", "also list deleted runs"),
        *PAGING,
    ),
)
def list_runs(call: Call) -> dict[str, Any]:
    page = call.ctx.tracking.list_runs(
        raw_values(call, "experiment") or None,
        call.text("filter"),
        raw_values(call, "order_by") or None,
        limit=call.limit(),
        page_token=call.text("page_token"),
        include_deleted=call.flag("include_deleted"),
    )
    return listing("runs", page, run_json)


@api.post(
    "/runs/search",
    summary="Runs as GET /runs lists them, asked in a body "
    "(experiments, filter, order_by, limit, page_token, include_deleted)",
    role="viewer",
)
def search_runs(call: Call) -> dict[str, Any]:
    experiments = call.field("experiments", (list, str), default=None)
    if isinstance(experiments, list) and not all(isinstance(e, str) for e in experiments):
        raise InvalidInputError("field 'experiments' must be a list of experiment names or ids")
    page = call.ctx.tracking.list_runs(
        experiments,
        call.field("filter", default=None),
        _order_field(call),
        limit=call.field("limit", int, default=100),
        page_token=call.field("page_token", default=None),
        include_deleted=call.field("include_deleted", bool, default=False),
    )
    return listing("runs", page, run_json)


@api.post(
    "/runs",
    summary="Start a run (body: experiment, name, tags, params, parent_run_id)",
    status=201,
    scope=lambda call: of_experiment(call, call.json().get("experiment") or "Default"),
)
def create_run(call: Call) -> dict[str, Any]:
    tracking = call.ctx.tracking
    run = tracking.create_run(
        call.field("experiment", default="Default"),
        call.field("name", default=None),
        call.field("tags", dict, default=None),
        call.field("parent_run_id", default=None),
        params=call.field("params", dict, default=None),
    )
    return run_json(run)


@api.get("/runs/{run_id}", summary="One run with its params, latest metrics and tags")
def get_run(call: Call) -> dict[str, Any]:
    return run_json(call.ctx.tracking.get_run(call.path["run_id"]))


@api.patch(
    "/runs/{run_id}",
    summary="End a run: set its status to finished, failed or killed (body: status)",
    scope=ON_RUN,
)
def update_run(call: Call) -> dict[str, Any]:
    run_id = call.path["run_id"]
    status = call.field("status")
    if status.lower() == RunStatus.RUNNING:
        raise InvalidInputError(
            f"run {run_id} cannot be set running again; a run ends once, as finished, "
            "failed or killed"
        )
    tracking = call.ctx.tracking
    tracking.end_run(run_id, status)
    return run_json(tracking.get_run(run_id))


@api.delete(
    "/runs/{run_id}",
    summary="Delete a run (softly; `loopml gc` frees its files)",
    params=(Param("reason", description="kept in the audit log"),),
    scope=ON_RUN,
)
def delete_run(call: Call) -> dict[str, Any]:
    run_id = call.path["run_id"]
    call.ctx.tracking.delete_run(run_id, reason=call.text("reason"))
    return {"id": run_id, "deleted": True}


# -- params and tags ---------------------------------------------------------------------


@api.get("/runs/{run_id}/params", summary="A run's params")
def get_params(call: Call) -> dict[str, Any]:
    return {"params": call.ctx.tracking.get_run(call.path["run_id"]).params}


@api.post(
    "/runs/{run_id}/params",
    summary="Log params (body: params, an object); a param never changes once logged",
    scope=ON_RUN,
)
def log_params(call: Call) -> dict[str, Any]:
    tracking, run_id = call.ctx.tracking, call.path["run_id"]
    tracking.log_params(run_id, call.field("params", dict))
    return {"params": tracking.get_run(run_id).params}


@api.get("/runs/{run_id}/tags", summary="A run's tags")
def get_tags(call: Call) -> dict[str, Any]:
    return {"tags": call.ctx.tracking.get_run(call.path["run_id"]).tags}


@api.put("/runs/{run_id}/tags", summary="Set tags of a run (body: tags, an object)", scope=ON_RUN)
def set_tags(call: Call) -> dict[str, Any]:
    tracking, run_id = call.ctx.tracking, call.path["run_id"]
    tracking.set_tags(run_id, call.field("tags", dict))
    return {"tags": tracking.get_run(run_id).tags}


@api.delete("/runs/{run_id}/tags/{key:path}", summary="Remove one tag of a run", scope=ON_RUN)
def delete_tag(call: Call) -> dict[str, Any]:
    tracking, run_id = call.ctx.tracking, call.path["run_id"]
    tracking.delete_tag(run_id, call.path["key"])
    return {"tags": tracking.get_run(run_id).tags}


# -- metrics -----------------------------------------------------------------------------


@api.get("/runs/{run_id}/metrics", summary="The latest value of each metric of a run")
def latest_metrics(call: Call) -> dict[str, Any]:
    run = call.ctx.tracking.get_run(call.path["run_id"])
    return {"metrics": {k: number_out(v) for k, v in run.metrics.items()}}


@api.post(
    "/runs/{run_id}/metrics",
    summary="Log one metric point (body: key, value, step, timestamp); NaN and ±inf allowed",
    inline=True,
    scope=ON_RUN,
)
def log_metric(call: Call) -> dict[str, Any]:
    key, value, step, timestamp = _point(body_value(call), "the request body")
    tracking = call.ctx.tracking
    tracking.log_metric(call.path["run_id"], key, value, step, timestamp)
    if call.ctx.config.shared_store:
        tracking.flush()  # in the store when answered, whichever worker reads it next
    return {"logged": 1}


@api.post(
    "/runs/{run_id}/metrics/batch",
    summary="Log many metric points: a JSON list of {key, value, step, timestamp} "
    '(or {"metrics": [...]})',
    scope=ON_RUN,
)
def log_metric_batch(call: Call) -> dict[str, Any]:
    body = body_value(call)
    if isinstance(body, dict) and set(body) == {"metrics"}:
        body = body["metrics"]
    if not isinstance(body, list):
        raise InvalidInputError(
            "the body must be a JSON list of {key, value, step, timestamp} points, or "
            f'{{"metrics": [...]}}; got {type(body).__name__}'
        )
    if len(body) > MAX_BATCH:
        raise InvalidInputError(
            f"a batch holds at most {MAX_BATCH:,} points, got {len(body):,}; send several"
        )
    now = now_ms()
    points = [_point(item, f"point {i}", now) for i, item in enumerate(body)]
    tracking = call.ctx.tracking
    logged = tracking.log_batch(call.path["run_id"], points)
    if call.ctx.config.shared_store:
        tracking.flush()
    return {"logged": logged}


@api.get(
    "/runs/{run_id}/metrics/history",
    summary="Every point of one metric, by step; with max_points at most that many "
    "(each step range's lowest and highest point, so spikes stay visible; long histories "
    "are charted from rollups kept at ingestion)",
    params=(
        Param("key", description="the metric's name", required=True),
        Param("max_points", "integer", "at most this many points (downsampled server-side)"),
    ),
)
def metric_history(call: Call) -> dict[str, Any]:
    key = call.text("key")
    if not key:
        raise InvalidInputError(
            "query parameter 'key' is required: the metric's name, e.g. ?key=loss",
            details={"parameter": "key"},
        )
    max_points = call.integer("max_points", low=1)
    points = call.ctx.tracking.get_metric_history(call.path["run_id"], key, max_points=max_points)
    return {"key": key, "metrics": [_metric_json(p) for p in points]}


# -- shapes ------------------------------------------------------------------------------


def run_json(run: Run) -> dict[str, Any]:
    """A run as JSON: :meth:`Run.to_dict` with special metric values spelt as strings."""
    data = run.to_dict()
    data["metrics"] = {k: number_out(v) for k, v in run.metrics.items()}
    return data


def _summary_json(summary: ExperimentSummary) -> dict[str, Any]:
    exp = summary.experiment
    return {
        "id": exp.id,
        "name": exp.name,
        "created_at": exp.created_at,
        "description": exp.description,
        "tags": exp.tags,
        "runs": summary.runs,
        "last_run_start": summary.last_run_start,
    }


def _metric_json(point: Metric) -> dict[str, Any]:
    return {
        "key": point.key,
        "value": number_out(point.value),
        "step": point.step,
        "timestamp": point.timestamp,
    }


def _order_field(call: Call) -> list[str] | None:
    order = call.field("order_by", (list, str), default=None)
    if isinstance(order, str):
        return [order]
    if order is not None and not all(isinstance(item, str) for item in order):
        raise InvalidInputError(
            f"field 'order_by' must be a list of strings such as 'metrics.auc desc', "
            f"got {quote(order, 60)}",
            details={"field": "order_by"},
        )
    return order or None


def _point(item: object, where: str, now: int | None = None) -> tuple[str, float, int, int]:
    """``(key, value, step, timestamp)`` of one JSON point; step 0 and now by default."""
    if not isinstance(item, Mapping):
        raise InvalidInputError(
            f"{where} must be an object {{key, value, step, timestamp}}, got "
            f"{type(item).__name__} {quote(item, 60)}"
        )
    key = item.get("key")
    if not isinstance(key, str):
        raise InvalidInputError(f"{where} needs 'key', the metric's name, as a string")
    if "value" not in item:
        raise InvalidInputError(f"{where} needs 'value', a number")
    value = number_in(f"{where}: value", item["value"])
    step = _integer(item.get("step", 0), f"{where}: step")
    stamp = item.get("timestamp")
    timestamp = now_ms() if stamp is None and now is None else now if stamp is None else stamp
    return key, value, step, _integer(timestamp, f"{where}: timestamp")


def _integer(value: object, what: str) -> Any:
    """Booleans and text are refused here; ranges are the tracking client's to check."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(
            f"{what} must be an integer, got {type(value).__name__} {quote(value, 40)}"
        )
    return value
