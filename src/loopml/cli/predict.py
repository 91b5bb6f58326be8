"""``loopml predict``: batch inference over a file or a dataset version, into Parquet.

Example:
    $ loopml predict models:/churn@production --input customers.parquet --output scores.parquet
    $ loopml predict models:/churn/3 --input datasets:/customers@latest --output s.parquet \\
        --keep customer_id --runtime onnx --output-dataset churn-scores
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import RenderableType

from loopml.cli._output import JsonFlag, cell, echo_json, show
from loopml.cli._state import get_state
from loopml.uris import run_uri

__all__ = ["predict"]


def predict(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL",
            help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/PATH or a folder.",
        ),
    ],
    input: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            metavar="SOURCE",
            help="A .parquet or .csv file, or datasets:/NAME@latest (or /VERSION).",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="FILE", dir_okay=False, help="The Parquet file to write."
        ),
    ],
    chunk_size: Annotated[
        int,
        typer.Option("--chunk-size", metavar="N", help="Rows per model call.", min=1),
    ] = 10_000,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep", "-k", metavar="COLUMN", help="An input column to copy (repeatable)."
        ),
    ] = None,
    proba: Annotated[
        bool,
        typer.Option("--proba", help="Also write class probabilities: `proba_<class>` columns."),
    ] = False,
    runtime: Annotated[
        str,
        typer.Option(
            "--runtime", metavar="NAME", help="native (default) or onnx (registered --onnx)."
        ),
    ] = "native",
    device: Annotated[
        str, typer.Option("--device", metavar="DEVICE", help="cpu, cuda or cuda:N.")
    ] = "cpu",
    experiment: Annotated[
        str,
        typer.Option("--experiment", "-e", metavar="NAME", help="The run's experiment."),
    ] = "batch-predictions",
    output_dataset: Annotated[
        str | None,
        typer.Option(
            "--output-dataset", metavar="NAME", help="Also version the output as this dataset."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Predict with MODEL on every row of --input; write the predictions to --output.

    The input is read in chunks (with a progress bar on a terminal); the output keeps
    the input's row order, with the --keep columns first. The prediction is recorded as
    a run in the batch-predictions experiment, linked to the model version and the
    input dataset version (and the output's, with --output-dataset).

    Examples:

        loopml predict models:/churn@production --input customers.parquet --output scores.parquet
        loopml predict models:/churn/3 -i datasets:/customers@latest -o scores.parquet -k id --proba
        loopml predict models:/churn/3 -i big.csv -o s.parquet --chunk-size 50000 --runtime onnx
    """
    from loopml.serving.batch import predict_batch

    with _progress(quiet=as_json) as progress:
        result = predict_batch(
            model,
            input,
            output,
            chunk_size=chunk_size,
            keep=keep or (),
            proba=proba,
            runtime=runtime,  # type: ignore[arg-type]  # checked by predict_batch
            device=device,
            settings=get_state(ctx).settings(),
            experiment=experiment,
            output_dataset=output_dataset,
            progress=progress,
        )
    if as_json:
        echo_json(result.to_dict())
        return
    rate = result.rows / max(result.seconds, 1e-9)
    lines: list[RenderableType] = [
        f"wrote {result.rows:,} predictions of {result.model_uri} to {result.output} "
        f"({result.chunks} chunk{'s' if result.chunks != 1 else ''}, {rate:,.0f} rows/s)"
    ]
    if result.output_dataset:
        lines.append(f"versioned as {result.output_dataset}")
    if result.run_id is not None:
        lines.append(cell(f"run: {result.run_id} (loopml lineage {run_uri(result.run_id)})", "dim"))
    show(*lines)


@contextlib.contextmanager
def _progress(*, quiet: bool) -> Iterator[Any]:
    """A rows progress bar on stderr (only on a terminal); yields the callback for it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("predicting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )
    task = bar.add_task("predicting", total=None)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update
