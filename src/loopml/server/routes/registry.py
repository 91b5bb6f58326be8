"""The model registry: models, versions, aliases, policies, approvals, evaluations, events.

Approving or rejecting needs the approver role on ``model:NAME`` (on top of any role the
model's own promotion policy names), and the decision is attributed to the caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from loopml.errors import ForbiddenError, InvalidInputError, UnauthorizedError, quote
from loopml.packaging.onnx_export import onnx_mode
from loopml.registry.models import ModelVersion
from loopml.server.api import PAGING, Api, Call, Param, Reply
from loopml.server.routes._common import listing
from loopml.server.routes._numbers import INT64_MAX, body_version, path_version
from loopml.uris import is_uri, model_uri

__all__ = ["api"]

api = Api("/api/v1", tag="registry")

_VERSION = "/models/{name}/versions/{version}"
_CARD_FORMATS = ("json", "markdown", "html")


def _version(version: ModelVersion) -> dict[str, Any]:
    fields = {f.name: getattr(version, f.name) for f in dataclasses.fields(version)}
    return {**fields, "uri": version.uri}


# -- models and versions ---------------------------------------------------------------


@api.get("/models", summary="Registered models, by name", params=PAGING)
def list_models(call: Call) -> dict[str, Any]:
    page = call.ctx.registry.page_models(limit=call.limit(), page_token=call.text("page_token"))
    return listing("models", page)


@api.get("/models/{name}", summary="One model: description, tags, policy, aliases")
def get_model(call: Call) -> Any:
    return call.ctx.registry.get_model(call.path["name"])


@api.get(
    "/models/{name}/versions",
    summary="A model's versions, oldest first",
    params=(Param("status", description="only versions with this status"), *PAGING),
)
def list_versions(call: Call) -> dict[str, Any]:
    page = call.ctx.registry.page_versions(
        call.path["name"],
        call.text("status"),
        limit=call.limit(),
        page_token=call.text("page_token"),
    )
    return listing("versions", page, _version)


@api.post(
    "/models/{name}/versions",
    summary="Register a logged package as the next version (body: source, a runs:/<id>/<path> "
    "URI; description, tags, onnx: false, true or 'if-possible')",
    status=201,
    scope=lambda call: f"model:{call.path['name']}",
)
def register_version(call: Call) -> dict[str, Any]:
    source = call.field("source")
    if not is_uri(source, "runs"):
        raise InvalidInputError(
            f"source must be a runs:/<run_id>/<path> URI of a logged package, got "
            f"{quote(source, 80)}; log the package in a run first (a folder on the client's "
            "machine is not the server's to read)",
            details={"field": "source"},
        )
    onnx = call.field("onnx", (bool, str), default=False)
    version = call.ctx.registry.register(
        source,
        call.path["name"],
        description=call.field("description", default=None),
        tags=call.field("tags", dict, default=None),
        onnx=onnx_mode(onnx),
    )
    return _version(version)


@api.get(_VERSION, summary="One model version")
def get_version(call: Call) -> dict[str, Any]:
    return _version(call.ctx.registry.get_version(call.path["name"], path_version(call)))


@api.post(
    _VERSION + "/status",
    summary="Move a version to validated, rejected or archived (body: status, reason)",
)
def set_status(call: Call) -> dict[str, Any]:
    moved = call.ctx.registry.set_status(
        call.path["name"],
        path_version(call),
        call.field("status"),
        reason=call.field("reason", default=None),
    )
    return _version(moved)


@api.get(
    _VERSION + "/blockers",
    summary="Every reason promoting this version would fail now",
    params=(Param("alias", description="the alias to promote to (default production)"),),
)
def promotion_blockers(call: Call) -> dict[str, Any]:
    alias = call.text("alias", "production") or "production"
    blockers = call.ctx.registry.promotion_blockers(call.path["name"], path_version(call), alias)
    return {"alias": alias, "blockers": blockers, "promotable": not blockers}


@api.post(
    _VERSION + "/promote",
    summary="Point an alias at this version once the policy allows (body: alias, reason, "
    "archive_previous)",
)
def promote(call: Call) -> dict[str, Any]:
    promoted = call.ctx.registry.promote(
        call.path["name"],
        path_version(call),
        call.field("alias", default="production"),
        reason=call.field("reason", default=None),
        archive_previous=call.field("archive_previous", bool, default=False),
    )
    return _version(promoted)


# -- aliases ---------------------------------------------------------------------------


@api.get("/models/{name}/aliases", summary="A model's aliases and the versions they point at")
def list_aliases(call: Call) -> dict[str, Any]:
    return {"aliases": call.ctx.registry.get_model(call.path["name"]).aliases}


@api.put(
    "/models/{name}/aliases/{alias}",
    summary="Point an alias at a version (body: version, reason, expected)",
)
def set_alias(call: Call) -> Any:
    body = call.json()
    expected: Any = ...
    if "expected" in body:  # compare-and-set: null means "must not exist yet"
        expected = None if body["expected"] is None else body_version(call, "expected")
    options: dict[str, Any] = {} if expected is ... else {"expected": expected}
    return call.ctx.registry.set_alias(
        call.path["name"],
        call.path["alias"],
        body_version(call),
        reason=call.field("reason", default=None),
        **options,
    )


@api.delete(
    "/models/{name}/aliases/{alias}",
    summary="Remove an alias (its history stays)",
    params=(Param("reason", description="why"),),
)
def remove_alias(call: Call) -> Any:
    return call.ctx.registry.remove_alias(
        call.path["name"], call.path["alias"], reason=call.text("reason")
    )


@api.get(
    "/models/{name}/alias-history",
    summary="Every move of a model's aliases, oldest first; or where one pointed at a time",
    params=(
        Param("alias", description="only this alias"),
        Param("at", "integer", "with alias: the version it pointed at at this Unix ms"),
    ),
)
def alias_history(call: Call) -> dict[str, Any]:
    name, alias = call.path["name"], call.text("alias")
    at = call.integer("at", low=0, high=INT64_MAX)
    if at is not None:
        if alias is None:
            raise InvalidInputError("query parameter 'at' needs 'alias' (which alias, then)")
        return {"alias": alias, "at": at, "version": call.ctx.registry.alias_at(name, alias, at)}
    return {"changes": call.ctx.registry.list_alias_changes(name, alias)}


# -- governance ------------------------------------------------------------------------


@api.get("/models/{name}/policy", summary="A model's promotion policy")
def get_policy(call: Call) -> Any:
    return call.ctx.registry.get_policy(call.path["name"])


@api.put(
    "/models/{name}/policy",
    summary="Set a model's promotion policy (body: gates, require_approval, approver_role, "
    "protected_aliases)",
)
def set_policy(call: Call) -> Any:
    unknown = sorted(
        set(call.json()) - {"gates", "require_approval", "approver_role", "protected_aliases"}
    )
    if unknown:
        raise InvalidInputError(
            f"a policy has no field {', '.join(map(repr, unknown))}; its fields are gates, "
            "require_approval, approver_role and protected_aliases"
        )
    policy = {
        "gates": call.field("gates", list, default=[]),
        "require_approval": call.field("require_approval", bool, default=False),
        "approver_role": call.field("approver_role", default=None),
        "protected_aliases": call.field("protected_aliases", list, default=["production"]),
    }
    return call.ctx.registry.set_policy(call.path["name"], policy)


@api.get(_VERSION + "/approvals", summary="Every approval and rejection of a version")
def list_approvals(call: Call) -> dict[str, Any]:
    found = call.ctx.registry.list_approvals(call.path["name"], path_version(call))
    return {"approvals": found}


@api.post(
    _VERSION + "/approve",
    summary="Approve a validated version (approver on model:NAME; body: comment)",
    role="viewer",
)
def approve(call: Call) -> Any:
    name, version = _decision_target(call, "approve")
    comment = call.field("comment", default=None)
    with _policy_role_forbidden():
        return call.ctx.registry.approve(name, version, comment=comment, actor=call.principal.user)


@api.post(
    _VERSION + "/reject",
    summary="Reject a version, saying why (approver on model:NAME; body: comment)",
    role="viewer",
)
def reject(call: Call) -> Any:
    name, version = _decision_target(call, "reject")
    comment = call.field("comment")
    with _policy_role_forbidden():
        return call.ctx.registry.reject(name, version, comment=comment, actor=call.principal.user)


@contextlib.contextmanager
def _policy_role_forbidden() -> Iterator[None]:
    """The policy's approver role missing is 403 here: the caller is known, just not allowed."""
    try:
        yield
    except UnauthorizedError as err:
        if isinstance(err, ForbiddenError):
            raise
        raise ForbiddenError(str(err), details=err.details) from err


