"""Typed lineage edges between the things the loop makes.

An edge reads ``src --edge--> dst``, e.g. ``run R --produced--> model_version M``.

Example:
    >>> add_edge(conn, ("run", run_id), "consumed", ("dataset_version", "iris/3"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, or_, select

from loopml.clock import now_ms
from loopml.errors import InvalidInputError
from loopml.store.schema import lineage_edges

__all__ = ["EDGE_TYPES", "Edge", "Node", "add_edge", "add_edge_once", "add_edges", "edges_of"]

EDGE_TYPES = frozenset({"consumed", "produced", "triggered_by", "evaluated_on", "promoted_from"})
Node = tuple[str, str]


def add_edge(
    conn: Connection,
    src: Node,
    edge: str,
    dst: Node,
    attributes: dict[str, Any] | None = None,
) -> None:
    """Record ``src --edge--> dst`` in the caller's transaction."""
    add_edges(conn, [(src, edge, dst, attributes)])


Edge = tuple[Node, str, Node, dict[str, Any] | None]
_INSERT = lineage_edges.insert()


def add_edges(conn: Connection, edges: list[Edge]) -> None:
    """Record several ``(src, edge, dst, attributes)`` edges in one statement."""
    if not edges:
        return
    now = now_ms()
    rows = []
    for src, edge, dst, attributes in edges:
        if edge not in EDGE_TYPES:
            raise InvalidInputError(
                f"unknown lineage edge '{edge}'; use one of {sorted(EDGE_TYPES)}"
            )
        rows.append(
            {
                "src_kind": src[0],
                "src_id": src[1],
                "edge": edge,
                "dst_kind": dst[0],
                "dst_id": dst[1],
                "created_at": now,
                "attributes": attributes,
            }
        )
    conn.execute(_INSERT, rows)


def add_edge_once(
    conn: Connection,
    src: Node,
    edge: str,
    dst: Node,
    attributes: dict[str, Any] | None = None,
) -> bool:
    """Record ``src --edge--> dst`` unless it is already there; return whether it was added."""
    e = lineage_edges.c
    exists = conn.execute(
        select(e.id).where(
            e.src_kind == src[0],
            e.src_id == src[1],
            e.edge == edge,
            e.dst_kind == dst[0],
            e.dst_id == dst[1],
        )
    ).first()
    if exists is not None:
        return False
    add_edge(conn, src, edge, dst, attributes)
    return True


def edges_of(
    conn: Connection, node: Node, direction: Literal["out", "in", "both"] = "both"
) -> list[dict[str, Any]]:
    """The edges leaving (``out``), entering (``in``) or touching ``node``."""
    outgoing = (lineage_edges.c.src_kind == node[0]) & (lineage_edges.c.src_id == node[1])
    incoming = (lineage_edges.c.dst_kind == node[0]) & (lineage_edges.c.dst_id == node[1])
    where = {"out": outgoing, "in": incoming, "both": or_(outgoing, incoming)}[direction]
    rows = conn.execute(select(lineage_edges).where(where).order_by(lineage_edges.c.id))
    return [dict(row._mapping) for row in rows]
