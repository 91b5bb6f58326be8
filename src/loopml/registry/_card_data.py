"""What a model card says, gathered in one place: version, package, run, data, decisions.

The registry sits under tracking, so the source run is read straight from the store's
tables (``runs``, ``params``, ``latest_metrics``), and the training data from the lineage
graph: a bounded walk *up* from the run (and its pipeline run) collects the dataset
versions and feature views it came from.

Example:
    >>> data = gather(client, "churn", 3)  # doctest: +SKIP
    >>> [d.uri for d in data.datasets]  # doctest: +SKIP
    ['datasets:/churn_training_set/2', 'datasets:/customer_activity/2']
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from loopml.artifacts import ManifestEntry
from loopml.registry._files import MANIFEST, files_of, locate
from loopml.store.lineage import Node, edges_of
from loopml.store.schema import experiments, latest_metrics, params, runs
from loopml.uris import node_uri, parse_uri

if TYPE_CHECKING:
    from loopml.registry.client import RegistryClient
    from loopml.registry.models import AliasChange, Approval, ModelVersion, RegisteredModel

__all__ = ["SHOWN_EVALUATIONS", "CardData", "DataSource", "RunInfo", "gather", "upstream_data"]

# The walk stops after this many edges from the run, or this many nodes: a card is a
# summary, and a heavily reused dataset must not make it slow.
MAX_DEPTH = 6
MAX_NODES = 200
SHOWN_EVALUATIONS = 5  # the newest ones (with their figures); older ones are counted
_LISTED_KINDS = ("dataset_version", "feature_view")
_EXAMPLE = "input_example.json"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The run that logged the package, as the card shows it."""

    id: str
    name: str
    experiment: str | None
    status: str
    start_time: int
    end_time: int | None
    user: str | None
    parent_run_id: str | None
    params: dict[str, str]
    metrics: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class DataSource:
    """A dataset version or feature view upstream of the run, and how it was reached."""

    kind: str  # "dataset_version" or "feature_view"
    key: str  # "name/3" or the view's name
    via: str  # what consumed it: "run 01J… (split)"
    distance: int  # edges from the run

    @property
    def uri(self) -> str:
        return node_uri(self.kind, self.key) or self.key


@dataclass(frozen=True, slots=True)
class CardData:
    """Everything a card renders, read once."""

    model: RegisteredModel
    version: ModelVersion
    manifest: dict[str, Any] | None
    input_example: dict[str, Any] | None
    files: list[ManifestEntry]
    run: RunInfo | None
    datasets: list[DataSource]
    evaluations: list[dict[str, Any]]
    approvals: list[Approval]
    alias_history: list[AliasChange] = field(default_factory=list)
    # evaluation id -> figure name -> plotly JSON, for the evaluations the card shows
    figures: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def gather(client: RegistryClient, name: str, version: int) -> CardData:
    """Read what the card of ``name/version`` shows.

    Raises:
        NotFoundError: the model or version does not exist.
    """
    found = client.get_version(name, version)
    model = client.get_model(name)
    with client.store.read() as conn:
        files = files_of(conn, locate(conn, parse_uri(found.uri)))
        run = _run_info(conn, found.run_id) if found.run_id else None
        starts: list[Node] = [("run", run.id)] if run else []
        if run and run.parent_run_id:
            starts.append(("run", run.parent_run_id))
        datasets = upstream_data(conn, starts)
    by_path = {entry.path: entry for entry in files}
    history = [
        change
        for change in client.list_alias_changes(name)
        if version in (change.version, change.previous_version)
    ]
    evaluations = client.list_evaluations(name, version)
    figures = {
        item["id"]: client.evaluation_figures(item["id"])
        for item in evaluations[:SHOWN_EVALUATIONS]
        if item.get("figures")
    }
    return CardData(
        model=model,
        version=found,
        manifest=_json_blob(client, by_path.get(MANIFEST)),
        input_example=_json_blob(client, by_path.get(_EXAMPLE)),
        files=files,
        run=run,
        datasets=datasets,
        evaluations=evaluations,
        approvals=client.list_approvals(name, version),
        alias_history=history,
        figures=figures,
    )


def upstream_data(conn: Connection, starts: list[Node]) -> list[DataSource]:
    """Dataset versions and feature views upstream of ``starts``, nearest first.

    Breadth first along the lineage edges, at most :data:`MAX_DEPTH` edges deep and
    :data:`MAX_NODES` nodes in all.
    """
    seen = set(starts)
    queue: deque[tuple[Node, int]] = deque((node, 0) for node in starts)
    found: list[DataSource] = []
    names: dict[str, str] = {}
    while queue:
        node, level = queue.popleft()
        if level >= MAX_DEPTH:
            continue
        for other in _upstream(conn, node):
            if len(seen) >= MAX_NODES:
                return found
            if other in seen:
                continue
            seen.add(other)
            if other[0] in _LISTED_KINDS:
                found.append(DataSource(other[0], other[1], _label(conn, node, names), level + 1))
            queue.append((other, level + 1))
    return found


def _upstream(conn: Connection, node: Node) -> list[Node]:
    """What ``node`` came from: what it consumed (and the like), and who produced it."""
    out: list[Node] = []
    for edge in edges_of(conn, node, "both"):
        leaves = (edge["src_kind"], edge["src_id"]) == node
        # Every edge but `produced` points from the newer thing to what it came from.
        if leaves == (edge["edge"] != "produced"):
            other = (
                (edge["dst_kind"], edge["dst_id"]) if leaves else (edge["src_kind"], edge["src_id"])
            )
            if other != node and other not in out:
                out.append(other)
    return out


def _label(conn: Connection, node: Node, names: dict[str, str]) -> str:
    kind, key = node
    if kind != "run":
        return f"{kind.replace('_', ' ')} {key}"
    if key not in names:
        name = conn.execute(select(runs.c.name).where(runs.c.id == key)).scalar_one_or_none()
        names[key] = f"run {key} ({name})" if name else f"run {key}"
    return names[key]


def _run_info(conn: Connection, run_id: str) -> RunInfo | None:
    row = conn.execute(
        select(runs, experiments.c.name.label("experiment"))
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .where(runs.c.id == run_id)
    ).first()
    if row is None:  # the run was deleted: the card still describes the version
        return None
    run_params = conn.execute(
        select(params.c.key, params.c.value).where(params.c.run_id == run_id).order_by(params.c.key)
    )
    m = latest_metrics.c
    metrics = conn.execute(
        select(m.key, m.value, m.is_nan).where(m.run_id == run_id).order_by(m.key)
    )
    return RunInfo(
        id=row.id,
        name=row.name,
        experiment=row.experiment,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        user=row.user,
        parent_run_id=row.parent_run_id,
        params={row.key: row.value for row in run_params},
        metrics={key: (None if is_nan else value) for key, value, is_nan in metrics},
    )


def _json_blob(client: RegistryClient, entry: ManifestEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    data = json.loads(client.artifact_store.get_bytes(entry.digest))
    return data if isinstance(data, dict) else None
