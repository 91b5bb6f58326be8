"""``loopml lineage URI``: where a thing came from and what used it, walked both ways.

Lineage edges read ``src --edge--> dst``: a run ``consumed`` a dataset version, a
feature view or another step's output, and ``produced`` its own outputs (a model
version too, when it is registered). Walking *up* follows what a node consumed and who
produced that; walking *down* follows what it produced and who consumed that. An
evaluation ``consumed`` a model version and was ``evaluated_on`` a dataset version; a
promoted version was ``promoted_from`` the one it replaced. Which runs belong to a
pipeline run is kept in the runs table (a step run's parent), so a run's parent and
child runs are shown as well.

Example:
    $ loopml lineage runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ
    $ loopml lineage models:/churn@production --direction up
    $ loopml lineage datasets:/iris/3 --direction down --depth 2
    $ loopml lineage step_output:01J0ABCDEFGHJKMNPQRSTVWXYZ/model --json
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, show
from loopml.cli._state import get_state
from loopml.errors import InvalidInputError, NotFoundError
from loopml.uris import is_uri, node_uri, parse_uri, strip_scheme

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

    from loopml.cli._state import CliState
    from loopml.store.models import LineageEntry
    from loopml.tracking import TrackingClient

__all__ = ["lineage", "model_node", "parse_node"]

Node = tuple[str, str]
_KIND = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*):(?P<id>[^/].*)$")


class Direction(StrEnum):
    up = "up"
    down = "down"
    both = "both"


# The walk's options, shared with `loopml models lineage`.
DirectionOption = Annotated[
    Direction,
    typer.Option("--direction", "-d", help="up: where it came from; down: what used it; both."),
]
DepthOption = Annotated[
    int, typer.Option("--depth", metavar="N", min=1, help="Follow at most N edges.")
]


def lineage(
    ctx: typer.Context,
    uri: Annotated[
        str,
        typer.Argument(
            metavar="URI",
            help="runs:/RUN_ID, models:/NAME/VERSION, models:/NAME@ALIAS, "
            "datasets:/NAME[/VERSION], or KIND:ID such as step_output:RUN_ID/OUTPUT "
            "or feature_view:NAME.",
        ),
    ],
    direction: DirectionOption = Direction.both,
    depth: DepthOption = 5,
    as_json: JsonFlag = False,
) -> None:
    """Show where a run, model version, dataset version or step output came from and what used it.

    Up follows what it consumed and who produced that; down follows what it produced
    and who consumed that. A run also shows its pipeline run and its step runs; a model
    version shows the run that trained it, its evaluations and promotions.

    Examples:

        loopml lineage runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml lineage models:/churn@production --direction up
        loopml lineage datasets:/iris --direction down
        loopml lineage step_output:01J0ABCDEFGHJKMNPQRSTVWXYZ/model --depth 2 --json
    """
    state = get_state(ctx)
    client = state.tracking_client()
    node = parse_node(uri, state)
    from loopml.store.lineage import walk

    up = walk(client.store, node, up=True, depth=depth) if direction != Direction.down else []
    down = walk(client.store, node, up=False, depth=depth) if direction != Direction.up else []
    family = _family(client, node)
    resolved = is_uri(uri.strip(), ("datasets", "models"))  # known to exist
    if not up and not down and family is None and not resolved:
        raise NotFoundError(
            "lineage node", f"{node[0]}:{node[1]}", hint="no lineage edges touch it"
        )
    labels = _Labels(client)
    if as_json:
        data: dict[str, Any] = {
            "node": labels.json(node),
            "upstream": _labelled(up, labels),
            "downstream": _labelled(down, labels),
        }
        echo_json({**data, **(family or {})})
        return
    show(_tree(node, up, down, family, labels, direction))


def parse_node(text: str, state: CliState) -> Node:
    """The lineage node a URI, ``kind:id`` or bare run id names.

    Raises:
        InvalidInputError: text that names no node.
        NotFoundError: the run, model version (or alias) or dataset does not exist.
    """
    text = text.strip()
    if is_uri(text, "models"):
        return model_node(text, state)
    if is_uri(text, "runs"):
        run_id = parse_uri(text).name
        state.tracking_client().get_run(run_id)  # NotFoundError for an unknown run
        return ("run", run_id)
    if is_uri(text, "datasets"):
        from loopml.data import DatasetClient

        # datasets:/iris (the latest), datasets:/iris/3 or datasets:/iris@latest
        version = DatasetClient(state.settings()).get(strip_scheme(text, "datasets"))
        return ("dataset_version", f"{version.name}/{version.version}")
    match = _KIND.match(text)
    if match:
        return (match["kind"], match["id"])
    if text.isalnum():
        state.tracking_client().get_run(text)
        return ("run", text)
    raise InvalidInputError(
        f"{text!r} names no lineage node; use runs:/<run_id>, models:/<name>/<version>, "
        "datasets:/<name>/<version> or kind:id (e.g. step_output:<run_id>/<output>)"
    )


def model_node(text: str, state: CliState) -> Node:
    """The ``model_version`` node of ``models:/name/N`` or ``models:/name@alias``.

    Raises:
        NotFoundError: the model, version or alias does not exist (naming what does).
    """
    return state.registry_client().resolve(text).node


def _family(client: TrackingClient, node: Node) -> dict[str, Any] | None:
    """A run's parent run and child runs (pipeline membership), ``None`` for other nodes."""
    if node[0] != "run":
        return None
    try:
        run = client.get_run(node[1])
    except NotFoundError:
        return None
    children = client.search_runs(filter=f"parent_run_id = '{run.id}'", order_by="start_time")
    return {
        "parent_run": run.parent_run_id,
        "child_runs": [{"id": c.id, "name": c.name, "status": str(c.status)} for c in children],
    }


