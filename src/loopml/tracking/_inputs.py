"""A run's inputs: the nodes it ``consumed`` in the lineage graph (``Run.inputs``).

Example:
    >>> with store.read() as conn:  # doctest: +SKIP
    ...     inputs_of(conn, [run_id])[run_id][0].uri
    'datasets:/iris/2'
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection

from loopml.tracking.models import RunInput
from loopml.uris import node_uri

__all__ = ["inputs_of"]


def inputs_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, tuple[RunInput, ...]]:
    """The inputs of each run in ``run_ids`` (at most ~900), in the order they were linked."""
    if not run_ids:
        return {}
    # Straight to the driver, like the rest of a page of runs (loopml.tracking._hydrate).
    q = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            "SELECT src_id, dst_kind, dst_id, attributes FROM lineage_edges "
            f"WHERE src_kind = {q} AND edge = {q} "
            f"AND src_id IN ({', '.join([q] * len(run_ids))}) ORDER BY id",
            ("run", "consumed", *run_ids),
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    found: dict[str, list[RunInput]] = defaultdict(list)
    for run_id, kind, node_id, attributes in rows:
        if isinstance(attributes, str):  # SQLite keeps JSON as text
            attributes = json.loads(attributes)
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
