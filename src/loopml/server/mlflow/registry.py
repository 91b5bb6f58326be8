"""MLflow's model-registry REST API over loopml's registry.

Registered models are loopml models, model versions loopml versions, aliases loopml
aliases (with their history, and the model's promotion policy: an alias the policy
protects, ``production`` by default, moves only through loopml's ``promote``), tags loopml
tags. A version is created from an MLflow model logged in a run (:mod:`._models` makes it
a loopml package); its status is ``READY`` at once, as registration is synchronous here.

Where loopml keeps history MLflow deletes: deleting a version archives it (its number is
never given again, as in MLflow) and MLflow no longer sees it; deleting a model archives
its versions, removes its aliases and hides it until a model of that name is created
again. Stages (``transition-stage``, MLflow's deprecated API) are not supported: every
visible version is in stage ``None``; use aliases.

Example:
    >>> [op.path for op in mlflow_api.operations][:1]  # doctest: +SKIP
    ['/registered-models/create']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loopml.errors import InvalidInputError, NotFoundError
from loopml.registry.models import ModelVersion, RegisteredModel, VersionStatus
from loopml.server.api import Call
from loopml.server.mlflow import _models, _search, logged_models
from loopml.server.mlflow._api import mlflow_api as api
from loopml.server.mlflow._fields import key_value_list, key_values, not_own
from loopml.uris import model_uri, strip_scheme

__all__: list[str] = []

# loopml's own tags on what MLflow made, hidden from MLflow's view.
HIDDEN = "loopml.mlflow.deleted"  # on a model MLflow deleted
SOURCE = "loopml.mlflow.source"  # on a version: the source as the MLflow client sent it
RUN = "loopml.mlflow.run_id"  # on a version: the run the MLflow client named, when not loopml's
_OWN = (HIDDEN, SOURCE, RUN)
_MAX_RESULTS = 100_000


# -- reading the request ---------------------------------------------------------------


def _arg(call: Call, name: str, kind: type = str, default: Any = ...) -> Any:
    """A request argument: from the query string of a GET, the JSON body otherwise."""
    values = call.query.get(name)
    if values:
        raw = values[-1]
        if kind is int:
            try:
                return int(raw)
            except ValueError:
                raise InvalidInputError(f"'{name}' must be an integer, got {raw!r}") from None
        return raw
    return call.field(name, (int, str) if kind is int else kind, default=default)


def _version_arg(call: Call) -> int:
    raw = _arg(call, "version", int)
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"'version' must be a version number, got {raw!r}") from None


def _list_arg(call: Call, name: str) -> list[str]:
    if name in call.query:
        return list(call.query[name])
    value = call.field(name, list, default=[])
    return [str(item) for item in value]


def _tags_arg(call: Call) -> dict[str, str]:
    return key_values(call.field("tags", list, default=[]), "tags")


def _max_results(call: Call, default: int) -> int:
    value = _arg(call, "max_results", int, default=default)
    if not 1 <= int(value) <= _MAX_RESULTS:
        raise InvalidInputError(f"max_results must be from 1 to {_MAX_RESULTS}, got {value}")
    return int(value)


# -- MLflow's JSON ---------------------------------------------------------------------


def version_json(version: ModelVersion) -> dict[str, Any]:
    """A loopml version as MLflow's ``ModelVersion`` message."""
    source = version.tags.get(SOURCE, version.source)
    body = {
        "name": version.model,
        "version": str(version.version),
        "creation_timestamp": version.created_at,
        "last_updated_timestamp": version.status_changed_at,
        "user_id": version.created_by or "",
        "current_stage": "None",
        "description": version.description or "",
        "source": source,
        "run_id": version.tags.get(RUN, version.run_id or ""),
        "status": "READY",
        "tags": key_value_list(version.tags, hidden=_OWN),
        "run_link": "",
        "aliases": sorted(version.aliases),
    }
    if source.startswith("models:/m-"):  # registered from an MLflow 3 logged model
        body["model_id"] = strip_scheme(source, "models")
    return body


