"""The feature store's definitions over REST: entities, feature views, on-demand views.

Definitions are versioned: a listing shows the latest version of each; one definition
comes with the list of all its versions.
"""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInputError
from loopml.features.models import KINDS
from loopml.server.api import Api, Call, Param

__all__ = ["api"]

api = Api("/api/v1", tag="features")


@api.get(
    "/features",
    summary="Every registered definition (its latest version), by kind then name",
    params=(Param("kind", description=f"only one kind: {', '.join(KINDS)}"),),
)
def list_definitions(call: Call) -> dict[str, Any]:
    kind = _kind(call)
    found = call.ctx.features.list_definitions(kind)  # type: ignore[arg-type]
    return {"definitions": [d.to_dict() for d in found]}


@api.get(
    "/features/views",
    summary="The feature views and on-demand views (latest versions), by name",
)
def list_views(call: Call) -> dict[str, Any]:
    found = call.ctx.features.list_definitions()
    return {"views": [d.to_dict() for d in found if d.kind != "entity"]}


@api.get(
    "/features/{name}",
    summary="One definition (latest, or ?version=N) with every version of it",
    params=(
        Param("version", "integer", "that version"),
        Param("kind", description="when names of several kinds collide"),
    ),
)
def get_definition(call: Call) -> dict[str, Any]:
    store = call.ctx.features
    name = call.path["name"]
    found = store.get_definition(
        name,
        _kind(call),  # type: ignore[arg-type]
        call.integer("version", low=1),
    )
    history = [d for d in store.registry.versions(name) if d.kind == found.kind]
    return {
        **found.to_dict(),
        "versions": [
            {
                "version": d.version,
                "digest": d.digest,
                "created_at": d.created_at,
                "created_by": d.created_by,
            }
            for d in history
        ],
    }


def _kind(call: Call) -> str | None:
    kind = call.text("kind")
    if kind is not None and kind not in KINDS:
        raise InvalidInputError(
            f"unknown definition kind {kind!r}; use one of {', '.join(KINDS)}",
            details={"parameter": "kind"},
        )
    return kind
