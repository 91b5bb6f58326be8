"""``loopml maturity``: the MLOps maturity level reached, and what the next one needs.

Example:
    $ loopml maturity
    $ loopml maturity --json | jq '.next.missing[].command'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, new_table, show
from loopml.cli._state import get_state

if TYPE_CHECKING:
    from rich.text import Text

    from loopml.automation.maturity import Level, MaturityReport

__all__ = ["maturity"]


def maturity(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the MLOps maturity level (0-4) this project has reached, and what is missing.

    Every criterion is read from what the store shows has run (tracked runs, versioned
    data, gated promotions, served and monitored predictions, the agent's plans), never
    from settings alone; each missing one comes with the command that adds it. The levels
    are described in docs/maturity.md.

    Examples:

        loopml maturity

        loopml maturity --json
    """
    from loopml.automation.maturity import assess

    report = assess(get_state(ctx).settings())
    if as_json:
        echo_json(report.to_dict())
        return
    tables = [_level_table(level, report.level) for level in report.levels[1:]]
    show(_headline(report), "", *tables, *_next_lines(report))


def _headline(report: MaturityReport) -> Text:
    from rich.text import Text

    text = Text("MLOps maturity: ", style="bold")
    text.append(f"level {report.level} of 4, {report.name}", style="bold green")
    return text


def _level_table(level: Level, reached: int) -> Any:
    if level.number <= reached:
        state = "reached"
    elif level.met:
        state = "criteria met, a level below is not"
    else:
        state = f"{sum(c.met for c in level.criteria)} of {len(level.criteria)} met"
    table = new_table("", "criterion", "evidence", title=f"level {level.number}: {level.name} "
                      f"({state})")  # fmt: skip
    for criterion in level.criteria:
        mark = cell("✓", "green") if criterion.met else cell("✗", "red")
        table.add_row(mark, cell(criterion.name), cell(criterion.evidence, "" if criterion.met
                                                       else "dim"))  # fmt: skip
    return table


def _next_lines(report: MaturityReport) -> list[Text | str]:
    from rich.text import Text

    upcoming = report.next
    if upcoming is None:
        return ["every criterion of every level is met: the loop is closed"]
    lines: list[Text | str] = [
        Text(f"next: level {upcoming.number}, {upcoming.name}", style="bold")
    ]
    for criterion in report.missing:
        line = Text("  ✗ ", style="red")
        line.append(f"{criterion.name}: ")
        line.append(criterion.command or "", style="cyan")
        if criterion.hint:
            line.append(f" — {criterion.hint}", style="dim")
        lines.append(line)
    return lines
