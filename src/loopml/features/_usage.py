"""Which features a run's training sets gave it, kept on the run's lineage edges.

A training set built inside a run links the run to every feature view it read
(``run --consumed--> feature_view``); the edge to a view whose features the caller asked
for also carries them, as ``{"features": {column: feature}}`` (the column the training
set named, the view's feature), and on-demand views get an edge of their own. Several
training sets in one run add to the same edges. A model logged from the run was trained
on those columns, so a server can look the same features up online by its signature's
column names (:meth:`~loopml.features.FeatureStore.training_features`).

Example:
    >>> with store.read() as conn:  # doctest: +SKIP
    ...     [use.reference for use in features_of_run(conn, run_id)]
    ['driver_stats:trips']
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select

from loopml.features.models import FeatureUse
from loopml.store.lineage import Node, add_edge
from loopml.store.schema import lineage_edges

__all__ = ["VIEW_KINDS", "features_of_run", "link_features"]

VIEW_KINDS = ("feature_view", "on_demand_feature_view")


def link_features(conn: Connection, run: Node, view: Node, columns: Mapping[str, str]) -> None:
    """Record ``run --consumed--> view`` once, adding ``columns`` ({column: feature}) to it."""
    e = lineage_edges.c
    found = conn.execute(
        select(e.id, e.attributes).where(
            e.src_kind == run[0],
            e.src_id == run[1],
            e.edge == "consumed",
            e.dst_kind == view[0],
            e.dst_id == view[1],
        )
    ).first()
    if found is None:
        add_edge(conn, run, "consumed", view, {"features": dict(columns)} if columns else None)
        return
    attributes = dict(found.attributes) if isinstance(found.attributes, Mapping) else {}
    known = attributes.get("features")
    merged = {**(known if isinstance(known, Mapping) else {}), **columns}
    if merged != known and merged:
        attributes["features"] = merged
        conn.execute(lineage_edges.update().where(e.id == found.id).values(attributes=attributes))


def features_of_run(conn: Connection, run_id: str) -> list[FeatureUse]:
    """The features the run's training sets gave it, in the order they were first linked."""
    e = lineage_edges.c
    rows = conn.execute(
        select(e.dst_kind, e.dst_id, e.attributes)
        .where(
            e.src_kind == "run",
            e.src_id == run_id,
            e.edge == "consumed",
            e.dst_kind.in_(VIEW_KINDS),
        )
        .order_by(e.id)
    )
    found: list[FeatureUse] = []
    for kind, node_id, attributes in rows:
        columns = attributes.get("features") if isinstance(attributes, Mapping) else None
        if not isinstance(columns, Mapping):
            continue
        view, _, version = str(node_id).rpartition("/")
        for column, feature in columns.items():
            found.append(
                FeatureUse(
                    column=str(column),
                    reference=f"{view}:{feature}",
                    version=int(version),
                    on_demand=kind == "on_demand_feature_view",
                )
            )
    return found
