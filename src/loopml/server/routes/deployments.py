"""Serving deployments: their traffic policies, revisions and what they served."""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInputError
from loopml.server.api import PAGING, Api, Call, Param
from loopml.server.routes._common import listing
from loopml.server.routes._numbers import INT64_MAX

__all__ = ["api"]

api = Api("/api/v1", tag="deployments")


@api.get(
    "/deployments",
    summary="Deployments by name",
    params=(Param("model", description="only this model's deployments"), *PAGING),
)
def list_deployments(call: Call) -> dict[str, Any]:
    page = call.ctx.deployments.list_deployments(
        limit=call.limit(), page_token=call.text("page_token"), model=call.text("model")
    )
    return listing("deployments", page)


@api.get(
    "/deployments/{name}",
    summary="One deployment, with the version each route serves now",
)
def get_deployment(call: Call) -> dict[str, Any]:
    client = call.ctx.deployments
    found = client.get(call.path["name"])
    return {**found.to_dict(), "targets": client.resolve(found)}


@api.get("/deployments/{name}/traffic", summary="A deployment's traffic policy")
def get_traffic(call: Call) -> dict[str, Any]:
    found = call.ctx.deployments.get(call.path["name"])
    return {"revision": found.revision, **found.policy.to_dict()}


@api.put(
    "/deployments/{name}/traffic",
    summary="Replace the traffic policy (body: routes, shadow, expected_revision, reason)",
)
def set_traffic(call: Call) -> Any:
    policy = {
        "routes": call.field("routes", list),
        "shadow": call.field("shadow", dict, default=None),
    }
    for route in [*policy["routes"], *([policy["shadow"]] if policy["shadow"] else [])]:
        _check_route(route)
    expected = call.field("expected_revision", int, default=None)
    if expected is not None and not 1 <= expected <= INT64_MAX:
        raise InvalidInputError(
            f"expected_revision must be a revision number from 1, got {expected}",
            details={"field": "expected_revision"},
        )
    return call.ctx.deployments.set_traffic(
        call.path["name"],
        policy,
        expected_revision=expected,
        reason=call.field("reason", default=None),
    )


def _check_route(route: object) -> None:
    if not isinstance(route, dict):
        raise InvalidInputError(
            f"a route is an object like {{'alias': 'production', 'weight': 90}}, got {route!r}"
        )
    version = route.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > INT64_MAX:
        raise InvalidInputError(f"route version {version} is not a version number")
    alias = route.get("alias")
    if alias is not None and not isinstance(alias, str):
        raise InvalidInputError(f"route alias must be a string, got {alias!r}")


@api.get("/deployments/{name}/revisions", summary="Every revision of a deployment, oldest first")
def list_revisions(call: Call) -> dict[str, Any]:
    return {"revisions": call.ctx.deployments.history(call.path["name"])}


@api.get(
    "/deployments/{name}/served",
    summary="Which versions the deployment served, and when",
    params=(Param("target", description="one route's target, e.g. @production or v3"),),
)
def served_versions(call: Call) -> dict[str, Any]:
    found = call.ctx.deployments.served_versions(call.path["name"], call.text("target"))
    return {"served": found}
