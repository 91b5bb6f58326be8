"""Follow a pipeline run as it happens: a live Rich board on a terminal, lines elsewhere.

:class:`StepBoard` keeps the status of every node from the runner's
:class:`~loopml.pipelines.StepEvent` callbacks (they arrive on the orchestrating
thread, while Rich redraws from its own, hence the lock) and renders one row per node:
a glyph or a spinner, the node, its status, the time it took (or has taken so far) and
why (cache reason, first line of an error, why it was skipped). A map's items are shown
under it; a large map shows only its running and failed items and counts the rest.
:func:`follow_run` runs a pipeline that way and then prints how it ended.

Example:
    >>> start = lambda on_event: train.run(on_event=on_event)  # doctest: +SKIP
    >>> follow_run(start, settings, as_json=False)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from loopml.cli._output import cell, echo_json, format_duration, print_error, show
from loopml.cli._pipeline_views import (
    COUNTED,
    RUN_STYLES,
    STEP_STYLES,
    first_line,
    glyph,
    step_counts_text,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

    from loopml.config import Settings
    from loopml.errors import PipelineFailedError
    from loopml.pipelines import PipelineRun, PipelineRunInfo
    from loopml.pipelines.models import StepEvent

__all__ = ["StepBoard", "follow", "follow_run"]

MAX_ITEM_ROWS = 8  # rows for the items of one map before they are only counted
REFRESH_PER_SECOND = 8
_TERMINAL = ("completed", "cached", "failed", "skipped", "killed")


@dataclass
class _Node:
    status: str = "pending"
    started: float | None = None  # monotonic seconds, when it started running
    seconds: float | None = None  # how long it took, once it ended
    reason: str | None = None


class StepBoard:
    """The nodes of one pipeline run and their status; a Rich renderable.

    Args:
        clock: monotonic seconds (injected by tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._nodes: dict[str, _Node] = {}
        self._started = clock()
        self.run_id: str | None = None

    def update(self, event: StepEvent) -> None:
        """Take one event from the runner (use as the ``on_event`` callback)."""
        with self._lock:
            self.run_id = event.pipeline_run_id
            for node_id in event.nodes:
                self._nodes.setdefault(node_id, _Node())
            node = self._nodes.setdefault(event.node, _Node())
            status = str(event.status)
            if status == "running" and node.status != "running":
                node.started = self._clock()
            if status in _TERMINAL:
                if event.duration_ms is not None:
                    node.seconds = event.duration_ms / 1000
                elif node.started is not None:
                    node.seconds = self._clock() - node.started
            node.status = status
            node.reason = event.reason

    def line(self, event: StepEvent) -> str | None:
        """A plain line for a node that just ended (for output that is not a terminal)."""
        status = str(event.status)
        if status not in _TERMINAL:
            return None
        with self._lock:
            node = self._nodes.get(event.node, _Node())
            text = f"{STEP_STYLES[status][0]} {status:<9} {event.node}"
            if node.seconds is not None and status != "cached":
                text += f"  {format_duration(node.seconds)}"
            items = self._items().get(event.node)
        why = first_line(event.reason) or (f"map over {len(items)} item(s)" if items else "")
        return f"{text}  ({why})" if why else text

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        if not self._nodes:  # nothing started yet (or the run never did): draw nothing
            return Text("")

        table = Table.grid(padding=(0, 1))
        for _ in range(4):
            table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis")  # why: one line per node
        now = self._clock()
        with self._lock:
            items = self._items()
            children = {child for group in items.values() for child, _ in group}
            for node_id, node in self._nodes.items():
                if node_id in children:
                    continue
                group = items.get(node_id)
                if group is None:
                    table.add_row(*self._cells(node_id, node, now))
                    continue
                table.add_row(*self._template_cells(node_id, node, group, now))
                self._item_rows(table, group, now)
        return Group(table, self._summary(now))

    # -- rendering -----------------------------------------------------------------------

    def _items(self) -> dict[str, list[tuple[str, _Node]]]:
        """Map items by template: ``square[3]`` belongs to ``square`` when that is a node."""
        groups: dict[str, list[tuple[str, _Node]]] = {}
        for node_id, node in self._nodes.items():
            base, bracket, _ = node_id.rpartition("[")
            if bracket and node_id.endswith("]") and base in self._nodes:
                groups.setdefault(base, []).append((node_id, node))
        return groups

    def _cells(self, label: str, node: _Node, now: float) -> list[RenderableType]:
        from rich.text import Text

        style = STEP_STYLES.get(node.status, ("", ""))[1]
        if node.status == "running":
            from rich.spinner import Spinner

            elapsed = now - (node.started or now)
            mark: RenderableType = Spinner("dots", style="yellow")
            took = Text(format_duration(elapsed), "yellow")
        else:
            mark = glyph(node.status)
            shown = node.seconds if node.status != "cached" else None
            took = Text(format_duration(shown) if shown is not None else "", "dim")
        why = first_line(node.reason)
        detail = Text(why, "red" if node.status == "failed" else "dim")
        return [mark, Text(label, "bold"), Text(node.status, style), took, detail]

    def _template_cells(
        self, node_id: str, node: _Node, group: list[tuple[str, _Node]], now: float
    ) -> list[RenderableType]:
        from rich.text import Text

        done = sum(1 for _, n in group if n.status in ("completed", "cached"))
        shown = node
        if node.status == "pending" and any(n.status != "pending" for _, n in group):
            shown = _Node("running", started=min(n.started or now for _, n in group))
        cells = self._cells(node_id, shown, now)
        cells[4] = Text(f"map: {done}/{len(group)} items done", "dim")
        return cells

    def _item_rows(self, table: Table, group: list[tuple[str, _Node]], now: float) -> None:
        from rich.text import Text

        shown = group
        if len(group) > MAX_ITEM_ROWS:
            shown = [(i, n) for i, n in group if n.status in ("running", "failed")]
            shown = shown[:MAX_ITEM_ROWS]
        for item_id, item in shown:
            cells = self._cells(f"  {item_id}", item, now)
            cells[1] = Text(f"  {item_id}")
            table.add_row(*cells)
        shown_ids = {item_id for item_id, _ in shown}
        hidden = [n for i, n in group if i not in shown_ids]
        if hidden:
            rest = step_counts_text(Counter(n.status for n in hidden))
            what = f"{len(hidden)} more items" if shown else f"{len(hidden)} items"
            table.add_row("", Text("  …", "dim"), "", "", Text(f"{what}: {rest}", "dim"))

    def _summary(self, now: float) -> Text:
        from rich.text import Text

        maps = self._items()
        leaves = [n for node_id, n in self._nodes.items() if node_id not in maps]
        counts = Counter(n.status for n in leaves)
        finished = sum(counts[s] for s in _TERMINAL)
        text = Text(f"{finished}/{len(leaves)} steps", "bold")
        for status in COUNTED:
            if counts[status] and status != "pending":
                text.append(" · ")
                text.append(f"{counts[status]} {status}", STEP_STYLES[status][1])
        text.append(f" · {format_duration(now - self._started)}", "dim")
        return text


@contextlib.contextmanager
def follow(
    board: StepBoard, *, console: Console | None, quiet: bool, err: bool = False
) -> Iterator[Callable[[StepEvent], None]]:
    """Yield the ``on_event`` callback that shows the run.

    Args:
        board: keeps the state.
        console: a terminal console for the live board; ``None`` prints a line per step
            that ends instead.
        quiet: show nothing (``--json``); the board still keeps the state.
        err: print the lines on stderr (stdout is kept for a value, ``--load``).
    """
    if quiet:
        yield board.update
        return
    if console is None:

        def print_line(event: StepEvent) -> None:
            board.update(event)
            text = board.line(event)
            if text is not None:
                typer.echo(text, err=err)

        yield print_line
        return
    from rich.live import Live

    # Leaving the block redraws once more, so the final frame shows how every step ended.
    with Live(board, console=console, refresh_per_second=REFRESH_PER_SECOND, transient=False):
        yield board.update


def follow_run(
    start: Callable[[Callable[[StepEvent], None]], PipelineRun],
    settings: Settings,
    *,
    as_json: bool,
    to_stderr: bool = False,
) -> PipelineRun:
    """Run ``start(on_event)`` shown live (terminal), as lines (pipe) or not at all (--json).

    Then print the outcome: a summary line, or the run as JSON. A failed run also names
    its failed steps and how to resume, and exits 1 with one ``error:`` line on stderr.
    With ``to_stderr`` the board and the summary go to stderr (``--json`` is then
    ignored), leaving stdout to the caller. Returns the finished run.
    """
    from rich.console import Console

    from loopml.errors import PipelineFailedError

    as_json = as_json and not to_stderr
    console = Console(stderr=to_stderr)
    live = console if console.is_terminal and not as_json else None
    try:
        with follow(StepBoard(), console=live, quiet=as_json, err=to_stderr) as on_event:
            run = start(on_event)
    except PipelineFailedError as err:
        info = _stored_run(settings, err.run_id)
        _report(info, as_json=as_json, error=err, console=console if to_stderr else None)
        # One line: the step's error may span many (stdout and --json have its first line).
        print_error(PipelineFailedError(_failure_line(info), run_id=info.id), as_json=False)
        raise typer.Exit(err.exit_code) from None
    _report(run.info, as_json=as_json, console=console if to_stderr else None)
    return run


def _stored_run(settings: Settings, run_id: str) -> PipelineRunInfo:
    from loopml.pipelines.history import get_run
    from loopml.tracking import TrackingClient

    return get_run(TrackingClient(settings, capture_env=False).store, run_id)


def _failure_line(info: PipelineRunInfo) -> str:
    failed = ", ".join(info.failed_steps) or "?"
    return (
        f"pipeline '{info.pipeline}' run {info.id} {info.status}: step(s) {failed} failed; "
        f"see `loopml pipeline show {info.id}`, fix, then `loopml pipeline resume {info.id}`"
    )


def _report(
    info: PipelineRunInfo,
    *,
    as_json: bool,
    error: PipelineFailedError | None = None,
    console: Console | None = None,
) -> None:
    if as_json:
        data = info.to_dict()
        if error is not None:
            data["error"] = error.to_dict()["error"]
        echo_json(data)
        return
    took = format_duration(info.duration_s)
    counts = step_counts_text(info.step_counts())
    lines: list[Any] = [
        cell(
            f"pipeline {info.pipeline} run {info.id} {info.status} in {took}: {counts}",
            f"bold {RUN_STYLES.get(info.status, '')}",
        )
    ]
    for node in info.failed_steps:
        step = info.steps[node]
        lines.append(cell(f"  ✗ {node}: {first_line(step.error or step.reason)}", "red"))
    if info.status != "finished":
        lines.append(
            cell(f"fix the failed step(s), then: loopml pipeline resume {info.id}", "yellow")
        )
    if console is None:
        show(*lines)
    else:
        console.print(*lines, sep="\n")