def model_json(model: RegisteredModel, latest: ModelVersion | None) -> dict[str, Any]:
    """A loopml model as MLflow's ``RegisteredModel`` message."""
    body: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "description": model.description or "",
        "tags": key_value_list(model.tags, hidden=_OWN),
        "aliases": [
            {"alias": alias, "version": str(number)}
            for alias, number in sorted(model.aliases.items())
        ],
    }
    if latest is not None:
        body["latest_versions"] = [version_json(latest)]
    return body


# -- lookups MLflow's way: what it deleted does not exist ------------------------------


def _model(call: Call, name: str) -> RegisteredModel:
    model = call.ctx.registry.get_model(name)
    if HIDDEN in model.tags:
        raise NotFoundError("registered model", name, hint="it was deleted")
    return model


def _visible(versions: Iterable[ModelVersion]) -> list[ModelVersion]:
    return [v for v in versions if v.status is not VersionStatus.ARCHIVED]


def _version(call: Call, name: str, number: int) -> ModelVersion:
    _model(call, name)
    version = call.ctx.registry.get_version(name, number)
    if version.status is VersionStatus.ARCHIVED:
        raise NotFoundError(
            "model version", f"{name}/{number}", hint="it was deleted (archived in loopml)"
        )
    return version


def _latest(call: Call, name: str) -> ModelVersion | None:
    visible = _visible(call.ctx.registry.list_versions(name))
    return visible[-1] if visible else None


def _model_reply(call: Call, name: str) -> dict[str, Any]:
    model = _model(call, name)
    return {"registered_model": model_json(model, _latest(call, name))}


# -- registered models -----------------------------------------------------------------


@api.post("/registered-models/create", summary="Create a registered model")
def create_registered_model(call: Call) -> dict[str, Any]:
    name = call.field("name")
    tags = _tags_arg(call)
    description = call.field("description", default=None)
    registry = call.ctx.registry
    try:
        existing = registry.get_model(name)
    except NotFoundError:
        registry.create_model(name, description=description, tags=tags)
        return _model_reply(call, name)
    if HIDDEN not in existing.tags:
        registry.create_model(name)  # raises the conflict, worded by the registry
    updates: dict[str, str | None] = dict.fromkeys(existing.tags)
    updates.update(tags)
    registry.update_model(name, description=description or "", tags=updates)
    return _model_reply(call, name)


@api.get("/registered-models/get", summary="One registered model")
def get_registered_model(call: Call) -> dict[str, Any]:
    return _model_reply(call, _arg(call, "name"))


@api.patch("/registered-models/update", summary="Change a registered model's description")
def update_registered_model(call: Call) -> dict[str, Any]:
    name = call.field("name")
    _model(call, name)
    call.ctx.registry.update_model(name, description=call.field("description", default=""))
    return _model_reply(call, name)


@api.post("/registered-models/rename", summary="Rename a registered model (not supported)")
def rename_registered_model(call: Call) -> dict[str, Any]:
    raise InvalidInputError(
        "loopml does not rename models (their URIs are kept in lineage, deployments and "
        "audit rows); create a model with the new name and register the version again"
    )


@api.delete(
    "/registered-models/delete",
    summary="Delete a registered model (loopml archives its versions and hides it)",
    body=True,
)
def delete_registered_model(call: Call) -> dict[str, Any]:
    name = _arg(call, "name")
    model = _model(call, name)
    registry = call.ctx.registry
    for alias in sorted(model.aliases):
        registry.remove_alias(name, alias, reason="MLflow deleted the model")
    for version in _visible(registry.list_versions(name)):
        registry.archive(name, version.version, reason="MLflow deleted the model")
    registry.update_model(name, tags={HIDDEN: "true"})
    return {}


