"""Typed lineage edges between the things the loop makes.

An edge reads ``src --edge--> dst``, e.g. ``run R --produced--> model_version M``.

Example:
    >>> add_edge(conn, ("run", run_id), "consumed", ("dataset_version", "iris/3"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import Connection, or_, select

from loopml.clock import now_ms
from loopml.errors import InvalidInputError
from loopml.store.models import LineageEntry
from loopml.store.schema import lineage_edges

if TYPE_CHECKING:
    from loopml.store.engine import Store

__all__ = [
    "EDGE_TYPES",
    "Edge",
    "Node",
    "add_edge",
    "add_edge_once",
    "add_edges",
    "consumed_by_producers",
    "edges_of",
    "walk",
]

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


def consumed_by_producers(
    conn: Connection, node: Node, kind: str = "dataset_version"
) -> list[tuple[str, dict[str, Any] | None]]:
    """What the runs that produced ``node`` consumed: ``(id, attributes)`` of each
    ``consumed`` edge to a ``kind`` node, run by run, in the order the edges were made.

    Example:
        >>> consumed_by_producers(conn, ("model_version", "churn/3"))  # doctest: +SKIP
        [('churn_train/2', {'context': 'training'})]
    """
    producers = [
        e["src_id"]
        for e in edges_of(conn, node, "in")
        if e["edge"] == "produced" and e["src_kind"] == "run"
    ]
    return [
        (e["dst_id"], e["attributes"])
        for run in producers
        for e in edges_of(conn, ("run", run), "out")
        if e["edge"] == "consumed" and e["dst_kind"] == kind
    ]


# How an edge reads from the node being walked: (edge, it leaves this node) -> verb.
_VERBS: Final = {
    ("consumed", True): "consumed",
    ("consumed", False): "consumed by",
    ("produced", True): "produced",
    ("produced", False): "produced by",
    ("triggered_by", True): "triggered by",
    ("triggered_by", False): "triggered",
    ("evaluated_on", True): "evaluated on",
    ("evaluated_on", False): "evaluated by",
    ("promoted_from", True): "promoted from",
    ("promoted_from", False): "promoted to",
}


def walk(store: Store, root: Node, *, up: bool, depth: int) -> list[LineageEntry]:
    """The nodes reachable from ``root`` upstream (``up``) or downstream, breadth first.

    Up follows what a node consumed and who produced that; down what it produced and
    who consumed that. At most ``depth`` edges are followed from ``root``.

    Example:
        >>> [e.to_dict() for e in walk(store, ("run", run_id), up=True, depth=2)]  # doctest: +SKIP
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InvalidInputError(f"depth must be an integer >= 1, got {depth!r}")
    top: list[LineageEntry] = []
    seen = {root}
    queue: deque[tuple[Node, int, list[LineageEntry], LineageEntry | None]] = deque(
        [(root, 0, top, None)]
    )
    with store.read() as conn:
        while queue:
            node, level, into, entry = queue.popleft()
            found = _neighbours(conn, node, up=up)
            if level >= depth:
                if found and entry is not None:
                    entry.more = True
                continue
            for other, verb in found:
                child = LineageEntry(other[0], other[1], verb)
                into.append(child)
                if other in seen:
                    child.seen = True
                    continue
                seen.add(other)
                queue.append((other, level + 1, child.children, child))
    return top


def _neighbours(conn: Connection, node: Node, *, up: bool) -> list[tuple[Node, str]]:
    found: dict[tuple[Node, str], None] = {}
    for edge in edges_of(conn, node, "both"):
        leaves = (edge["src_kind"], edge["src_id"]) == node
        other = (edge["dst_kind"], edge["dst_id"]) if leaves else (edge["src_kind"], edge["src_id"])
        # Every edge but `produced` points from the newer thing to what it came from.
        if (leaves == (edge["edge"] != "produced")) == up and other != node:
            found[(other, _VERBS.get((edge["edge"], leaves), edge["edge"]))] = None
    return list(found)