class _Labels:
    """Readable names of nodes, looked up once each."""

    def __init__(self, client: TrackingClient) -> None:
        self.client = client
        self._runs: dict[str, str] = {}

    def text(self, node: Node) -> str:
        kind, key = node
        if kind == "run":
            return f"run {key}{self._run(key)}"
        if kind in ("dataset_version", "model_version"):
            return str(node_uri(kind, key))
        if kind == "evaluation":
            return f"evaluation {key}{self._evaluation(key)}"
        if kind == "step_output":
            run_id, _, output = key.rpartition("/")
            return f"output '{output}' of run {run_id}"
        return f"{kind.replace('_', ' ')} {key}"

    def json(self, node: Node) -> dict[str, Any]:
        return {"kind": node[0], "id": node[1], "label": self.text(node)}

    def _evaluation(self, evaluation_id: str) -> str:
        from loopml.registry.client import RegistryClient

        try:
            found = RegistryClient(self.client.settings).get_evaluation(evaluation_id)
        except NotFoundError:
            return ""
        verdict = {True: "passed", False: "failed"}.get(found["passed"], "no gates")
        return f" on {found['data']} ({verdict})"

    def _run(self, run_id: str) -> str:
        if run_id not in self._runs:
            try:
                run = self.client.get_run(run_id)
            except NotFoundError:
                self._runs[run_id] = " (deleted)"
            else:
                kind = run.tags.get("loopml.run_kind", "run")
                pipeline = run.tags.get("loopml.pipeline")
                what = f"pipeline {pipeline}" if kind == "pipeline" and pipeline else kind
                self._runs[run_id] = f" {run.name} ({what}, {run.status})"
        return self._runs[run_id]


def _labelled(entries: list[LineageEntry], labels: _Labels) -> list[dict[str, Any]]:
    return [
        {
            **entry.to_dict(),
            "label": labels.text(entry.node),
            "children": _labelled(entry.children, labels),
        }
        for entry in entries
    ]


def _tree(
    node: Node,
    up: list[LineageEntry],
    down: list[LineageEntry],
    family: dict[str, Any] | None,
    labels: _Labels,
    direction: Direction,
) -> Tree:
    from rich.tree import Tree

    tree = Tree(cell(labels.text(node), "bold cyan"))
    # A pipeline run's own edges are few: what it read and made is on its steps' runs.
    empty = "see its child runs" if family and family["child_runs"] else "nothing recorded"
    if direction != Direction.down:
        _branch(tree.add(cell("came from", "bold")), up, labels, empty)
    if direction != Direction.up:
        _branch(tree.add(cell("used by", "bold")), down, labels, empty)
    if family is not None and family["parent_run"]:
        parent = ("run", family["parent_run"])
        tree.add(cell(f"part of {labels.text(parent)}", "bold"))
    if family is not None and family["child_runs"]:
        steps = tree.add(cell(f"child runs ({len(family['child_runs'])})", "bold"))
        for child in family["child_runs"]:
            steps.add(cell(f"{child['name']}  run {child['id']} ({child['status']})"))
    return tree


def _branch(parent: Tree, entries: list[LineageEntry], labels: _Labels, empty: str) -> None:
    if not entries:
        parent.add(cell(empty, "dim"))
    for entry in entries:
        branch = parent.add(_entry_label(entry, labels))
        _branch_children(branch, entry, labels)


def _branch_children(branch: Tree, entry: LineageEntry, labels: _Labels) -> None:
    for child in entry.children:
        _branch_children(branch.add(_entry_label(child, labels)), child, labels)


def _entry_label(entry: LineageEntry, labels: _Labels) -> Text:
    from rich.text import Text

    text = Text.assemble((f"{entry.edge}  ", "dim"), labels.text(entry.node))
    if entry.seen:
        text.append("  (expanded elsewhere in this tree)", "dim")
    if entry.more:
        text.append("  … (raise --depth to see more)", "dim")
    return text
