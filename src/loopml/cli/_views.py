"""Rich renderings of runs: the run list, one run in detail, and runs side by side.

Column headers for params and metrics are written as the filter language spells them
(``metrics.auc``), so a header can be pasted into ``--filter`` or ``--order-by``.

Example:
    >>> mentioned_keys("metrics.auc > 0.9 and params.model = 'rf'", ["metric.`val loss`"])
    {'metrics': ['auc', 'val loss'], 'params': ['model']}
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.cli._output import (
    cell,
    echo_json,
    format_duration,
    format_size,
    format_time,
    format_value,
    new_table,
    show,
)
from loopml.clock import timestamp

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from loopml.cli._compare import Comparison
    from loopml.tracking import ArtifactEntry, Run
    from loopml.webhooks import Webhook

__all__ = [
    "artifact_tree",
    "comparison_tables",
    "mentioned_keys",
    "run_details",
    "run_json",
    "runs_table",
    "show_webhooks",
    "webhooks_table",
]

STATUS_STYLES = {"running": "yellow", "finished": "green", "failed": "red", "killed": "magenta"}
KEY_COLUMNS = {"params": 3, "metrics": 4}  # columns shown without --all-columns
_MENTION = re.compile(
    r"\b(?P<entity>metrics?|params?)\.(?P<key>`(?:[^`]|``)+`|\"[^\"]+\"|[A-Za-z0-9_.\-/:]+)",
    re.IGNORECASE,
)


def mentioned_keys(filter_text: str | None, order_by: Iterable[str]) -> dict[str, list[str]]:
    """The metric and param keys a filter and order-by items name, in order of mention."""
    found: dict[str, list[str]] = {"metrics": [], "params": []}
    for text in (filter_text or "", *order_by):
        for match in _MENTION.finditer(text):
            entity = match["entity"].lower().rstrip("s") + "s"
            key = match["key"]
            if key[0] in '`"':
                key = key[1:-1].replace("``", "`")
            if key not in found[entity]:
                found[entity].append(key)
    return found


def run_json(run: Run, experiment_names: Mapping[str, str]) -> dict[str, Any]:
    """A run as JSON: its stored fields, the experiment's name and the duration in seconds."""
    data = run.to_dict()
    data["experiment"] = experiment_names.get(run.experiment_id)
    data["duration_s"] = run.duration_s
    return data


def runs_table(
    runs: Sequence[Run],
    experiment_names: Mapping[str, str],
    mentioned: Mapping[str, list[str]],
    *,
    all_columns: bool,
    max_width: int | None = None,
) -> Table:
    """One row per run; key params and metrics (or all of them) as columns.

    Key columns are, in this order: those ``mentioned`` in the filter or order-by,
    then the metrics and params most runs have. With ``max_width`` (a terminal's
    width) only the key columns that fit are shown and the caption counts the others.
    """
    base = _base_columns(runs, experiment_names)
    extra = _key_columns(runs, mentioned, every=all_columns)
    shown = extra
    if max_width is not None:
        shown = []
        for column in extra:
            if _natural_width(_build_table(base, [*shown, column])) > max_width:
                break
            shown.append(column)
    table = _build_table(base, sorted(shown, key=lambda c: not c.header.startswith("params.")))
    if len(shown) < len(extra):
        table.caption = (
            f"{len(extra) - len(shown)} more column(s) did not fit; "
            "see them with --all-columns or --json"
        )
    return table


@dataclass(frozen=True)
class _Column:
    header: str
    cells: list[Text]
    right: bool = False
    no_wrap: bool = False


def _base_columns(runs: Sequence[Run], experiment_names: Mapping[str, str]) -> list[_Column]:
    columns = [
        _Column("id", [cell(run.id, "cyan") for run in runs], no_wrap=True),
        _Column("name", [cell(run.name) for run in runs]),
    ]
    if len({run.experiment_id for run in runs}) > 1:
        names = [experiment_names.get(run.experiment_id, run.experiment_id) for run in runs]
        columns.append(_Column("experiment", [cell(name) for name in names]))
    return [
        *columns,
        _Column("status", [_status(run) for run in runs], no_wrap=True),
        _Column("start", [cell(format_time(run.start_time)) for run in runs], no_wrap=True),
        _Column("duration", [_duration(run) for run in runs], no_wrap=True),
    ]


def _key_columns(
    runs: Sequence[Run], mentioned: Mapping[str, list[str]], *, every: bool
) -> list[_Column]:
    """Param and metric columns, most important first."""
    metrics = _pick_keys([r.metrics for r in runs], mentioned["metrics"], every, "metrics")
    params = _pick_keys([r.params for r in runs], mentioned["params"], every, "params")
    order = sorted(
        [("metrics", k) for k in metrics] + [("params", k) for k in params],
        key=lambda item: item[1] not in mentioned[item[0]],  # stable: mentioned keys first
    )
    return [
        _Column(
            f"{kind}.{key}",
            [cell(format_value(getattr(run, kind).get(key))) for run in runs],
            right=True,
        )
        for kind, key in order
    ]


def _build_table(base: list[_Column], extra: list[_Column]) -> Table:
    columns = [*base, *extra]
    table = new_table(*(column.header for column in columns))
    for column, spec in zip(table.columns, columns, strict=True):
        column.no_wrap = spec.no_wrap
        column.justify = "right" if spec.right else "left"
    for row in zip(*(column.cells for column in columns), strict=True):
        table.add_row(*row)
    return table


def _natural_width(table: Table) -> int:
    from rich.console import Console

    return Console(width=100_000).measure(table).maximum


