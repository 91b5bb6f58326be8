"""``loopml data validate``: check data against a schema, so a CI job can gate on it.

Exit codes: 0 the data passed (warnings allowed), 1 at least one error-level violation,
2 bad input (a missing file, a malformed schema, an unknown dataset).

Example:
    $ loopml data validate data/train.parquet --schema schema.toml --infer
    $ loopml data validate datasets:/churn@latest --schema schema.toml --report report.html
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, show
from loopml.cli._state import get_state
from loopml.errors import InvalidInputError, NotFoundError, quote
from loopml.uris import is_uri

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.data.validate import ValidationResult

__all__ = ["validate"]


def validate(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="A Parquet or CSV file (or a folder of Parquet files), or a dataset URI "
            "such as datasets:/churn/3 or datasets:/churn@latest.",
        ),
    ],
    schema_path: Annotated[
        Path,
        typer.Option("--schema", "-s", metavar="FILE", help="The schema file (.toml, or .json)."),
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            "-r",
            metavar="DATA",
            help="Data to measure drift against (overrides the schema's drift.reference). "
            "With --infer: recorded as the schema's drift reference.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="FILE", help="Also write an HTML report here."),
    ] = None,
    infer: Annotated[
        bool,
        typer.Option("--infer", help="Write the schema inferred from DATA to --schema instead."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --infer: replace an existing schema file.")
    ] = False,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Keep the report with the dataset version DATA names (a datasets:/ URI), "
            "for the web UI's dataset version page.",
        ),
    ] = False,
    categorical_max: Annotated[
        int,
        typer.Option(
            metavar="N", min=0, help="With --infer: most distinct values of a category column."
        ),
    ] = 50,
    range_slack: Annotated[
        float,
        typer.Option(metavar="F", min=0, help="With --infer: widen ranges by this share."),
    ] = 0.0,
    row_count_slack: Annotated[
        float,
        typer.Option(metavar="F", min=0, help="With --infer: allow this share fewer or more rows."),
    ] = 0.5,
    as_json: JsonFlag = False,
) -> None:
    """Check DATA against a schema: types, nulls, ranges, categories, duplicates, rows, drift.

    Prints every violation. Exits 1 when any has severity "error" (warnings do not
    fail), so a CI step can gate on data; exits 2 on bad input. Create the schema with
    --infer, then review and edit it: it is a commented TOML file.

    Examples:

        loopml data validate data/train.parquet --schema schema.toml --infer
        loopml data validate data/new.csv --schema schema.toml --report report.html
        loopml data validate datasets:/churn@latest -s schema.toml -r datasets:/churn/3 --json
    """
    settings = get_state(ctx).settings()
    try:
        if infer:
            if report is not None or record:
                raise InvalidInputError(
                    "--report and --record go with validation; drop --infer to use them"
                )
            options = {
                "categorical_max": categorical_max,
                "range_slack": range_slack,
                "row_count_slack": row_count_slack,
            }
            _infer(data, schema_path, reference, settings, force, options, as_json=as_json)
            return
        if record and not is_uri(data, "datasets"):
            raise InvalidInputError(
                f"--record keeps the report with a dataset version; give DATA as a "
                f"datasets:/ URI (e.g. datasets:/churn/3), not {quote(data)}"
            )
        result = _validate(data, schema_path, reference, settings)
        if record:
            from loopml.data import DatasetClient

            kept = DatasetClient(settings).record_validation(
                data, result, note=f"schema {schema_path}"
            )
            if not as_json:
                show(f"kept the report with {kept.uri}")
    except NotFoundError as err:  # an unknown dataset is bad input here, like a missing file
        raise InvalidInputError(err.message, details=err.details) from err
    if report is not None:
        _write_report(result, report, f"{data} against {schema_path}")
    _print(result, report, as_json=as_json)
    if not result.passed:
        raise typer.Exit(1)


def _validate(
    data: str, schema_path: Path, reference: str | None, settings: Settings
) -> ValidationResult:
    from loopml.data.schema import load_schema
    from loopml.data.validate import validate as run_checks

    schema = load_schema(schema_path)
    return run_checks(data, schema, reference=reference, settings=settings)


def _infer(
    data: str,
    schema_path: Path,
    reference: str | None,
    settings: Settings,
    force: bool,
    options: dict[str, Any],
    *,
    as_json: bool,
) -> None:
    from dataclasses import replace

    from loopml.data.schema import DriftConfig, infer_schema, save_schema
    from loopml.data.validate import load_data

    if schema_path.exists() and not force:
        raise InvalidInputError(
            f"schema file '{schema_path}' already exists; pass --force to replace it "
            "(hand edits are lost) or choose another path"
        )
    table = load_data(data, settings=settings)
    schema = infer_schema(table, description=f"inferred from {data}", **options)
    if reference is not None:
        schema = replace(schema, drift=DriftConfig(reference=reference))
    save_schema(schema, schema_path)
    if as_json:
        echo_json({"schema": str(schema_path), "rows": table.num_rows, "columns": schema.names})
        return
    show(
        f"wrote the schema of {len(schema.columns)} columns ({table.num_rows} rows) to "
        f"{schema_path}; review and edit it, then run "
        f"`loopml data validate DATA --schema {schema_path}`"
    )


def _write_report(result: ValidationResult, path: Path, subtitle: str) -> None:
    from loopml.data.report import render_html

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(result, subtitle=subtitle), encoding="utf-8")
    except OSError as err:
        raise InvalidInputError(f"cannot write the report to '{path}': {err}") from err


def _print(result: ValidationResult, report: Path | None, *, as_json: bool) -> None:
    if as_json:
        body = result.to_dict()
        if report is not None:
            body["report"] = str(report)
        echo_json(body)
        return
    from loopml.data.report import render_table

    if result.violations:
        show(render_table(result))
    else:
        show(cell(result.summary, "green"))
    if report is not None:
        show(f"report: {report}")