def _decision_target(call: Call, verb: str) -> tuple[str, int]:
    name = call.path["name"]
    version = path_version(call)
    call.require("approver", f"model:{name}", action=f"{verb} {model_uri(name, version)}")
    return name, version


# -- evaluations, events, cards --------------------------------------------------------


@api.get(_VERSION + "/evaluations", summary="A version's evaluations (metrics, slices, gates)")
def list_evaluations(call: Call) -> dict[str, Any]:
    name, version = call.path["name"], path_version(call)
    call.ctx.registry.get_version(name, version)  # 404 for a version that does not exist
    return {"evaluations": call.ctx.registry.list_evaluations(name, version)}


@api.get("/evaluations/{evaluation_id}", summary="One evaluation with its slices and gates")
def get_evaluation(call: Call) -> Any:
    return call.ctx.registry.get_evaluation(call.path["evaluation_id"])


@api.get(
    "/registry/events",
    summary="Registry events after a cursor, oldest first",
    params=(
        Param("after", "integer", "the id of the last event seen (default 0)"),
        Param("model", description="only this model's events"),
        Param("kind", "array", "only these kinds (alias.set, version.approved, ...)"),
        Param("limit", "integer", "page size"),
    ),
)
def list_events(call: Call) -> dict[str, Any]:
    limit = call.limit()
    found = call.ctx.registry.list_events(
        after=call.integer("after", 0, low=0, high=INT64_MAX) or 0,
        limit=limit,
        model=call.text("model"),
        kinds=call.texts("kind") or None,
    )
    after = found[-1].id if len(found) == limit else None
    return {"events": found, "next_after": after}


@api.get(
    _VERSION + "/card",
    summary="A version's model card as JSON, Markdown or HTML",
    params=(Param("format", description="json (default), markdown or html"),),
)
def model_card(call: Call) -> Any:
    from loopml.registry.card import model_card as make_card

    shape = call.text("format", "json") or "json"
    if shape not in _CARD_FORMATS:
        raise InvalidInputError(
            f"format {shape!r} is not a card format; use one of {', '.join(_CARD_FORMATS)}"
        )
    card = make_card(call.ctx.registry, call.path["name"], path_version(call))
    if shape == "markdown":
        return Reply(card.markdown.encode(), content_type="text/markdown; charset=utf-8")
    if shape == "html":
        return Reply(card.html.encode(), content_type="text/html; charset=utf-8")
    return {
        "model": card.model,
        "version": card.version,
        "markdown": card.markdown,
        "data": card.data,
    }
