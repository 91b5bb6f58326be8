"""Rich renderings of pipeline runs: the run list, one run's header, and its DAG.

A step's status is one glyph in one colour everywhere (the DAG, the live display, the
lists): ``○`` pending, ``◐`` running, ``●`` completed, ``◆`` cached, ``✗`` failed,
``⊘`` skipped, ``✗`` killed (magenta).

Example:
    >>> step_counts_text({"completed": 3, "cached": 1, "failed": 0})
    '3 completed · 1 cached'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.cli._dag import draw
from loopml.cli._output import cell, format_duration, format_time, new_table

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from loopml.pipelines.models import PipelineRunInfo, StepRunInfo

__all__ = [
    "COUNTED",
    "RUN_STYLES",
    "STEP_STYLES",
    "dag_view",
    "first_line",
    "glyph",
    "run_header",
    "runs_table",
    "step_counts_text",
    "step_detail",
]

STEP_STYLES: dict[str, tuple[str, str]] = {
    "pending": ("○", "dim"),
    "running": ("◐", "yellow"),
    "completed": ("●", "green"),
    "cached": ("◆", "cyan"),
    "failed": ("✗", "bold red"),
    "skipped": ("⊘", "dim"),
    "killed": ("✗", "magenta"),
}
RUN_STYLES = {"running": "yellow", "finished": "green", "failed": "red", "killed": "magenta"}
# loopml.pipelines.models.COUNTED, spelled out: the CLI starts without importing pipelines.
COUNTED = ("completed", "cached", "failed", "skipped", "killed", "running", "pending")
MAX_ITEMS_SHOWN = 20  # items of one map drawn under it; --json has them all


def glyph(status: str | None) -> Text:
    """The status's glyph in its colour (``○`` for a node that has not run)."""
    mark, style = STEP_STYLES.get(status or "pending", ("?", ""))
    return cell(mark, style)


def first_line(text: str | None) -> str:
    """The first non-empty line of ``text`` (an error message), or ``""``."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def step_counts_text(counts: Mapping[str, int]) -> str:
    """``3 completed · 1 cached`` (statuses with a count of zero are left out)."""
    parts = [f"{counts[s]} {s}" for s in COUNTED if counts.get(s)]
    return " · ".join(parts) or "no steps"


def runs_table(infos: Sequence[PipelineRunInfo]) -> Table:
    """One row per pipeline run: id, pipeline, status, start, duration and step counts."""
    table = new_table(
        "id", "pipeline", "status", "started", "duration", "completed", "cached", "failed",
        "skipped",
    )  # fmt: skip
    for column in table.columns[5:]:
        column.justify = "right"
    for info in infos:
        counts = info.step_counts()
        table.add_row(
            cell(info.id, "cyan"),
            cell(info.pipeline, "bold"),
            cell(info.status, RUN_STYLES.get(info.status, "")),
            cell(format_time(info.created_at)),
            cell(format_duration(info.duration_s)),
            *(
                cell(counts[s] or "-", STEP_STYLES[s][1] if counts[s] else "dim")
                for s in COUNTED[:4]
            ),
        )
    return table


def run_header(info: PipelineRunInfo) -> Table:
    """The run's attributes as a two-column grid."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    params = ", ".join(f"{k}={v!r}" for k, v in info.params.items()) or "-"
    for label, value in (
        ("pipeline", cell(info.pipeline, "bold")),
        ("run", cell(info.id, "cyan")),
        ("status", cell(info.status, RUN_STYLES.get(info.status, ""))),
        ("params", cell(params)),
        ("executor", cell(info.executor)),
        ("cache", cell("on" if info.cache else "off (--no-cache)")),
        ("entrypoint", cell(info.entrypoint or "- (cannot be resumed)")),
        ("resumed from", cell(info.resumed_from or "-")),
        ("started", cell(format_time(info.created_at))),
        ("duration", cell(format_duration(info.duration_s))),
        ("steps", cell(step_counts_text(info.step_counts()))),
    ):
        grid.add_row(label, value)
    return grid


def step_detail(step: StepRunInfo | None) -> Text:
    """Status, duration and why (cache reason, first line of the error) of one step."""
    from rich.text import Text

    if step is None:
        return cell("not run", "dim")
    status = str(step.status)
    text = Text.assemble((f"{status:<9}", STEP_STYLES.get(status, ("", ""))[1]))
    if step.duration_ms is not None and status != "cached":
        text.append(f"  {format_duration(step.duration_ms / 1000)}")
    if status == "failed":
        text.append(f"  {first_line(step.error or step.reason)}", "red")
    elif step.reason:
        text.append(f"  {first_line(step.reason)}", "dim")
    return text


def dag_view(
    nodes: Sequence[Mapping[str, Any]], steps: Mapping[str, StepRunInfo] | None = None
) -> RenderableType:
    """The DAG of a stored spec or a trace, with each node's status when ``steps`` is given.

    Each node is drawn once; a map's items are listed under it (up to
    :data:`MAX_ITEMS_SHOWN`), and a node with several upstream nodes names them.
    """
    from rich.console import Group
    from rich.text import Text

    by_id = {node["id"]: node for node in nodes}
    width = max((len(node["id"]) for node in nodes), default=0)
    lines: list[Text] = []
    for row in draw({node["id"]: list(node.get("upstream", [])) for node in nodes}):
        if row.node is None:
            lines.append(Text(row.graph, style="dim"))
            continue
        node = by_id[row.node]
        step = steps.get(row.node) if steps is not None else None
        line = Text(row.graph[: row.column], style="dim")
        line.append_text(glyph(str(step.status) if step else None))
        line.append(row.graph[row.column + 1 :], style="dim")
        line.append(f"  {row.node:<{width}}  ", style="bold")
        line.append_text(_node_detail(node, step, steps))
        if len(node.get("upstream", [])) > 1:  # lanes can cross: name what it gathers
            line.append(f"  ← {', '.join(node['upstream'])}", style="dim")
        lines.append(line)
        if steps is not None and node.get("map"):
            lines += _map_items(row.below, row.node, steps)
    return Group(*lines)


def _node_detail(
    node: Mapping[str, Any], step: StepRunInfo | None, steps: Mapping[str, StepRunInfo] | None
) -> Text:
    from rich.text import Text

    if steps is None:  # a trace: what would run
        what = Text(f"step {node.get('step')}", style="dim")
        if node.get("map"):
            what.append(f", mapped over {', '.join(node['map'])}", style="dim")
        return what
    return step_detail(step)


def _map_items(prefix: str, template: str, steps: Mapping[str, StepRunInfo]) -> list[Text]:
    from rich.text import Text

    items = [s for node, s in steps.items() if node.startswith(f"{template}[")]
    width = max((len(s.node) for s in items[:MAX_ITEMS_SHOWN]), default=0)
    lines = []
    for step in items[:MAX_ITEMS_SHOWN]:
        line = Text(f"{prefix}    ", style="dim")
        line.append_text(glyph(str(step.status)))
        line.append(f" {step.node:<{width}}  ")
        line.append_text(step_detail(step))
        lines.append(line)
    if len(items) > MAX_ITEMS_SHOWN:
        rest = Counter(str(s.status) for s in items[MAX_ITEMS_SHOWN:])
        more = step_counts_text(rest)
        lines.append(Text(f"{prefix}    … {len(items) - MAX_ITEMS_SHOWN} more: {more}", "dim"))
    return lines
