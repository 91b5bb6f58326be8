"""The web UI's other pages: datasets and diffs, deployments and traffic, monitors and
alerts, and the lineage of any object, walked both ways."""

from __future__ import annotations

import re
from typing import Any

from loopml.errors import InvalidInputError
from loopml.server.api import Api, Call, Reply
from loopml.server.ui._render import page, render
from loopml.uris import dataset_uri

__all__ = ["api"]

api = Api("", tag="ui")

MAX_WINDOWS = 500
_NODE = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*):(?P<id>[^/].*)$")


# -- datasets ----------------------------------------------------------------------------


@page(api, "/datasets", summary="Datasets and their latest versions")
def datasets(call: Call) -> Reply:
    found = call.ctx.datasets.page_datasets(
        limit=call.limit(100), page_token=call.text("page_token")
    )
    return render(call, "datasets.j2", title="Datasets", page=found)


@page(api, "/datasets/{name}", summary="A dataset's versions, and the diff of two (?a=&b=)")
def dataset(call: Call) -> Reply:
    client = call.ctx.datasets
    name = call.path["name"]
    versions = list(reversed(client.list_versions(name)))
    if not versions:
        client.get(name)  # NotFoundError naming what exists
    diff = None
    a, b = call.text("a"), call.text("b")
    if not (a and b) and len(versions) >= 2:  # the latest change by default
        a, b = str(versions[1].version), str(versions[0].version)
    if a and b:
        diff = client.diff(dataset_uri(name, _whole(a)), dataset_uri(name, _whole(b)))
    return render(
        call,
        "dataset.j2",
        title=f"Dataset {name}",
        name=name,
        versions=versions,
        diff=diff,
        a=a,
        b=b,
    )


def _whole(text: str) -> int:
    if not text.isdigit():
        raise InvalidInputError(f"a dataset version is a whole number, got {text!r}")
    return int(text)


# -- deployments -------------------------------------------------------------------------------


@page(api, "/deployments", summary="Deployments and their traffic")
def deployments(call: Call) -> Reply:
    found = call.ctx.deployments.list_deployments(
        limit=call.limit(100), page_token=call.text("page_token")
    )
    rows = [(d, _resolved(call, d)) for d in found.items]
    return render(call, "deployments.j2", title="Deployments", rows=rows, page=found)


def _resolved(call: Call, deployment: Any) -> dict[str, int] | None:
    try:
        return call.ctx.deployments.resolve(deployment)
    except Exception:
        return None


@page(api, "/deployments/{name}", summary="A deployment: traffic, history, served versions")
def deployment(call: Call) -> Reply:
    client = call.ctx.deployments
    found = client.get(call.path["name"])
    return render(
        call,
        "deployment.j2",
        title=f"Deployment {found.name}",
        deployment=found,
        resolved=_resolved(call, found),
        history=list(reversed(client.history(found.name))),
        served=client.served_versions(found.name),
        monitors=call.ctx.monitors.list_monitors(deployment=found.name, limit=100).items,
    )


# -- monitors ----------------------------------------------------------------------------------


@page(api, "/monitors", summary="Monitors, and the alerts firing")
def monitors(call: Call) -> Reply:
    client = call.ctx.monitors
    return render(
        call,
        "monitors.j2",
        title="Monitors",
        monitors=client.list_monitors(limit=call.limit(100), page_token=call.text("page_token")),
        alerts=client.alerts(limit=100).items,
    )


