"""``loopml feedback``: load delayed labels for a deployment's predictions from a file.

Example:
    $ loopml feedback churn-api --file labels.csv
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli._output import JSON_META_KEY, cell, echo_json, show
from loopml.cli._state import get_state
from loopml.errors import InvalidInputError

__all__ = ["feedback"]

CHUNK_ROWS = 50_000
"""Labels stored per transaction."""
_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl", ".ndjson")


def feedback(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment whose predictions to label.")],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            metavar="PATH",
            exists=True,
            dir_okay=False,
            readable=True,
            help="The labels: a .csv, .parquet or .jsonl file with a request id and a label "
            "per row.",
        ),
    ],
    id_column: Annotated[
        str, typer.Option("--id-column", metavar="NAME", help="The column of request ids.")
    ] = "request_id",
    label_column: Annotated[
        str, typer.Option("--label-column", metavar="NAME", help="The column of labels.")
    ] = "label",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the counts as JSON (errors too).")
    ] = False,
) -> None:
    """Store delayed labels (the true outcomes) of logged predictions, joined by request id.

    Each row gives a prediction's request id (the `x-request-id` response header or the
    V2 response's `id`) and its label. A request id that already has a label gets the new
    one (last write wins), so loading a file again is safe. Labels are stored in chunks of
    50,000 rows, each in one transaction; a bad row stops the load at its chunk (the
    chunks before it stay stored) and the error names it. CSV ids are read as text; a
    JSONL label may be a list or an object.

    Examples:

        loopml feedback churn-api --file labels.csv
        loopml feedback churn-api --file outcomes.parquet --id-column id --label-column churned
        loopml feedback churn-api --file labels.jsonl --json
    """
    ctx.meta[JSON_META_KEY] = as_json
    from loopml.monitoring.feedback import log_feedback

    settings = get_state(ctx).settings()
    stored = replaced = duplicates = rows = 0
    chunks = _chunks(file, id_column, label_column)
    with closing(chunks):  # the file is closed when a chunk is refused
        for first, ids, labels in chunks:
            try:
                result = log_feedback(deployment, ids, labels, settings=settings)
            except InvalidInputError as err:
                raise InvalidInputError(
                    f"{file.name}: in the rows from data row {first + 1} on (item numbers "
                    f"count from there; {stored} label(s) stored before them): {err.message}"
                ) from err
            rows += len(ids)
            stored += result.stored
            replaced += result.replaced
            duplicates += result.duplicates
    if rows == 0:
        raise InvalidInputError(f"{file} has no rows; nothing to store")
    counts = {
        "deployment": deployment,
        "file": str(file),
        "rows": rows,
        "stored": stored,
        "replaced": replaced,
        "duplicates": duplicates,
    }
    if as_json:
        echo_json(counts)
        return
    show(
        cell(
            f"stored {stored} label(s) for {deployment!r} from {rows} row(s) "
            f"({replaced} replaced an earlier label, {duplicates} repeated within a chunk)"
        )
    )


def _chunks(path: Path, id_column: str, label_column: str) -> Generator[tuple[int, list[Any], Any]]:
    """``(first data row, ids, labels)`` per chunk of the file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_chunks(path, id_column, label_column)
    elif suffix in (".parquet", ".pq"):
        yield from _parquet_chunks(path, id_column, label_column)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_chunks(path, id_column, label_column)
    else:
        raise InvalidInputError(
            f"{path.name}: cannot read labels from a {suffix or 'suffix-less'} file; "
            f"use one of {', '.join(_SUFFIXES)}"
        )


def _missing(path: Path, columns: list[str], wanted: tuple[str, str]) -> None:
    absent = [name for name in wanted if name not in columns]
    if absent:
        raise InvalidInputError(
            f"{path.name} has no column {', '.join(map(repr, absent))}; its columns are "
            f"{columns[:20]} (name them with --id-column and --label-column)"
        )


def _csv_chunks(
    path: Path, id_column: str, label_column: str
) -> Iterator[tuple[int, list[Any], Any]]:
    import pandas as pd

    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{path.name} is not a readable CSV file: {err}") from err
    _missing(path, header, (id_column, label_column))
    first = 0
    try:
        with pd.read_csv(
            path,
            usecols=[id_column, label_column],
            dtype={id_column: str},
            keep_default_na=False,
            na_values={label_column: ["", "NA", "NaN", "nan", "null"]},
            chunksize=CHUNK_ROWS,
        ) as reader:
            for chunk in reader:
                if len(chunk):
                    yield first, chunk[id_column].tolist(), chunk[label_column].tolist()
                first += len(chunk)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{path.name}: unreadable CSV after row {first}: {err}") from err


def _parquet_chunks(
    path: Path, id_column: str, label_column: str
) -> Iterator[tuple[int, list[Any], Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise InvalidInputError(f"{path.name} is not a readable Parquet file: {err}") from err
    _missing(path, list(parquet.schema_arrow.names), (id_column, label_column))
    first = 0
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=[id_column, label_column]):
        yield first, batch.column(0).to_pylist(), batch.column(1).to_pylist()
        first += batch.num_rows


def _jsonl_chunks(
    path: Path, id_column: str, label_column: str
) -> Iterator[tuple[int, list[Any], Any]]:
    ids: list[Any] = []
    labels: list[Any] = []
    first = row = 0
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise InvalidInputError(
                    f"{path.name}, line {number}: not JSON ({err}); each line must be an "
                    f'object like {{"{id_column}": "...", "{label_column}": ...}}'
                ) from err
            if not isinstance(item, dict) or id_column not in item or label_column not in item:
                raise InvalidInputError(
                    f"{path.name}, line {number}: expected an object with {id_column!r} and "
                    f"{label_column!r}, got {line[:80]!r}"
                )
            ids.append(item[id_column])
            labels.append(item[label_column])
            row += 1
            if len(ids) == CHUNK_ROWS:
                yield first, ids, labels
                first, ids, labels = row, [], []
    if ids:
        yield first, ids, labels
