"""The web UI's detail pages: a model version (its card, evaluations slice by slice, gates
and approvals), a dataset version with its validation reports, a feature view, and the
alerts of every monitor."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInputError, NotFoundError
from loopml.server.api import Api, Call, Reply
from loopml.server.ui._render import page, render
from loopml.uris import dataset_uri, is_uri, parse_uri

__all__ = ["api", "evaluation_view", "schema_rows", "slice_tables"]

api = Api("", tag="ui")

SHOWN_VALIDATIONS = 20
SHOWN_MATERIALIZATIONS = 20
ALERT_STATES = ("firing", "resolved")


def _whole(text: str, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) < 2**63:
        raise InvalidInputError(f"a {what} is a whole number from 1, got {text!r}")
    return int(text)


# -- a model version ---------------------------------------------------------------------------


@page(
    api,
    "/models/{name}/versions/{version}",
    summary="A model version: its card, evaluations with slices and gates, approvals",
)
def model_version(call: Call) -> Reply:
    from loopml.registry import model_card

    name = call.path["name"]
    number = _whole(call.path["version"], "model version")
    data = model_card(call.ctx.registry, name, number).data
    manifest = data.manifest or {}
    signature = manifest.get("signature") or {}
    return render(
        call,
        "model_version.j2",
        title=f"Model {name} version {number}",
        card=data,
        model=data.model,
        version=data.version,
        manifest=manifest,
        inputs=schema_rows(signature.get("inputs")),
        outputs=schema_rows(signature.get("outputs")),
        requirements=list(manifest.get("requirements") or []),
        evaluations=[evaluation_view(item) for item in data.evaluations],
        may_approve=call.principal.allows("approver", f"model:{name}"),
        notice=call.text("notice"),
    )


def schema_rows(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A signature's inputs or outputs as a table: ``kind`` and ``rows`` of name, type, shape.

    Example:
        >>> schema_rows({"type": "dataframe", "columns": [{"name": "x", "type": "double"}]})
        {'kind': 'table', 'rows': [('x', 'double', '')]}
    """
    if not schema:
        return None
    if schema.get("type") == "dataframe":
        columns = schema.get("columns") or []
        return {"kind": "table", "rows": [(c.get("name"), c.get("type"), "") for c in columns]}
    tensors = schema.get("tensors") if schema.get("type") == "tensors" else [schema]
    rows = [
        (t.get("name") or "", t.get("dtype", ""), " x ".join(str(n) for n in t.get("shape", [])))
        for t in tensors or []
    ]
    return {"kind": "tensors", "rows": rows}


def evaluation_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored evaluation as the version page shows it: metrics beside the champion's,
    one table per slicing, each gate with its value, threshold and reason."""
    champion = item.get("champion") or None
    theirs = (champion or {}).get("metrics") or {}
    metrics = [
        {"name": key, "value": value, "champion": theirs.get(key)}
        for key, value in (item.get("metrics") or {}).items()
    ]
    gates = [
        {
            "expression": gate.get("gate") or gate.get("expression") or "",
            "kind": gate.get("kind") or "",
            "outcome": "skipped"
            if gate.get("skipped")
            else ("pass" if gate.get("passed") else "fail"),
            "observed": gate.get("observed"),
            "threshold": gate.get("threshold"),
            "reason": gate.get("reason") or "",
        }
        for gate in item.get("gates") or []
    ]
    return {
        "id": item.get("id"),
        "created_at": item.get("created_at"),
        "data": item.get("data"),
        "task": item.get("task"),
        "target": item.get("target"),
        "passed": item.get("passed"),
        "metrics": metrics,
        "champion": champion,
        "slices": slice_tables(item.get("slices") or {}),
        "gates": gates,
        "notes": list(item.get("notes") or []),
    }


def slice_tables(slices: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Per slicing, a table of its groups (rows) by metrics (columns), with each group's rows.

    Example:
        >>> [t["metrics"] for t in slice_tables({"plan": {"a": {"rows": 3, "f1": 0.5}}})]
        [['f1']]
    """
    tables = []
    for name, groups in slices.items():
        metrics: dict[str, None] = {}
        for values in groups.values():
            metrics.update((key, None) for key in values if key != "rows")
        rows = [
            {
                "group": group,
                "rows": values.get("rows"),
                "values": [values.get(m) for m in metrics],
            }
            for group, values in groups.items()
        ]
        tables.append({"name": name, "metrics": list(metrics), "rows": rows})
    return tables


# -- a dataset version -------------------------------------------------------------------------


@page(
    api,
    "/datasets/{name}/versions/{version}",
    summary="A dataset version: its schema, profile and validation reports",
)
def dataset_version(call: Call) -> Reply:
    client = call.ctx.datasets
    name = call.path["name"]
    found = client.get(dataset_uri(name, _whole(call.path["version"], "dataset version")))
    return render(
        call,
        "dataset_version.j2",
        title=f"Dataset {name} version {found.version}",
        version=found,
        columns=(found.schema or {}).get("columns") or [],
        validations=client.list_validations(found.uri, limit=SHOWN_VALIDATIONS),
    )


# -- a feature view ----------------------------------------------------------------------------


@page(api, "/features/{name}", summary="A feature view: entities, features, source, TTL, state")
def feature_view(call: Call) -> Reply:
    store = call.ctx.features
    name = call.path["name"]
    found = store.get_definition(name, "feature_view")
    spec = found.spec
    entities = []
    for entity in spec.get("entities") or []:
        described = _entity(store, entity.get("name", ""))
        entities.append({**entity, "description": described})
    runs = store.materializations(name, limit=SHOWN_MATERIALIZATIONS)
    watermarks: dict[str, Any] = {}
    for run in runs:  # newest first: the first of each store is its watermark
        if run.version == found.version:
            watermarks.setdefault(run.online_store, run)
    source = str(spec.get("source") or "")
    return render(
        call,
        "feature_view.j2",
        title=f"Feature view {name}",
        view=found,
        spec=spec,
        entities=entities,
        source=source,
        source_link=_dataset_link(source),
        materializations=runs,
        watermarks=watermarks,
        history=list(reversed(store.registry.versions(name))),
    )


def _entity(store: Any, name: str) -> str:
    """An entity's description (empty when it has none or is not registered)."""
    try:
        return str(store.get_definition(name, "entity").spec.get("description") or "")
    except NotFoundError:
        return ""


def _dataset_link(source: str) -> str | None:
    if not is_uri(source, "datasets"):
        return None
    parsed = parse_uri(source)
    quoted = urllib.parse.quote(parsed.name, safe="")
    if parsed.version is not None:
        return f"/datasets/{quoted}/versions/{parsed.version}"
    return f"/datasets/{quoted}"


# -- alerts -------------------------------------------------------------------------------------


@page(api, "/alerts", summary="Every monitor's alerts, newest first (?state=firing|resolved)")
def alerts(call: Call) -> Reply:
    state = call.text("state") or None
    if state not in (None, *ALERT_STATES):
        raise InvalidInputError(f"state is firing or resolved (or left out), got {state!r}")
    found = call.ctx.monitors.alerts(
        state=state, limit=call.limit(100), page_token=call.text("page_token")
    )
    return render(
        call, "alerts_page.j2", title="Alerts", alerts=found.items, page=found, state=state or ""
    )