@page(api, "/monitors/{name}", summary="A monitor: drift and performance over time, alerts")
def monitor(call: Call) -> Reply:
    client = call.ctx.monitors
    found = client.get(call.path["name"])
    windows = client.windows(found.name, limit=MAX_WINDOWS).items
    series: dict[str, list[Any]] = {"drift_share": []}
    times = []
    for w in reversed(windows):
        times.append(w.end_ms)
        series["drift_share"].append(w.drift_share)
        for key, value in (w.results.get("performance") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(key, [None] * (len(times) - 1)).append(value)
        for values in series.values():
            values.extend([None] * (len(times) - len(values)))
    return render(
        call,
        "monitor.j2",
        title=f"Monitor {found.name}",
        monitor=found,
        windows=windows,
        chart={"times": times, "series": series},
        alerts=client.alerts(found.name, limit=100).items,
    )


# -- lineage -----------------------------------------------------------------------------------


@page(api, "/lineage", summary="Where an object came from and what used it (?node=KIND:ID)")
def lineage(call: Call) -> Reply:
    from loopml.store.lineage import walk

    text = (call.text("node") or "").strip()
    match = _NODE.match(text)
    if match is None:
        raise InvalidInputError(
            f"name the object as ?node=KIND:ID, e.g. run:01J0…, model_version:churn/2 or "
            f"dataset_version:iris/3; got {text!r}"
        )
    node = (match["kind"], match["id"])
    depth = call.integer("depth", 3, low=1, high=10) or 3
    return render(
        call,
        "lineage.j2",
        title=f"Lineage of {node[0]} {node[1]}",
        node=node,
        depth=depth,
        up=walk(call.ctx.store, node, up=True, depth=depth),
        down=walk(call.ctx.store, node, up=False, depth=depth),
    )


# -- pipelines ---------------------------------------------------------------------------------


@page(api, "/pipelines", summary="Pipelines and their latest runs")
def pipelines(call: Call) -> Reply:
    from loopml.pipelines import history

    found = history.list_pipelines(
        call.ctx.store, limit=call.limit(100), page_token=call.text("page_token")
    )
    return render(call, "pipelines.j2", title="Pipelines", page=found)


@page(api, "/pipelines/{name}", summary="A pipeline's run history")
def pipeline(call: Call) -> Reply:
    from loopml.pipelines import history

    name = call.path["name"]
    found = history.list_runs(
        call.ctx.store,
        name,
        status=call.text("status") or None,
        limit=call.limit(50),
        page_token=call.text("page_token"),
    )
    return render(call, "pipeline.j2", title=f"Pipeline {name}", name=name, page=found)


@page(api, "/pipeline-runs/{run_id}", summary="A pipeline run: the DAG with step states")
def pipeline_run(call: Call) -> Reply:
    from loopml.pipelines import history

    info = history.get_run(call.ctx.store, call.path["run_id"])
    verdicts = {v.node: v for v in history.explain_cache(call.ctx.store, info)}
    return render(
        call,
        "pipeline_run.j2",
        title=f"Pipeline run {info.pipeline}",
        info=info,
        layers=dag_layers(info.spec.get("nodes", []), list(info.steps)),
        verdicts=verdicts,
    )


def dag_layers(nodes: list[dict[str, Any]], steps: list[str]) -> list[list[dict[str, Any]]]:
    """The DAG's nodes in columns: each node one column right of its furthest upstream.

    Example:
        >>> nodes = [{"id": "a", "upstream": []}, {"id": "b", "upstream": ["a"]}]
        >>> [[n["id"] for n in layer] for layer in dag_layers(nodes, [])]
        [['a'], ['b']]
    """
    described = {n["id"]: n for n in nodes}
    for node in steps:  # steps a map expanded at run time (``square[0]``) join their template
        described.setdefault(node, {"id": node, "upstream": []})
    depth: dict[str, int] = {}

    def depth_of(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node not in depth:
            ups = [u for u in described.get(node, {}).get("upstream", []) if u not in seen]
            depth[node] = 1 + max((depth_of(u, seen | {node}) for u in ups), default=-1)
        return depth[node]

    layers: list[list[dict[str, Any]]] = []
    for node_id, described_node in described.items():
        level = depth_of(node_id)
        while len(layers) <= level:
            layers.append([])
        layers[level].append(described_node)
    return layers


# -- feature views and the audit log -----------------------------------------------------------


@page(api, "/features", summary="Feature definitions: entities, sources, feature views")
def features(call: Call) -> Reply:
    found = call.ctx.features.list_definitions()
    kinds = sorted({d.kind for d in found})
    return render(call, "features.j2", title="Features", definitions=found, kinds=kinds)


AUDIT_FILTERS = ("actor", "object_kind", "object_id", "action")


@page(api, "/audit", summary="The audit log, newest first (?actor=&object_kind=&object_id=)")
def audit_log(call: Call) -> Reply:
    from loopml.store import audit

    narrowed = {name: call.text(name) or None for name in AUDIT_FILTERS}
    limit = call.limit(100)
    with call.ctx.store.read() as conn:
        rows = audit.recent(
            conn,
            actor=narrowed["actor"],
            object_kind=narrowed["object_kind"],
            object_id=narrowed["object_id"],
            action=narrowed["action"],
            before=call.integer("before", low=1),
            limit=limit,
        )
    return render(
        call,
        "audit.j2",
        title="Audit log",
        rows=rows,
        narrowed=narrowed,
        older=rows[-1]["id"] if len(rows) == limit else None,
    )
