"""MLflow's tracking API: experiments, runs, params, metrics, tags and run search.

What MLflow writes becomes ordinary loopml runs: a run's ``mlflow.runName`` is its loopml
name, ``mlflow.parentRunId`` its ``parent_run_id``, statuses are loopml's in MLflow's
capitals, and MLflow's experiment ``"0"`` is loopml's ``Default`` experiment. Run artifacts
live at ``mlflow-artifacts:/<experiment id>/<run id>/artifacts``, so MLflow clients proxy
them through this server (:mod:`loopml.server.mlflow.artifacts`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError, LoopmlError, NotFoundError
from loopml.paging import MAX_PAGE_SIZE
from loopml.server.api import Call
from loopml.server.mlflow._api import mlflow_api
from loopml.server.models import WORKSPACE
from loopml.server.scopes import experiment_scope, of_run
from loopml.tracking import TrackingClient
from loopml.tracking.client import DEFAULT_EXPERIMENT
from loopml.tracking.models import Experiment, Metric, Run, RunStatus
from loopml.tracking.search import And, FilterNode, Or, parse_filter, parse_order_item

__all__ = ["DEFAULT_EXPERIMENT_ID", "artifact_root", "experiment_of", "translate_filter"]

DEFAULT_EXPERIMENT_ID: Final = "0"  # MLflow's id of the Default experiment
RUN_NAME_TAG: Final = "mlflow.runName"
PARENT_TAG: Final = "mlflow.parentRunId"
NOTE_TAG: Final = "mlflow.note.content"
LOG_MODEL_TAG: Final = "mlflow.log-model.history"
_TERMINAL: Final = {"FINISHED", "FAILED", "KILLED"}
_VIEW_TYPES: Final = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
# MLflow attribute names loopml spells otherwise (filters and order_by).
_ATTRIBUTE_RENAMES: Final = {"created": "start_time", "user_id": "user", "run_uuid": "run_id"}
_ATTRIBUTE_RE: Final = re.compile(
    r"\b(attributes?|attr|run)\.(created|user_id|run_uuid)\b", re.IGNORECASE
)
# Tags loopml keeps as run fields.
_TAG_ATTRIBUTES: Final = {RUN_NAME_TAG: "run_name", PARENT_TAG: "parent_run_id"}
_EXPERIMENT_ORDER: Final = {
    "experiment_id": "id",
    "creation_time": "created_at",
    "last_update_time": "created_at",
}


# -- reading MLflow's requests -------------------------------------------------------------


def _value(call: Call, name: str) -> Any:
    """``name`` from the query string (GET) or the JSON body (POST)."""
    if name in call.query:
        values = call.query[name]
        return values if len(values) > 1 else values[-1]
    return call.json().get(name) if call.body else None


def _text(call: Call, *names: str, default: str | None = None) -> str:
    """The first of ``names`` the request carries, as text; INVALID_PARAMETER_VALUE if none."""
    for name in names:
        value = _value(call, name)
        if value is not None and value != "":
            if isinstance(value, list | dict | bool):
                raise InvalidInputError(f"parameter '{name}' must be a string, got {value!r}")
            return str(value)
    if default is not None:
        return default
    raise InvalidInputError(
        f"Missing value for required parameter '{names[0]}'; send it in the request",
        details={"parameter": names[0]},
    )


def _integer(value: Any, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidInputError(f"parameter '{name}' must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"parameter '{name}' must be an integer, got {value!r}", details={"parameter": name}
        ) from None


def _number(value: Any, name: str) -> float:
    """A metric value: a JSON number or proto JSON's ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"metric '{name}' needs a numeric value, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"metric '{name}' needs a numeric value, got {value!r}") from None


