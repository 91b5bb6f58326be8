"""A run's inputs: the nodes it ``consumed`` in the lineage graph (``Run.inputs``).

Example:
    >>> with store.read() as conn:  # doctest: +SKIP
    ...     inputs_of(conn, [run_id])[run_id][0].uri
    'datasets:/iris/2'
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, select

from loopml.store.schema import lineage_edges
from loopml.tracking.models import RunInput
from loopml.uris import node_uri

__all__ = ["inputs_of"]


def inputs_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, tuple[RunInput, ...]]:
    """The inputs of each run in ``run_ids`` (at most ~900), in the order they were linked."""
    e = lineage_edges.c
    rows = conn.execute(
        select(e.src_id, e.dst_kind, e.dst_id, e.attributes)
        .where(e.src_kind == "run", e.src_id.in_(list(run_ids)), e.edge == "consumed")
        .order_by(e.id)
    )
    found: dict[str, list[RunInput]] = defaultdict(list)
    for run_id, kind, node_id, attributes in rows:
        attributes = attributes if isinstance(attributes, dict) else {}
        context = attributes.get("context")
        found[run_id].append(
            RunInput(
                kind, node_id, _uri(kind, node_id), context if isinstance(context, str) else None
            )
        )
    return {run_id: tuple(inputs) for run_id, inputs in found.items()}


def _uri(kind: str, node_id: str) -> str:
    return node_uri(kind, node_id) or f"{kind}:{node_id}"
