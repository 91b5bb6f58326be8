"""The sections of a model card, each a piece of Markdown.

Each function takes the gathered :class:`~loopml.registry._card_data.CardData` and
returns its section; a section with nothing to show says so in a sentence rather than
disappearing, so every card has the same outline.

Example:
    >>> print(approvals(data))  # doctest: +SKIP
    ## Approvals
    <BLANKLINE>
    No approvals or rejections.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from loopml.clock import now_ms
from loopml.registry._card_data import SHOWN_EVALUATIONS, CardData
from loopml.registry._markdown import code, number, pairs, size, table, when

__all__ = [
    "Block",
    "alias_history",
    "approvals",
    "evaluation_blocks",
    "evaluations",
    "footer",
    "header",
    "package",
    "source_run",
    "training_data",
]

# A piece of the card's Markdown, and the evaluation whose figures follow it (HTML card).
Block = tuple[str, str | None]
_FIGURE_TITLES = {
    "roc_curve": "ROC curve",
    "precision_recall_curve": "precision-recall curve",
    "calibration_curve": "calibration curve",
    "confusion_matrix": "confusion matrix",
    "residuals": "residuals",
    "residual_histogram": "residual histogram",
    "slices": "per slice",
}
_SHOWN_FILES = 50
_SHOWN_EXAMPLE_COLUMNS = 12
_LOWER_IS_BETTER = ("log_loss", "calibration_error", "rmse", "mae", "latency_ms_per_row")


def header(data: CardData) -> str:
    """Title, URI, status, aliases, descriptions and tags."""
    v, m = data.version, data.model
    aliases = ", ".join(f"`{a}`" for a in sorted(v.aliases)) or "none"
    lines = [
        f"# {m.name} v{v.version}",
        "",
        f"`{v.uri}` · status **{v.status}** · aliases: {aliases}",
    ]
    if v.description:
        lines += ["", v.description]
    if m.description:
        lines += ["", f"About the model: {m.description}"]
    rows: list[list[Any]] = [
        ["model", m.name],
        ["version", v.version],
        ["status", f"{v.status} (since {when(v.status_changed_at)})"],
        ["aliases", ", ".join(sorted(v.aliases)) or "-"],
        ["registered", f"{when(v.created_at)} by {v.created_by or '-'}"],
        ["source", code(v.source)],
        ["version tags", pairs(v.tags)],
        ["model tags", pairs(m.tags)],
    ]
    return "\n".join(lines) + "\n\n" + table(["", ""], rows)


def package(data: CardData) -> str:
    """Flavor, class, signature, input example, requirements, files."""
    manifest, v = data.manifest or {}, data.version
    rows = [
        ["flavor", v.flavor],
        ["model class", code(manifest.get("model_class", "-"))],
        ["predict_proba", "yes" if manifest.get("predict_proba") else "no"],
        ["python", manifest.get("python_version", "-")],
        ["loopml", manifest.get("loopml_version", "-")],
        ["size", size(v.size_bytes)],
        ["package digest", code(f"sha256:{v.package_digest}")],
    ]
    parts = ["## Package", table(["", ""], rows)]
    signature = manifest.get("signature")
    if signature:
        parts += ["### Signature", _schema("Inputs", signature.get("inputs"))]
        if signature.get("outputs"):
            parts.append(_schema("Outputs", signature["outputs"]))
    else:
        parts += ["### Signature", "No signature: inputs are not checked before predicting."]
    if data.input_example:
        parts += ["### Input example", _example(data.input_example)]
    requirements = manifest.get("requirements") or []
    if requirements:
        parts += ["### Requirements", "```text\n" + "\n".join(requirements) + "\n```"]
    parts += ["### Files", _files(data)]
    return "\n\n".join(parts)


def source_run(data: CardData) -> str:
    """The run that logged the package: attributes, params, latest metrics."""
    run = data.run
    if run is None:
        why = "the run was deleted" if data.version.run_id else "registered from a folder"
        copied = data.version.tags.get("copied_from")
        if copied and not data.version.run_id:  # its run is in the other environment's store
            why = f"copied from {code(copied)}; its lineage summary names the run there"
        return f"## Source run\n\nNo run to show ({why})."
    duration = "-" if run.end_time is None else f"{(run.end_time - run.start_time) / 1000:.1f} s"
    rows = [
        ["run", f"{code(run.id)} ({run.name})"],
        ["experiment", run.experiment or "-"],
        ["status", run.status],
        ["started", f"{when(run.start_time)} by {run.user or '-'}"],
        ["duration", duration],
        ["pipeline run", code(run.parent_run_id) if run.parent_run_id else "-"],
    ]
    parts = ["## Source run", table(["", ""], rows)]
    if run.params:
        parts += ["### Parameters", table(["param", "value"], list(map(list, run.params.items())))]
    if run.metrics:
        parts += ["### Metrics", table(["metric", "value"], list(map(list, run.metrics.items())))]
    return "\n\n".join(parts)


def training_data(data: CardData) -> str:
    """The dataset versions and feature views upstream of the run."""
    if not data.datasets:
        return "## Training data\n\nNo dataset versions are linked to the source run."
    rows = [[code(d.uri), d.kind.replace("_", " "), d.via, d.distance] for d in data.datasets]
    intro = "Found by walking the lineage graph up from the source run (and its pipeline run)."
    return "\n\n".join(
        ["## Training data", intro, table(["source", "kind", "used by", "hops"], rows)]
    )


def evaluations(data: CardData) -> str:
    """The newest evaluations: metrics (beside the champion's), slices, gates, figures."""
    return "\n\n".join(text for text, _ in evaluation_blocks(data))


def evaluation_blocks(data: CardData) -> list[Block]:
    """:func:`evaluations` in pieces: one per evaluation, with its id (the HTML card draws
    that evaluation's figures after it)."""
    if not data.evaluations:
        return [("## Evaluations\n\nNot evaluated yet (`loopml models evaluate`).", None)]
    blocks: list[Block] = [("## Evaluations", None)]
    for item in data.evaluations[:SHOWN_EVALUATIONS]:
        blocks.append((_evaluation(item), str(item.get("id") or "") or None))
    hidden = len(data.evaluations) - SHOWN_EVALUATIONS
    if hidden > 0:
        blocks.append((f"{hidden} older evaluation(s) not shown.", None))
    return blocks


def approvals(data: CardData) -> str:
    """Approvals and rejections with their comments and roles."""
    if not data.approvals:
        return "## Approvals\n\nNo approvals or rejections."
    rows = [
        [when(a.at), f"**{a.decision}**", a.actor, a.role or "-", a.comment or ""]
        for a in data.approvals
    ]
    return "## Approvals\n\n" + table(["when", "decision", "by", "role", "comment"], rows)


def alias_history(data: CardData) -> str:
    """Every alias move to or away from this version."""
    if not data.alias_history:
        return "## Alias history\n\nNo alias ever pointed at this version."
    rows = []
    for change in data.alias_history:
        before = "-" if change.previous_version is None else f"v{change.previous_version}"
        after = "removed" if change.version is None else f"v{change.version}"
        rows.append(
            [
                when(change.at),
                change.alias,
                f"{before} → {after}",
                change.actor,
                change.reason or "",
            ]
        )
    return "## Alias history\n\n" + table(["when", "alias", "move", "by", "reason"], rows)


def footer() -> str:
    """Who made the card and when."""
    now = now_ms()
    return f"---\n\n*Generated by loopml {_version()} on {when(now)}.*"


def _version() -> str:
    # Not ``from loopml import __version__``: the SDK face sits floors above the registry.
    try:
        return metadata.version("loopml")
    except metadata.PackageNotFoundError:
        return "(development)"


# -- evaluations ---------------------------------------------------------------------------


def _evaluation(item: Mapping[str, Any]) -> str:
    verdict = {True: "passed", False: "failed", None: "no gates"}[item.get("passed")]
    title = f"### {when(item.get('created_at'))} on {code(item.get('data', '-'))}: {verdict}"
    about = (
        f"Evaluation {code(item.get('id', '-'))} of {code(item.get('model_uri', '-'))}, "
        f"{item.get('task', '-')}, target {code(item.get('target', '-'))}, "
        f"by {item.get('created_by') or '-'}."
    )
    parts = [title, about, _metrics(item)]
    for name, groups in (item.get("slices") or {}).items():
        parts += [f"Slice by {code(name)}:", _slice(groups)]
    if item.get("gates"):
        parts += ["Gates:", _gates(item["gates"])]
    if item.get("notes"):
        parts += ["Notes:", "\n".join(f"- {note}" for note in item["notes"])]
    if item.get("figures"):
        links = [
            f"[{_FIGURE_TITLES.get(name, name)}](#fig-{item.get('id')}-{name})"
            for name in item["figures"]
        ]
        parts.append("Figures (drawn in the HTML card): " + ", ".join(links) + ".")
    return "\n\n".join(parts)


def _metrics(item: Mapping[str, Any]) -> str:
    ours = item.get("metrics") or {}
    champion = item.get("champion")
    if not champion:
        return table(["metric", "value"], [[k, number(v)] for k, v in ours.items()])
    theirs = champion.get("metrics") or {}
    rows = [
        [k, number(v), number(theirs.get(k)), _change(k, v, theirs.get(k))] for k, v in ours.items()
    ]
    headers = ["metric", "value", f"champion v{champion.get('version')}", "change"]
    return (
        f"Compared with the champion {code(champion.get('uri', '-'))} on the same data:\n\n"
        + table(headers, rows)
    )


def _change(name: str, ours: Any, theirs: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float):
        return "-"
    delta = float(ours) - float(theirs)
    if delta == 0 or name in ("rows", "package_size_bytes"):
        return f"{delta:+.4g}"
    better = (delta < 0) if name in _LOWER_IS_BETTER else (delta > 0)
    return f"{delta:+.4g} {'▲' if better else '▼'}"


def _slice(groups: Mapping[str, Mapping[str, Any]]) -> str:
    metrics: dict[str, None] = {}
    for values in groups.values():
        metrics.update((key, None) for key in values if key != "rows")
    rows = [
        [group, number(values.get("rows")), *(number(values.get(m)) for m in metrics)]
        for group, values in groups.items()
    ]
    return table(["group", "rows", *metrics], rows)


def _gates(gates: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for gate in gates:
        if gate.get("skipped"):
            mark = "skipped"
        else:
            mark = "✔ passed" if gate.get("passed") else "✘ failed"
        rows.append([mark, code(gate.get("gate", "")), gate.get("reason", "")])
    return table(["", "gate", "reason"], rows)


# -- the package ---------------------------------------------------------------------------


def _schema(title: str, schema: Mapping[str, Any] | None) -> str:
    if not schema:
        return f"{title}: unknown."
    kind = schema.get("type")
    if kind == "dataframe":
        rows = [[code(c["name"]), c["type"]] for c in schema.get("columns", [])]
        return f"{title} (a table):\n\n" + table(["column", "type"], rows)
    tensors = schema.get("tensors") if kind == "tensors" else [schema]
    rows = [
        [code(t["name"]) if t.get("name") else "-", t.get("dtype", "-"), code(t.get("shape", "-"))]
        for t in tensors or []
    ]
    what = "named tensors" if kind == "tensors" else "a tensor"
    return f"{title} ({what}; -1 is any size):\n\n" + table(["name", "dtype", "shape"], rows)


def _example(example: Mapping[str, Any]) -> str:
    columns, rows = example.get("columns"), example.get("data")
    if example.get("type") == "dataframe" and isinstance(columns, list) and isinstance(rows, list):
        shown = columns[:_SHOWN_EXAMPLE_COLUMNS]
        body = [[number(value) for value in row[: len(shown)]] for row in rows]
        note = ""
        if len(columns) > len(shown):
            note = f"\n\n{len(columns) - len(shown)} more column(s) in `input_example.json`."
        return table([str(c) for c in shown], body) + note
    text = json.dumps(example, indent=2, ensure_ascii=False)
    if len(text) > 4000:
        text = text[:4000] + "\n…"
    return f"```json\n{text}\n```"


def _files(data: CardData) -> str:
    rows = [
        [code(entry.path), size(entry.size), code(entry.digest)]
        for entry in data.files[:_SHOWN_FILES]
    ]
    note = ""
    if len(data.files) > _SHOWN_FILES:
        note = f"\n\nThe first {_SHOWN_FILES} of {len(data.files)} files."
    return table(["file", "size", "sha256"], rows) + note