@api.get("/registered-models/search", summary="Search registered models (MLflow's filter)")
def search_registered_models(call: Call) -> dict[str, Any]:
    matches = _search.parse_filter(_arg(call, "filter", default=None))
    limit = _max_results(call, 100)
    found = []
    for model in call.ctx.registry.list_models():
        if HIDDEN in model.tags:
            continue
        body = model_json(model, None)
        if matches(body):
            found.append(body)
    _search.order(found, _list_arg(call, "order_by"), "name ASC")
    items, token = _search.page(found, limit, _arg(call, "page_token", default=None))
    for body in items:
        latest = _latest(call, body["name"])
        if latest is not None:
            body["latest_versions"] = [version_json(latest)]
    return {"registered_models": items, "next_page_token": token}


@api.post(
    "/registered-models/get-latest-versions",
    summary="The latest version of a registered model (stage None only)",
)
def get_latest_versions(call: Call) -> dict[str, Any]:
    name = _arg(call, "name")
    _model(call, name)
    stages = {stage.lower() for stage in _list_arg(call, "stages")}
    latest = _latest(call, name)
    wanted = not stages or "none" in stages
    return {"model_versions": [version_json(latest)] if latest and wanted else []}


api.get("/registered-models/get-latest-versions", summary="The latest version (GET)")(
    get_latest_versions
)


@api.post("/registered-models/set-tag", summary="Set a registered model's tag")
def set_registered_model_tag(call: Call) -> dict[str, Any]:
    name = call.field("name")
    _model(call, name)
    key = _own_key(call.field("key"))
    call.ctx.registry.update_model(name, tags={key: str(call.field("value", default=""))})
    return {}


@api.delete("/registered-models/delete-tag", summary="Remove a registered model's tag", body=True)
def delete_registered_model_tag(call: Call) -> dict[str, Any]:
    name = _arg(call, "name")
    key = _own_key(_arg(call, "key"))
    if key not in _model(call, name).tags:
        raise NotFoundError("tag", f"{name}:{key}", hint="the model has no such tag")
    call.ctx.registry.update_model(name, tags={key: None})
    return {}


@api.post("/registered-models/alias", summary="Point an alias at a version")
def set_registered_model_alias(call: Call) -> dict[str, Any]:
    name = call.field("name")
    _version(call, name, _version_arg(call))
    call.ctx.registry.set_alias(name, call.field("alias"), _version_arg(call))
    return {}


@api.delete("/registered-models/alias", summary="Remove an alias", body=True)
def delete_registered_model_alias(call: Call) -> dict[str, Any]:
    name = _arg(call, "name")
    _model(call, name)
    call.ctx.registry.remove_alias(name, _arg(call, "alias"))
    return {}


@api.get("/registered-models/alias", summary="The version an alias points at")
def get_model_version_by_alias(call: Call) -> dict[str, Any]:
    name = _arg(call, "name")
    _model(call, name)
    alias = _arg(call, "alias")
    version = call.ctx.registry.resolve(model_uri(name, alias=alias))
    return {"model_version": version_json(version)}


def _own_key(key: str) -> str:
    return not_own(key, _OWN)


# -- model versions --------------------------------------------------------------------


@api.post("/model-versions/create", summary="Create a model version from a logged model")
def create_model_version(call: Call) -> dict[str, Any]:
    name = call.field("name")
    source = call.field("source")
    named_run = call.field("run_id", default=None) or None
    _model(call, name)  # MLflow needs the model first
    if source.startswith("models:/m-"):  # an MLflow 3 logged model: its own run holds it
        run_id, path = logged_models.run_of(call, strip_scheme(source, "models")).id, ""
    else:
        run_id, path = _models.run_path_of(source, named_run)
    uri = _models.package_in_run(call.ctx, run_id, path)
    tags = _tags_arg(call)
    for key in tags:
        _own_key(key)
    if source != uri:
        tags[SOURCE] = source
    if named_run is not None and named_run != run_id:
        tags[RUN] = named_run
    version = call.ctx.registry.register(
        uri, name, description=call.field("description", default=None), tags=tags
    )
    return {"model_version": version_json(version)}