def _pairs(value: Any, what: str) -> dict[str, str]:
    """``[{"key": k, "value": v}, …]`` as a dict."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidInputError(f"'{what}' must be a list of {{key, value}} objects")
    found: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidInputError(f"each of '{what}' needs a string 'key', got {item!r}")
        found[item["key"]] = "" if item.get("value") is None else str(item["value"])
    return found


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- experiments ---------------------------------------------------------------------------


def experiment_of(tracking: TrackingClient, experiment_id: str) -> Experiment:
    """The experiment with MLflow id ``experiment_id`` (``"0"``: the Default experiment)."""
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return tracking.get_or_create_experiment(DEFAULT_EXPERIMENT)
    found = tracking.get_experiment(experiment_id)
    if found.id != experiment_id:  # get_experiment also matches names
        raise NotFoundError("experiment", experiment_id)
    return found


def _experiment_json(exp: Experiment) -> dict[str, Any]:
    tags = dict(exp.tags)
    if exp.description and NOTE_TAG not in tags:
        tags[NOTE_TAG] = exp.description
    return {
        "experiment_id": exp.id,
        "name": exp.name,
        "artifact_location": f"mlflow-artifacts:/{exp.id}",
        "lifecycle_stage": "deleted" if exp.deleted_at is not None else "active",
        "creation_time": exp.created_at,
        "last_update_time": exp.deleted_at or exp.created_at,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }


@mlflow_api.post(
    "/experiments/create",
    summary="Create an experiment (MLflow)",
    scope=lambda call: _new_scope(call),
)
def create_experiment(call: Call) -> object:
    name = _text(call, "name")
    tags = _pairs(call.json().get("tags"), "tags")
    tracking = call.ctx.tracking
    exp = tracking.create_experiment(name, description=tags.pop(NOTE_TAG, None))
    if tags:
        tracking.set_experiment_tags(exp.id, tags)
    return {"experiment_id": exp.id}


@mlflow_api.get("/experiments/get", summary="One experiment by id (MLflow)")
def get_experiment(call: Call) -> object:
    exp = experiment_of(call.ctx.tracking, _text(call, "experiment_id"))
    return {"experiment": _experiment_json(exp)}


@mlflow_api.get("/experiments/get-by-name", summary="One experiment by name (MLflow)")
def get_experiment_by_name(call: Call) -> object:
    name = _text(call, "experiment_name")
    found = call.ctx.tracking.get_experiment(name)
    if found.name != name:
        raise NotFoundError("experiment", name)
    return {"experiment": _experiment_json(found)}


def _search_experiments(call: Call) -> object:
    body = call.json() if call.body else {}
    max_results = _integer(_value(call, "max_results"), "max_results", 1000) or 1000
    if not 1 <= max_results <= 50_000:
        raise InvalidInputError(f"max_results must be 1 to 50000, got {max_results}")
    offset = _integer(_value(call, "page_token"), "page_token", 0) or 0
    view = _view_type(_value(call, "view_type"))
    order_by = [_experiment_order(item) for item in _list(body.get("order_by"))] + [
        _experiment_order(item) for item in _list(call.query.get("order_by"))
    ]
    found = call.ctx.tracking.search_experiments(
        _text(call, "filter", default="") or None,
        order_by or None,
        max_results=offset + max_results + 1,
        include_deleted=view != "ACTIVE_ONLY",
    )
    if view == "DELETED_ONLY":
        found = [e for e in found if e.deleted_at is not None]
    page = found[offset : offset + max_results]
    more = len(found) > offset + max_results
    return {
        "experiments": [_experiment_json(e) for e in page],
        "next_page_token": str(offset + max_results) if more else None,
    }


mlflow_api.post("/experiments/search", summary="Search experiments (MLflow)")(_search_experiments)
mlflow_api.get("/experiments/search", summary="Search experiments (MLflow)")(_search_experiments)


def _experiment_order(item: Any) -> str:
    if not isinstance(item, str):
        raise InvalidInputError(f"order_by items must be strings, got {item!r}")
    field, _, direction = item.strip().partition(" ")
    bare = field.lower().removeprefix("attributes.").removeprefix("attribute.")
    return f"{_EXPERIMENT_ORDER.get(bare, field)} {direction}".strip()


def _view_type(value: Any) -> str:
    view = str(value or "ACTIVE_ONLY").upper()
    if view not in _VIEW_TYPES:
        raise InvalidInputError(f"unknown view type {value!r}; use one of {list(_VIEW_TYPES)}")
    return view


@mlflow_api.post(
    "/experiments/update",
    summary="Rename an experiment (MLflow)",
    scope=lambda call: _experiment_scope(call),
)
def update_experiment(call: Call) -> object:
    exp = experiment_of(call.ctx.tracking, _text(call, "experiment_id"))
    new_name = _value(call, "new_name")
    if new_name:
        call.ctx.tracking.rename_experiment(exp.id, str(new_name))
    return {}


@mlflow_api.post(
    "/experiments/delete",
    summary="Delete an experiment (MLflow)",
    scope=lambda call: _experiment_scope(call),
)
def delete_experiment(call: Call) -> object:
    exp = experiment_of(call.ctx.tracking, _text(call, "experiment_id"))
    call.ctx.tracking.delete_experiment(exp.id)
    return {}


@mlflow_api.post(
    "/experiments/restore",
    summary="Restore a deleted experiment (MLflow)",
    scope=lambda call: _experiment_scope(call),
)
def restore_experiment(call: Call) -> object:
    exp = experiment_of(call.ctx.tracking, _text(call, "experiment_id"))
    call.ctx.tracking.restore_experiment(exp.id)
    return {}


@mlflow_api.post(
    "/experiments/set-experiment-tag",
    summary="Tag an experiment (MLflow)",
    scope=lambda call: _experiment_scope(call),
)
def set_experiment_tag(call: Call) -> object:
    exp = experiment_of(call.ctx.tracking, _text(call, "experiment_id"))
    key = _text(call, "key")
    call.ctx.tracking.set_experiment_tags(exp.id, {key: _value(call, "value") or ""})
    return {}


def _new_scope(call: Call) -> str:
    """A new experiment's scope: its name's."""
    return experiment_scope(str(_value(call, "name") or "")) if _value(call, "name") else WORKSPACE


def _experiment_scope(call: Call) -> str:
    """The scope of the experiment a request names (runs/create: the default one if none)."""
    try:
        ref = _text(call, "experiment_id", default=DEFAULT_EXPERIMENT_ID)
        return experiment_scope(experiment_of(call.ctx.tracking, ref).name)
    except LoopmlError:  # no such experiment: the handler says so to whoever may know
        return WORKSPACE


def _run_scope(call: Call) -> str:
    """The scope of the run a request names (as :func:`_run_id` reads it)."""
    try:
        return of_run(call, _run_id(call))
    except LoopmlError:
        return WORKSPACE


# -- runs ----------------------------------------------------------------------------------


def artifact_root(run: Run) -> str:
    """Where MLflow clients find a run's artifacts (proxied through this server)."""
    return f"mlflow-artifacts:/{run.experiment_id}/{run.id}/artifacts"


