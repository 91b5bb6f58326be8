"""``loopml models evaluate|card|lineage``: judge a model, describe it, trace it.

Example:
    $ loopml models evaluate models:/churn/3 --data datasets:/churn_holdout/1 \\
        --target churned --slice plan --gate "f1 >= 0.8"
    $ loopml models card churn 3 --out card.html
    $ loopml models lineage churn@production
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._models_targets import model_target
from loopml.cli._output import JsonFlag, echo_json, show
from loopml.cli._registry import open_registry
from loopml.cli._state import get_state
from loopml.cli.lineage import DepthOption, Direction, DirectionOption
from loopml.cli.lineage import lineage as walk_lineage
from loopml.uris import is_uri, model_uri

__all__ = ["CardFormat", "evaluate", "model_card", "model_lineage"]


class CardFormat(StrEnum):
    md = "md"
    html = "html"


def evaluate(
    ctx: typer.Context,
    model_uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/RUN_ID/PATH or a package folder.",
        ),
    ],
    data: Annotated[
        str,
        typer.Option(
            "--data", metavar="URI", help="The dataset version: datasets:/NAME/N or …@latest."
        ),
    ],
    target: Annotated[str, typer.Option("--target", metavar="COLUMN", help="The label column.")],
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            metavar="TASK",
            help="classification or regression (default: inferred from the model and target).",
        ),
    ] = None,
    slice_by: Annotated[
        list[str] | None,
        typer.Option(
            "--slice", metavar="COLUMN", help="Also measure per value of COLUMN (repeatable)."
        ),
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            "-g",
            metavar="EXPR",
            help="A gate (repeatable); default: the model's policy gates. "
            'E.g. "f1 >= 0.8", "roc_auc >= champion - 0.02", "gap(f1, by=plan) <= 0.1", infra.',
        ),
    ] = None,
    champion: Annotated[
        str,
        typer.Option(
            "--champion", metavar="ALIAS", help="The alias of the version to compare with."
        ),
    ] = "production",
    no_champion: Annotated[
        bool, typer.Option("--no-champion", help="Compare with no other version.")
    ] = False,
    no_infra: Annotated[
        bool,
        typer.Option("--no-infra", help="Skip loading the package in a fresh Python process."),
    ] = False,
    trust: Annotated[
        list[str] | None,
        typer.Option(
            "--trust",
            metavar="TYPE",
            help="A type the model file may load (module.Class), if you trust its author "
            "(repeatable).",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            dir_okay=False,
            help="Also write the evaluation with its figures as one self-contained HTML page.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate a model on a dataset version: metrics, slices, champion, gates.

    Without --gate the model's policy gates apply (a registered version). The champion
    (the version --champion points at) is measured on the same data; gates relative to
    it are skipped when there is none. Evaluating a registered version with gates moves
    it to validated (all passed) or rejected. Exit code 1 when a gate fails.

    Examples:

        loopml models evaluate models:/churn/3 --data datasets:/churn_holdout/1 --target churned
        loopml models evaluate churn/3 --data datasets:/churn_holdout@latest --target churned \\
            --slice plan --gate "accuracy >= 0.7" --gate "gap(accuracy, by=plan) <= 0.15"
        loopml models evaluate runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model --data datasets:/h/1 \\
            --target price --task regression --no-infra --json
        loopml models evaluate churn/3 --data datasets:/h/1 --target churned --report eval.html
    """
    from loopml.cli._evaluation_views import evaluation_views
    from loopml.evaluation import evaluate as run_evaluation

    result = run_evaluation(
        _model_uri(model_uri),
        data,
        target,
        task=task,
        slices=tuple(slice_by or ()),
        gates=list(gate) if gate else None,
        champion=None if no_champion else champion,
        infra_check=not no_infra,
        settings=get_state(ctx).settings(),
        trusted=tuple(trust or ()),
    )
    body = result.to_dict()
    if report is not None:
        report.write_text(result.to_html(), encoding="utf-8")
    if as_json:
        echo_json(body)
    else:
        show(*evaluation_views(body))
    if result.passed is False:
        raise typer.Exit(1)


def _model_uri(text: str) -> str:
    """A model URI as evaluate takes it: ``churn/3`` and ``churn@production`` become URIs."""
    if is_uri(text, ("models", "runs")) or Path(text).is_dir():
        return text
    return model_target(text).uri


def model_card(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    version: Annotated[int, typer.Argument(metavar="VERSION", min=1, help="The version.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FILE", dir_okay=False, help="Write the card here (.md/.html)."
        ),
    ] = None,
    format: Annotated[
        CardFormat | None,
        typer.Option("--format", "-f", help="md or html (default: from --out, else md)."),
    ] = None,
) -> None:
    """Write a version's model card: package, source run, training data, evaluations, approvals.

    The HTML card is one self-contained file (no network needed to view it). Without
    --out the card is printed.

    Examples:

        loopml models card churn 3
        loopml models card churn 3 --out card.html
        loopml models card churn 3 --format html > card.html
    """
    from loopml.registry.card import model_card as build_card
    from loopml.registry.remote import RemoteRegistryClient

    chosen = format or (
        CardFormat.html if out is not None and out.suffix in (".html", ".htm") else CardFormat.md
    )
    html = chosen is CardFormat.html
    with open_registry(ctx) as registry:
        if isinstance(registry, RemoteRegistryClient):  # the server renders it from its store
            text = registry.card_text(name, version, "html" if html else "markdown")
        else:
            card = build_card(registry, name, version)
            text = card.html if html else card.markdown
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    from loopml.artifacts import local_target

    out.parent.mkdir(parents=True, exist_ok=True)
    local_target(out.parent, out.name).write_text(text, encoding="utf-8")  # no link followed
    show(f"wrote the card of {model_uri(name, version)} to {out} ({chosen.value})")


def model_lineage(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI", help="models:/NAME/VERSION, models:/NAME@ALIAS, NAME/VERSION."
        ),
    ],
    direction: DirectionOption = Direction.both,
    depth: DepthOption = 5,
    as_json: JsonFlag = False,
) -> None:
    """Show what a model version came from (run, data) and what used it (evaluations).

    The same walk as `loopml lineage models:/…`.

    Examples:

        loopml models lineage churn@production
        loopml models lineage models:/churn/3 --direction up --depth 8 --json
    """
    walk_lineage(ctx, model_target(target).uri, direction, depth, as_json)
