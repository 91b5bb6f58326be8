"""``loopml reproduce TARGET``: re-run the pipeline that made a model version, compare metrics.

The work is :func:`loopml.automation.reproduce.reproduce`; this module prints its report:
a table of every step's metrics (original, reproduced, delta, ok), and where they do not
match, how the environments differ. Progress goes to stderr, the report to stdout.
Exit code 0 when every metric matches, 1 when one does not or the re-run failed.

Example:
    $ loopml reproduce models:/churn/3
    $ loopml reproduce models:/churn@production --reuse-env --tolerance 1e-3 --json
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, new_table, show
from loopml.cli._state import get_state

if TYPE_CHECKING:
    from rich.console import RenderableType

    from loopml.automation.reproduce import EnvironmentDiff, ReproductionReport

__all__ = ["reproduce"]

SHOWN_PACKAGES = 40


def reproduce(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET", help="The version: `models:/NAME/VERSION` or `models:/NAME@ALIAS`."
        ),
    ],
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            metavar="X",
            min=0.0,
            help="A metric matches when |reproduced - original| <= X * max(1, |original|); "
            "0 asks for equality.",
        ),
    ] = 1e-6,
    reuse_env: Annotated[
        bool,
        typer.Option(
            "--reuse-env",
            help="Run in the current Python environment instead of a clean virtualenv "
            "built from the pinned requirements (fast; the environment may differ).",
        ),
    ] = False,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the checkout and virtualenv folder (path printed)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-run the pipeline that made a model version and check that its metrics come back.

    The version's pipeline run recorded its code (git commit), parameters and the dataset
    versions it read. The commit is checked out into a temporary folder, a clean
    virtualenv is built from the package's pinned requirements (pip, the package index
    only), and the pipeline runs again there, against the same store, with caching off and
    the datasets pinned. The new pipeline run is tagged `loopml.reproduces`. Exit code 0
    when every metric matches within the tolerance, 1 otherwise, with the differences of
    the environments (Python, packages, commit, uncommitted changes).

    Only versions made by a loopml pipeline can be reproduced.

    Examples:

        loopml reproduce models:/churn/3
        loopml reproduce models:/churn@production --tolerance 1e-3
        loopml reproduce models:/churn/3 --reuse-env --json
    """
    from loopml.automation.reproduce import reproduce as run_reproduction

    settings = get_state(ctx).settings()
    report = run_reproduction(
        target,
        tolerance=tolerance,
        reuse_env=reuse_env,
        keep=keep,
        settings=settings,
        progress=lambda line: typer.echo(line, err=True),
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        show(*_text(report))
    if not report.matched:
        raise typer.Exit(1)


def _text(report: ReproductionReport) -> list[RenderableType]:
    verdict = {
        "matched": f"{report.uri} reproduced: every metric within {report.tolerance:g}",
        "differs": f"{report.uri} differs: metrics outside the tolerance {report.tolerance:g}",
        "failed": f"{report.uri} could not be reproduced: the re-run failed",
    }[report.status]
    items: list[RenderableType] = [
        cell(verdict, "bold green" if report.matched else "bold red"),
        f"original pipeline run {report.original_run}, re-run {report.reproduced_run or '-'}; "
        f"commit {report.commit[:12]}; {report.environment} environment; data: "
        + (", ".join(report.datasets) or "none recorded"),
    ]
    if report.metrics:
        items.append(_metrics_table(report))
    items += [cell(f"warning: {line}", "yellow") for line in report.warnings]
    if report.error:
        items.append(cell(report.error, "red"))
    if not report.matched and report.environment_diff is not None:
        items.append(_environment_table(report.environment_diff))
    if report.kept:
        items.append(f"kept: {report.kept}")
    return items


def _metrics_table(report: ReproductionReport) -> RenderableType:
    table = new_table("step", "metric", "original", "reproduced", "delta", "ok", title="Metrics")
    for m in report.metrics:
        table.add_row(
            cell(m.step or "(pipeline run)"),
            cell(m.metric),
            cell(_number(m.original)),
            cell(_number(m.reproduced)),
            cell(_number(m.delta)),
            cell("yes" if m.ok else "NO", "green" if m.ok else "bold red"),
        )
    return table


def _environment_table(diff: EnvironmentDiff) -> RenderableType:
    table = new_table("", "original", "reproduced", title="Environment differences")
    table.add_row(cell("python"), cell(diff.python[0] or "?"), cell(diff.python[1] or "?"))
    table.add_row(cell("commit"), cell(diff.commit[0] or "?"), cell(diff.commit[1] or "?"))
    table.add_row(
        cell("uncommitted changes"), cell(_flag(diff.dirty[0])), cell(_flag(diff.dirty[1]))
    )
    for name, (before, after) in list(diff.packages.items())[:SHOWN_PACKAGES]:
        table.add_row(
            cell(name), cell(before or "(not installed)"), cell(after or "(not installed)")
        )
    if len(diff.packages) > SHOWN_PACKAGES:
        more = len(diff.packages) - SHOWN_PACKAGES
        table.add_row(cell(f"… {more} more packages differ (--json lists them)", "dim"), "", "")
    if diff.empty:
        table.caption = (
            "the recorded environments are the same: look for randomness without a seed, "
            "or inputs a step reads outside loopml"
        )
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


def _flag(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")
