"""Lineage walks, the audit log and the registry's event feed's neighbour: who did what.

``GET /lineage?uri=…`` answers what ``loopml lineage URI --json`` prints: the nodes
upstream (what it came from) and downstream (what used it), and for a run its pipeline
run and step runs.
"""

from __future__ import annotations

import re
from typing import Any

from loopml.errors import InvalidInputError, NotFoundError
from loopml.server.api import Api, Call, Param
from loopml.server.routes._numbers import INT64_MAX
from loopml.store import audit
from loopml.store.lineage import walk
from loopml.store.models import LineageEntry
from loopml.uris import is_uri, node_uri, parse_uri, strip_scheme

__all__ = ["api"]

api = Api("/api/v1", tag="lineage")

Node = tuple[str, str]

_KIND = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*):(?P<id>[^/].*)$")
_DIRECTIONS = ("up", "down", "both")
MAX_DEPTH = 50


@api.get(
    "/lineage",
    summary="Where a run, model version, dataset version or step output came from, and what "
    "used it",
    params=(
        Param("uri", description="runs:/ID, models:/NAME/N, models:/NAME@ALIAS, datasets:/NAME[/N] "
              "or KIND:ID", required=True),
        Param("direction", description="up, down or both (default)"),
        Param("depth", "integer", f"follow at most this many edges, 1 to {MAX_DEPTH} (default 5)"),
    ),
)  # fmt: skip
def lineage(call: Call) -> dict[str, Any]:
    uri = call.text("uri")
    if not uri or not uri.strip():
        raise InvalidInputError(
            "query parameter 'uri' names the node to walk from, e.g. ?uri=models:/churn/3",
            details={"parameter": "uri"},
        )
    direction = call.text("direction", "both") or "both"
    if direction not in _DIRECTIONS:
        raise InvalidInputError(
            f"direction {direction!r} is not one of up, down, both",
            details={"parameter": "direction"},
        )
    depth = call.integer("depth", 5, low=1, high=MAX_DEPTH) or 5
    node = _node(call, uri.strip())
    store = call.ctx.store
    up = walk(store, node, up=True, depth=depth) if direction != "down" else []
    down = walk(store, node, up=False, depth=depth) if direction != "up" else []
    family = _family(call, node)
    known = is_uri(uri.strip(), ("datasets", "models", "runs"))  # resolved: it exists
    if not up and not down and family is None and not known:
        raise NotFoundError(
            "lineage node", f"{node[0]}:{node[1]}", hint="no lineage edges touch it"
        )
    return {
        "node": _shown(node),
        "direction": direction,
        "depth": depth,
        "upstream": [_entry(e) for e in up],
        "downstream": [_entry(e) for e in down],
        **(family or {}),
    }


def _node(call: Call, text: str) -> Node:
    """The lineage node a URI, ``kind:id`` or bare run id names (as ``loopml lineage``)."""
    if is_uri(text, "models"):
        return call.ctx.registry.resolve(text).node
    if is_uri(text, "runs"):
        run_id = parse_uri(text).name
        call.ctx.tracking.get_run(run_id)  # NotFoundError for an unknown run
        return ("run", run_id)
    if is_uri(text, "datasets"):
        version = call.ctx.datasets.get(strip_scheme(text, "datasets"))
        return ("dataset_version", f"{version.name}/{version.version}")
    match = _KIND.match(text)
    if match:
        return (match["kind"], match["id"])
    if text.isascii() and text.isalnum():
        call.ctx.tracking.get_run(text)
        return ("run", text)
    raise InvalidInputError(
        f"{text!r} names no lineage node; use runs:/<run_id>, models:/<name>/<version>, "
        "datasets:/<name>/<version> or kind:id (e.g. step_output:<run_id>/<output>)",
        details={"parameter": "uri"},
    )


def _family(call: Call, node: Node) -> dict[str, Any] | None:
    """A run's parent run and child runs (pipeline membership); ``None`` for other nodes."""
    if node[0] != "run":
        return None
    try:
        run = call.ctx.tracking.get_run(node[1])
    except NotFoundError:
        return None
    children = call.ctx.tracking.search_runs(
        filter=f"parent_run_id = '{run.id}'", order_by="start_time"
    )
    return {
        "parent_run": run.parent_run_id,
        "child_runs": [{"id": c.id, "name": c.name, "status": str(c.status)} for c in children],
    }


def _shown(node: Node) -> dict[str, Any]:
    return {"kind": node[0], "id": node[1], "uri": node_uri(*node)}


def _entry(entry: LineageEntry) -> dict[str, Any]:
    return {
        **entry.to_dict(),
        "uri": node_uri(entry.kind, entry.id),
        "children": [_entry(child) for child in entry.children],
    }


@api.get(
    "/audit",
    summary="The audit log, newest first: who changed what, when and why",
    params=(
        Param("object_kind", description="e.g. model_version, model, run, user"),
        Param("object_id", description="e.g. churn/3"),
        Param("actor", description="who made the change"),
        Param("action", description="e.g. model_version.approved"),
        Param("since", "integer", "only rows at or after this Unix ms"),
        Param("before", "integer", "only rows older than this id: the previous page's next_before"),
        Param("limit", "integer", "page size, 1 to 10000 (default 100)"),
    ),
)
def list_audit(call: Call) -> dict[str, Any]:
    limit = call.limit()
    with call.ctx.store.read() as conn:
        rows = audit.recent(
            conn,
            actor=call.text("actor"),
            object_kind=call.text("object_kind"),
            object_id=call.text("object_id"),
            action=call.text("action"),
            before=call.integer("before", low=1, high=INT64_MAX),
            since=call.integer("since", low=0, high=INT64_MAX),
            limit=limit,
        )
    return {"entries": rows, "next_before": rows[-1]["id"] if len(rows) == limit else None}
