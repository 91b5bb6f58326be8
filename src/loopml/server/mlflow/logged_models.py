"""MLflow 3's logged models (``/logged-models``) over loopml runs.

An MLflow 3 client logs a model as a *logged model*: it creates one, uploads the model's
folder to the logged model's ``artifact_uri`` and finalizes it; registering
``runs:/<run>/<name>`` then finds it by its source run and name and registers
``models:/<model_id>``. Here a logged model is a loopml run in the same experiment,
tagged ``loopml.mlflow.model`` (its files are that run's artifacts, so the artifact
proxy serves them as any run's); its id is ``m-<run id>``. Its status, type and source
run are kept in tags of that run, its tags and params as the run's tags and params.

Example:
    >>> model_id("01J0ABCDEF")
    'm-01J0ABCDEF'
"""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInputError, NotFoundError
from loopml.server.api import Call
from loopml.server.mlflow._api import mlflow_api as api
from loopml.server.mlflow._fields import key_value_list, key_values, not_own
from loopml.tracking.models import Run, RunStatus

__all__ = ["MARK", "model_id", "run_of"]

MARK = "loopml.mlflow.model"  # on the run that holds a logged model
_STATUS = "loopml.mlflow.model_status"
_TYPE = "loopml.mlflow.model_type"
_SOURCE = "loopml.mlflow.source_run"
_OWN = (MARK, _STATUS, _TYPE, _SOURCE)
_PREFIX = "m-"
_PENDING, _READY, _FAILED = (
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
)


def model_id(run_id: str) -> str:
    """The MLflow id of the logged model held by run ``run_id``."""
    return _PREFIX + run_id


def run_of(call: Call, model: str) -> Run:
    """The run holding logged model ``model`` (``m-<run id>``).

    Raises:
        NotFoundError: no such logged model (RESOURCE_DOES_NOT_EXIST).
    """
    if not model.startswith(_PREFIX):
        raise NotFoundError("logged model", model, hint="a logged model's id starts with m-")
    try:
        run = call.ctx.tracking.get_run(model[len(_PREFIX) :])
    except (NotFoundError, InvalidInputError):
        raise NotFoundError("logged model", model) from None
    if MARK not in run.tags:
        raise NotFoundError("logged model", model)
    return run


def _model_json(run: Run) -> dict[str, Any]:
    return {
        "info": {
            "model_id": model_id(run.id),
            "experiment_id": run.experiment_id,
            "name": run.tags.get(MARK, run.name),
            "creation_timestamp_ms": run.start_time,
            "last_updated_timestamp_ms": run.end_time or run.start_time,
            "artifact_uri": f"mlflow-artifacts:/{run.experiment_id}/{run.id}/artifacts",
            "status": run.tags.get(_STATUS, _PENDING),
            "model_type": run.tags.get(_TYPE, ""),
            "source_run_id": run.tags.get(_SOURCE, ""),
            "tags": key_value_list(run.tags, hidden=_OWN),
        },
        "data": {
            "params": key_value_list(run.params),
            "metrics": [],
        },
    }


def _pairs(call: Call, name: str) -> dict[str, str]:
    return key_values(call.field(name, list, default=[]), name)


def _tags(call: Call) -> dict[str, str]:
    return {not_own(key, _OWN): value for key, value in _pairs(call, "tags").items()}


@api.post("/logged-models", summary="Create a logged model (MLflow 3)")
def create_logged_model(call: Call) -> dict[str, Any]:
    tracking = call.ctx.tracking
    experiment = tracking.get_experiment(str(call.field("experiment_id")))
    name = call.field("name", default=None) or "model"
    source = call.field("source_run_id", default=None)
    if source:
        tracking.get_run(source)  # a missing source run says so
    tags = _tags(call)
    own = {MARK: name, _STATUS: _PENDING}
    if source:
        own[_SOURCE] = source
    if call.field("model_type", default=None):
        own[_TYPE] = call.field("model_type")
    run = tracking.create_run(
        experiment.name,
        name=name,
        tags={**tags, **own},
        params=_pairs(call, "params"),
        capture_environment=False,
    )
    return {"model": _model_json(tracking.get_run(run.id))}


@api.get("/logged-models/{model_id}", summary="One logged model (MLflow 3)")
def get_logged_model(call: Call) -> dict[str, Any]:
    return {"model": _model_json(run_of(call, call.path["model_id"]))}


@api.patch("/logged-models/{model_id}", summary="Finalize a logged model (MLflow 3)")
def finalize_logged_model(call: Call) -> dict[str, Any]:
    run = run_of(call, call.path["model_id"])
    status = call.field("status")
    if status not in (_READY, _FAILED):
        raise InvalidInputError(f"status must be {_READY} or {_FAILED}, got {status!r}")
    tracking = call.ctx.tracking
    tracking.set_tags(run.id, {_STATUS: status})
    if run.status is RunStatus.RUNNING:
        ended = RunStatus.FINISHED if status == _READY else RunStatus.FAILED
        tracking.end_run(run.id, ended)
    return {"model": _model_json(tracking.get_run(run.id))}


@api.delete("/logged-models/{model_id}", summary="Delete a logged model (MLflow 3)", body=True)
def delete_logged_model(call: Call) -> dict[str, Any]:
    run = run_of(call, call.path["model_id"])
    call.ctx.tracking.delete_run(run.id, reason="MLflow deleted the logged model")
    return {}


@api.patch("/logged-models/{model_id}/tags", summary="Set a logged model's tags (MLflow 3)")
def set_logged_model_tags(call: Call) -> dict[str, Any]:
    run = run_of(call, call.path["model_id"])
    tags = _tags(call)
    if tags:
        call.ctx.tracking.set_tags(run.id, tags)
    return {}


@api.delete(
    "/logged-models/{model_id}/tags/{key}",
    summary="Remove a logged model's tag (MLflow 3)",
    body=True,
)
def delete_logged_model_tag(call: Call) -> dict[str, Any]:
    run = run_of(call, call.path["model_id"])
    key = call.path["key"]
    if key in _OWN or key not in run.tags:
        raise NotFoundError("tag", f"{model_id(run.id)}:{key}", hint="the model has no such tag")
    call.ctx.tracking.delete_tag(run.id, key)
    return {}


@api.post("/logged-models/search", summary="Search logged models (MLflow 3)")
def search_logged_models(call: Call) -> dict[str, Any]:
    from loopml.server.mlflow import _search

    experiments = [str(e) for e in call.field("experiment_ids", list, default=[])]
    if not experiments:
        raise InvalidInputError("experiment_ids must name at least one experiment")
    matches = _search.parse_filter(call.field("filter", default=None))
    limit = int(call.field("max_results", int, default=100))
    found = []
    for run in call.ctx.tracking.search_runs(experiments, max_results=100_000):
        if MARK not in run.tags:
            continue
        body = _model_json(run)
        flat = {**body["info"], "tags": body["info"]["tags"]}
        if matches(flat):
            found.append(body)
    found.sort(key=lambda body: body["info"]["creation_timestamp_ms"], reverse=True)
    items, token = _search.page(found, limit, call.field("page_token", default=None))
    return {"models": items, "next_page_token": token}


@api.post("/runs/outputs", summary="Record the models a run logged (MLflow 3)")
def log_outputs(call: Call) -> dict[str, Any]:
    run_id = call.field("run_id")
    call.ctx.tracking.get_run(run_id)
    for output in call.field("models", list, default=[]):
        if isinstance(output, dict) and isinstance(output.get("model_id"), str):
            run_of(call, output["model_id"])  # an unknown model says so
    return {}