def run_details(
    run: Run, experiment: str, tags: Mapping[str, str], files: Sequence[ArtifactEntry]
) -> list[RenderableType]:
    """Everything about one run, as a list of renderables to print in order."""
    from rich.table import Table

    about = Table.grid(padding=(0, 2))
    about.add_column(style="bold")
    about.add_column()
    for label, value in (
        ("run", cell(run.id, "cyan")),
        ("name", cell(run.name)),
        ("experiment", cell(f"{experiment} ({run.experiment_id})")),
        ("status", _status(run)),
        ("started", cell(format_time(run.start_time))),
        ("ended", cell(format_time(run.end_time))),
        ("duration", _duration(run)),
        ("parent", cell(run.parent_run_id or "-")),
        ("user", cell(f"{run.user or '-'} on {run.host or '-'}")),
        ("uri", cell(run.uri)),
    ):
        about.add_row(label, value)
    parts: list[RenderableType] = [about]
    for title, values in (
        ("params", run.params),
        ("metrics (latest)", run.metrics),
        ("tags", tags),
    ):
        parts.append(_key_values(title, values))
    parts.append(artifact_tree(run.uri, files))
    return parts


def artifact_tree(uri: str, files: Sequence[ArtifactEntry]) -> RenderableType:
    """Folders and files (with sizes) as a tree; ``files`` lists each folder before its content."""
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(Text.assemble(("artifacts", "bold"), f"  {uri}"))
    if not files:
        tree.add(cell("(none)", "dim"))
    nodes: dict[str, Tree] = {"": tree}
    for entry in files:
        parent_path, _, name = entry.path.rpartition("/")
        parent = nodes.get(parent_path, tree)
        if entry.is_dir:
            nodes[entry.path] = parent.add(cell(f"{name}/", "bold blue"))
        else:
            parent.add(Text.assemble(name, (f"  {format_size(entry.size)}", "dim")))
    return tree


def comparison_tables(comparison: Comparison) -> list[Table]:
    """A params table (``≠`` marks keys that differ) and a metrics table (``*`` marks the best).

    The arrow after a metric's name says which way is better: ``↑`` higher, ``↓`` lower.
    """
    heads = [f"{run.name}\n{run.id}" for run in comparison.runs]
    params = new_table("param", *heads, title="params (≠ differs)")
    for prow in comparison.params:
        style = "bold yellow" if prow.differs else ""
        key = cell(f"{prow.key} ≠" if prow.differs else prow.key, style)
        params.add_row(key, *(cell(format_value(v), style) for v in prow.values.values()))
    metrics = new_table("metric", *heads, title="metrics (latest; * best, ↑ higher / ↓ lower)")
    for mrow in comparison.metrics:
        arrow = "↓" if mrow.lower_is_better else "↑"
        values = [
            cell(f"{format_value(v)} *", "bold green")
            if run_id in mrow.best
            else cell(format_value(v))
            for run_id, v in mrow.values.items()
        ]
        metrics.add_row(cell(f"{mrow.key} {arrow}"), *values)
    for table in (params, metrics):
        for column in table.columns[1:]:
            column.justify = "right"
    return [params, metrics]


def _pick_keys(
    values: Sequence[Mapping[str, Any]], mentioned: list[str], every: bool, kind: str
) -> list[str]:
    counts = Counter(key for mapping in values for key in mapping)
    if every:
        return sorted(counts)
    chosen = [key for key in mentioned if key in counts]
    # What tells the runs apart comes first: keys whose values vary, then the most common.
    varies = {key: len({repr(m.get(key)) for m in values}) > 1 for key in counts}
    rest = sorted(
        (key for key in counts if key not in chosen),
        key=lambda k: (not varies[k], -counts[k], k),
    )
    return (chosen + rest)[: max(KEY_COLUMNS[kind], len(chosen))]


def _key_values(title: str, values: Mapping[str, Any]) -> RenderableType:
    if not values:
        return cell(f"{title}: none", "dim")
    table = new_table("key", "value", title=title)
    for key, value in values.items():
        table.add_row(cell(key), cell(format_value(value)))
    return table


def _status(run: Run) -> Text:
    return cell(str(run.status), STATUS_STYLES.get(str(run.status), ""))


def _duration(run: Run) -> Text:
    if run.end_time is None:  # still running: the time so far
        return cell(format_duration(timestamp() - run.start_time / 1000), "dim")
    return cell(format_duration(run.duration_s))


def webhooks_table(hooks: Sequence[Webhook], scope: str) -> Table:
    """Webhooks with their cursor and delivery health; the last errors in the caption.

    ``scope`` names what a subscription narrows to (``model``, ``monitor``).
    """
    table = new_table("id", "url", "events", scope, "cursor", "failures", "last delivery")
    for hook in hooks:
        table.add_row(
            cell(hook.id, "cyan"),
            cell(hook.url),
            cell(", ".join(hook.events) or "all"),
            cell(hook.model or "all"),
            cell(hook.cursor),
            cell(hook.failures, "red" if hook.failures else ""),
            cell(format_time(hook.last_delivery_at)),
        )
    errors = [f"{hook.id}: {hook.last_error}" for hook in hooks if hook.last_error]
    if errors:
        table.caption = "last errors: " + "; ".join(errors)
    return table


def show_webhooks(
    hooks: Sequence[Webhook], data: Any, *, as_json: bool, scope: str, add: str
) -> None:
    """A ``webhooks list`` answer: ``data`` as JSON, a table, or how to add one."""
    if as_json:
        echo_json(data)
    elif not hooks:
        show(cell(f"no webhooks; add one with `{add}`", "dim"))
    else:
        show(webhooks_table(hooks, scope))