def _number_json(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _run_info(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.user or "",
        "status": run.status.value.upper(),
        "start_time": run.start_time,
        "artifact_uri": artifact_root(run),
        "lifecycle_stage": "deleted" if run.deleted_at is not None else "active",
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run_json(run: Run) -> dict[str, Any]:
    """A loopml run in MLflow's ``Run`` shape (latest metric values at step 0)."""
    tags = {**run.tags, RUN_NAME_TAG: run.name}
    if run.parent_run_id is not None:
        tags[PARENT_TAG] = run.parent_run_id
    return {
        "info": _run_info(run),
        "data": {
            "metrics": [
                {"key": k, "value": _number_json(v), "timestamp": 0, "step": 0}
                for k, v in run.metrics.items()
            ],
            "params": [{"key": k, "value": v} for k, v in run.params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        "inputs": {"dataset_inputs": []},
    }


def _run_id(call: Call) -> str:
    return _text(call, "run_id", "run_uuid")


@mlflow_api.post(
    "/runs/create", summary="Start a run (MLflow)", scope=lambda call: _experiment_scope(call)
)
def create_run(call: Call) -> object:
    tracking = call.ctx.tracking
    exp = experiment_of(tracking, _text(call, "experiment_id", default=DEFAULT_EXPERIMENT_ID))
    tags = _pairs(call.json().get("tags"), "tags")
    tag_name = tags.pop(RUN_NAME_TAG, None)
    name = call.field("run_name", str, default=None) or tag_name
    parent = tags.get(PARENT_TAG) or None
    run = tracking.create_run(exp.name, name=name, tags=tags, parent_run_id=parent)
    return {"run": run_json(tracking.get_run(run.id))}


@mlflow_api.get("/runs/get", summary="One run with its data (MLflow)")
def get_run(call: Call) -> object:
    return {"run": run_json(call.ctx.tracking.get_run(_run_id(call)))}


@mlflow_api.post(
    "/runs/update", summary="End or rename a run (MLflow)", scope=lambda call: _run_scope(call)
)
def update_run(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id = _run_id(call)
    name = _value(call, "run_name")
    if name:
        tracking.rename_run(run_id, str(name))
    status = str(_value(call, "status") or "").upper()
    if status in _TERMINAL:
        tracking.end_run(run_id, RunStatus(status.lower()))
    elif status not in ("", "RUNNING", "SCHEDULED"):
        raise InvalidInputError(f"unknown run status {status!r}; use RUNNING, {sorted(_TERMINAL)}")
    return {"run_info": _run_info(tracking.get_run(run_id))}


@mlflow_api.post(
    "/runs/delete", summary="Delete a run (MLflow)", scope=lambda call: _run_scope(call)
)
def delete_run(call: Call) -> object:
    call.ctx.tracking.delete_run(_run_id(call))
    return {}


@mlflow_api.post(
    "/runs/restore", summary="Restore a deleted run (MLflow)", scope=lambda call: _run_scope(call)
)
def restore_run(call: Call) -> object:
    call.ctx.tracking.restore_run(_run_id(call))
    return {}


# -- params, metrics and tags --------------------------------------------------------------


def _log_params(tracking: TrackingClient, run_id: str, values: Mapping[str, Any]) -> None:
    try:
        tracking.log_params(run_id, values)
    except ConflictError as err:  # MLflow calls changing a param an invalid value
        raise InvalidInputError(err.message, details=err.details) from err


def _set_tags(tracking: TrackingClient, run_id: str, values: Mapping[str, str]) -> None:
    values = dict(values)
    name = values.pop(RUN_NAME_TAG, None)
    if name:
        tracking.rename_run(run_id, name)
    if values:
        tracking.set_tags(run_id, values)


def _log_points(
    tracking: TrackingClient, run_id: str, items: Iterable[Any], *, shared: bool
) -> None:
    points = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidInputError(f"a metric needs a string 'key', got {item!r}")
        key = item["key"]
        points.append(
            (
                key,
                _number(item.get("value"), key),
                _integer(item.get("step"), "step", 0),
                _integer(item.get("timestamp"), "timestamp"),
            )
        )
    if points:
        tracking.log_batch(
            run_id, [(k, v, s or 0, now_ms() if t is None else t) for k, v, s, t in points]
        )
        if shared:
            tracking.flush()  # visible to the next request, whichever worker answers it


@mlflow_api.post(
    "/runs/log-metric",
    summary="Log one metric point (MLflow)",
    inline=True,
    scope=lambda call: _run_scope(call),
)
def log_metric(call: Call) -> object:
    body = call.json()
    _log_points(call.ctx.tracking, _run_id(call), [body], shared=call.ctx.config.shared_store)
    return {}


@mlflow_api.post(
    "/runs/log-parameter", summary="Log one param (MLflow)", scope=lambda call: _run_scope(call)
)
def log_param(call: Call) -> object:
    key = _text(call, "key")
    _log_params(call.ctx.tracking, _run_id(call), {key: _value(call, "value") or ""})
    return {}


@mlflow_api.post(
    "/runs/set-tag", summary="Set a run tag (MLflow)", scope=lambda call: _run_scope(call)
)
def set_tag(call: Call) -> object:
    key = _text(call, "key")
    _set_tags(call.ctx.tracking, _run_id(call), {key: str(_value(call, "value") or "")})
    return {}


@mlflow_api.post(
    "/runs/delete-tag", summary="Delete a run tag (MLflow)", scope=lambda call: _run_scope(call)
)
def delete_tag(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id = _run_id(call)
    key = _text(call, "key")
    if key not in tracking.get_run(run_id).tags:
        raise NotFoundError("tag", key, hint=f"run {run_id} has no such tag")
    tracking.delete_tag(run_id, key)
    return {}


@mlflow_api.post(
    "/runs/log-batch",
    summary="Log metrics, params and tags at once (MLflow)",
    scope=lambda call: _run_scope(call),
)
def log_batch(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id = _run_id(call)
    body = call.json()
    params = _pairs(body.get("params"), "params")
    tags = _pairs(body.get("tags"), "tags")
    metrics = _list(body.get("metrics"))
    if len(metrics) > 1000 or len(params) > 100 or len(tags) > 100:
        raise InvalidInputError(
            "a batch holds at most 1000 metrics, 100 params and 100 tags; split it"
        )
    if params:
        _log_params(tracking, run_id, params)
    if tags:
        _set_tags(tracking, run_id, tags)
    _log_points(tracking, run_id, metrics, shared=call.ctx.config.shared_store)
    return {}


@mlflow_api.post(
    "/runs/log-model",
    summary="Record a logged model on its run (MLflow 2.x)",
    scope=lambda call: _run_scope(call),
)
def log_model(call: Call) -> object:
    tracking = call.ctx.tracking
    run_id = _run_id(call)
    try:
        model = json.loads(_text(call, "model_json"))
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"model_json is not valid JSON ({err})") from err
    history = json.loads(tracking.get_run(run_id).tags.get(LOG_MODEL_TAG, "[]"))
    history.append(model)
    tracking.set_tag(run_id, LOG_MODEL_TAG, json.dumps(history))
    return {}


@mlflow_api.post(
    "/runs/log-inputs",
    summary="Accept a run's dataset inputs (MLflow; ignored)",
    scope=lambda call: _run_scope(call),
)
def log_inputs(call: Call) -> object:
    call.ctx.tracking.get_run(_run_id(call))  # unknown runs still fail
    return {}


def _metric_json(m: Metric, run_id: str | None = None) -> dict[str, Any]:
    found = {"key": m.key, "value": _number_json(m.value), "timestamp": m.timestamp, "step": m.step}
    if run_id is not None:
        found["run_id"] = run_id
    return found


@mlflow_api.get("/metrics/get-history", summary="Every point of one metric (MLflow)")
def get_metric_history(call: Call) -> object:
    run_id = _run_id(call)
    key = _text(call, "metric_key")
    max_results = _integer(_value(call, "max_results"), "max_results", None)
    offset = _integer(_value(call, "page_token"), "page_token", 0) or 0
    history = call.ctx.tracking.get_metric_history(run_id, key)
    if max_results is None:
        return {"metrics": [_metric_json(m) for m in history[offset:]], "next_page_token": None}
    end = offset + max(1, max_results)
    return {
        "metrics": [_metric_json(m) for m in history[offset:end]],
        "next_page_token": str(end) if end < len(history) else None,
    }


@mlflow_api.get(
    "/metrics/get-history-bulk-interval",
    summary="Sampled points of one metric over several runs (MLflow)",
)
def get_metric_history_bulk_interval(call: Call) -> object:
    run_ids = [str(v) for v in _list(_value(call, "run_ids"))]
    if not run_ids or len(run_ids) > 100:
        raise InvalidInputError("run_ids needs 1 to 100 run ids")
    key = _text(call, "metric_key")
    start = _integer(_value(call, "start_step"), "start_step", None)
    end = _integer(_value(call, "end_step"), "end_step", None)
    max_results = _integer(_value(call, "max_results"), "max_results", 100) or 100
    found: list[dict[str, Any]] = []
    for run_id in run_ids:
        points = [
            m
            for m in call.ctx.tracking.get_metric_history(run_id, key)
            if (start is None or m.step >= start) and (end is None or m.step <= end)
        ]
        found.extend(_metric_json(m, run_id) for m in _sample(points, max_results))
    return {"metrics": found}


def _sample(points: list[Metric], limit: int) -> list[Metric]:
    """At most ``limit`` points spread evenly, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    if limit == 1:
        return points[-1:]
    picks = {round(i * (len(points) - 1) / (limit - 1)) for i in range(limit)}
    return [points[i] for i in sorted(picks)]


# -- search --------------------------------------------------------------------------------


def translate_filter(text: str | None) -> str | None:
    """An MLflow run filter in loopml's grammar (which is MLflow-like).

    ``attributes.created`` and ``user_id`` become ``start_time`` and ``user``;
    ``tags.mlflow.runName`` and ``tags.mlflow.parentRunId`` become the run's name and
    parent attributes (loopml keeps them as fields, not tags).
    """
    if not text or not text.strip():
        return None
    text = _ATTRIBUTE_RE.sub(lambda m: f"attributes.{_ATTRIBUTE_RENAMES[m[2].lower()]}", text)
    tree = parse_filter(text)
    return None if tree is None else str(_rewrite(tree))


def _rewrite(node: FilterNode) -> FilterNode:
    if isinstance(node, And):
        return And(tuple(_rewrite(item) for item in node.items))
    if isinstance(node, Or):
        return Or(tuple(_rewrite(item) for item in node.items))
    attribute = _TAG_ATTRIBUTES.get(node.key) if node.entity == "tags" else None
    if attribute is None:
        return node
    return dataclasses.replace(node, entity="attributes", key=attribute)


def _order_item(item: Any) -> str:
    """One MLflow ``order_by`` item in loopml's grammar."""
    if not isinstance(item, str):
        raise InvalidInputError(f"order_by items must be strings, got {item!r}")
    item = _ATTRIBUTE_RE.sub(lambda m: f"attributes.{_ATTRIBUTE_RENAMES[m[2].lower()]}", item)
    entity, key, descending = parse_order_item(item)
    if entity == "tags" and key in _TAG_ATTRIBUTES:
        entity, key = "attributes", _TAG_ATTRIBUTES[key]
    target = (
        f"attributes.{key}" if entity == "attributes" else f"{entity}.`{key.replace('`', '``')}`"
    )
    return f"{target} {'DESC' if descending else 'ASC'}"


def _search_runs(call: Call) -> object:
    tracking = call.ctx.tracking
    body = call.json() if call.body else {}
    ids = [str(v) for v in _list(body.get("experiment_ids") or _value(call, "experiment_ids"))]
    experiments = [experiment_of(tracking, i).id for i in ids] or None
    max_results = _integer(_value(call, "max_results"), "max_results", 1000) or 1000
    if not 1 <= max_results <= 50_000:
        raise InvalidInputError(f"max_results must be 1 to 50000, got {max_results}")
    view = str(_value(call, "run_view_type") or "ACTIVE_ONLY").upper()
    if view not in _VIEW_TYPES:
        raise InvalidInputError(f"unknown run_view_type {view!r}; use one of {list(_VIEW_TYPES)}")
    order_by = [_order_item(i) for i in _list(body.get("order_by") or _value(call, "order_by"))]
    token = _value(call, "page_token") or None
    page = tracking.list_runs(
        experiments,
        translate_filter(_value(call, "filter")),
        order_by or None,
        limit=min(max_results, MAX_PAGE_SIZE),
        page_token=str(token) if token else None,
        include_deleted=view != "ACTIVE_ONLY",
    )
    found = page.items
    if view == "DELETED_ONLY":
        found = [r for r in found if r.deleted_at is not None]
    return {"runs": [run_json(r) for r in found], "next_page_token": page.next_page_token}


mlflow_api.post("/runs/search", summary="Search runs with MLflow's filter grammar")(_search_runs)
mlflow_api.get("/runs/search", summary="Search runs with MLflow's filter grammar")(_search_runs)