@api.get("/model-versions/get", summary="One model version")
def get_model_version(call: Call) -> dict[str, Any]:
    return {"model_version": version_json(_version(call, _arg(call, "name"), _version_arg(call)))}


@api.patch("/model-versions/update", summary="Change a model version's description")
def update_model_version(call: Call) -> dict[str, Any]:
    name, number = call.field("name"), _version_arg(call)
    _version(call, name, number)
    version = call.ctx.registry.update_version(
        name, number, description=call.field("description", default="")
    )
    return {"model_version": version_json(version)}


@api.delete(
    "/model-versions/delete", summary="Delete a model version (loopml archives it)", body=True
)
def delete_model_version(call: Call) -> dict[str, Any]:
    name, number = _arg(call, "name"), _version_arg(call)
    version = _version(call, name, number)
    registry = call.ctx.registry
    for alias in version.aliases:  # MLflow drops a deleted version's aliases with it
        registry.remove_alias(name, alias, reason="MLflow deleted the version")
    registry.archive(name, number, reason="MLflow deleted the version")
    return {}


@api.get("/model-versions/search", summary="Search model versions (MLflow's filter)")
def search_model_versions(call: Call) -> dict[str, Any]:
    text = _arg(call, "filter", default=None)
    matches = _search.parse_filter(text)
    limit = _max_results(call, 10_000)
    registry = call.ctx.registry
    found = []
    named = _search.named_model(text)  # the usual search: one model's versions
    models = registry.list_models() if named is None else _one_model(call, named)
    for model in models:
        if HIDDEN in model.tags:
            continue
        for version in _visible(registry.list_versions(model.name)):
            body = version_json(version)
            if matches(body):
                found.append(body)
    _search.order(found, _list_arg(call, "order_by"), "name ASC")
    if not _list_arg(call, "order_by"):  # MLflow's default: name, then newest version first
        found.sort(key=lambda body: (body["name"], -int(body["version"])))
    items, token = _search.page(found, limit, _arg(call, "page_token", default=None))
    return {"model_versions": items, "next_page_token": token}


def _one_model(call: Call, name: str) -> list[RegisteredModel]:
    try:
        return [call.ctx.registry.get_model(name)]
    except (NotFoundError, InvalidInputError):
        return []  # MLflow finds no versions of a model that does not exist


@api.get("/model-versions/get-download-uri", summary="Where a version's files can be fetched")
def get_model_version_download_uri(call: Call) -> dict[str, Any]:
    version = _version(call, _arg(call, "name"), _version_arg(call))
    return {"artifact_uri": version.tags.get(SOURCE, version.source)}


@api.post("/model-versions/set-tag", summary="Set a model version's tag")
def set_model_version_tag(call: Call) -> dict[str, Any]:
    name, number = call.field("name"), _version_arg(call)
    _version(call, name, number)
    key = _own_key(call.field("key"))
    call.ctx.registry.update_version(name, number, tags={key: str(call.field("value", default=""))})
    return {}


@api.delete("/model-versions/delete-tag", summary="Remove a model version's tag", body=True)
def delete_model_version_tag(call: Call) -> dict[str, Any]:
    name, number = _arg(call, "name"), _version_arg(call)
    key = _own_key(_arg(call, "key"))
    if key not in _version(call, name, number).tags:
        raise NotFoundError("tag", f"{name}/{number}:{key}", hint="the version has no such tag")
    call.ctx.registry.update_version(name, number, tags={key: None})
    return {}


@api.post(
    "/model-versions/transition-stage",
    summary="Move a version to a stage (MLflow's deprecated stages: not supported)",
)
def transition_model_version_stage(call: Call) -> dict[str, Any]:
    raise InvalidInputError(
        "loopml does not support MLflow's model stages (deprecated in MLflow 2.9); point an "
        "alias at the version instead: client.set_registered_model_alias(name, 'staging', "
        "version), and load it as models:/<name>@staging"
    )
