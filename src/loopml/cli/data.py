"""``loopml data …``: dataset versions and data validation.

Example:
    $ loopml data log iris data/iris.csv --description "Fisher's iris"
    $ loopml data show datasets:/iris@latest
    $ loopml data diff datasets:/iris/1 datasets:/iris/2
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._options import Limit, PageToken, echo_listing, fetch_listing, show_next_page
from loopml.cli._output import (
    JsonFlag,
    cell,
    echo_json,
    format_size,
    format_time,
    format_value,
    new_table,
    respond,
    show,
)
from loopml.cli._state import get_state
from loopml.clock import now_ms
from loopml.uris import dataset_uri

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from loopml.data.models import DatasetDiff, DatasetVersion
    from loopml.data.versions import DatasetClient

__all__ = ["app", "diff_versions", "get_version", "list_datasets", "log_version", "show_dataset"]

app = typer.Typer(
    help="Dataset versions (log, list, show, get, diff) and data validation.\n\n"
    "Example: `loopml data log iris data/iris.csv`",
    no_args_is_help=True,
)

_SHOWN_FILES = 50  # rows of a file list in a table; --json has them all
_FORMATS = ("parquet", "csv", "files")


def _client(ctx: typer.Context) -> DatasetClient:
    from loopml.data.versions import DatasetClient

    return DatasetClient(get_state(ctx).settings())


@app.command("list")
def list_datasets(
    ctx: typer.Context, as_json: JsonFlag = False, limit: Limit = None, page_token: PageToken = None
) -> None:
    """List datasets by name, with their number of versions and the latest one.

    Every dataset is shown unless --limit or --page-token asks for one page; then the next page's
    token is printed, and --json prints {items, next_page_token} instead of a list.

    Examples:

        loopml data list
        loopml data list --json | jq -r '.[].name'
        loopml data list --limit 50 --json | jq -r '.next_page_token'
    """
    client = _client(ctx)
    found, page = fetch_listing(
        limit,
        page_token,
        lambda size, token: client.page_datasets(limit=size, page_token=token),
        client.list_datasets,
    )
    if as_json:
        rows = [dataset.to_dict() for dataset in found]
        echo_listing(rows, page)
        return
    if not found:
        show(cell("no datasets yet; create one with `loopml data log NAME PATH`", "dim"))
        return
    table = new_table("name", "versions", "latest", "updated", "description")
    for dataset in found:
        latest = dataset.latest_version
        table.add_row(
            cell(dataset.name, "bold"),
            cell(dataset.version_count),
            cell(dataset_uri(dataset.name, latest) if latest else "-", "cyan"),
            cell(format_time(dataset.updated_at)),
            cell(dataset.description or ""),
        )
    show(table)
    show_next_page(page)


@app.command("show")
def show_dataset(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="URI_OR_NAME",
            help="A dataset name (lists its versions) or `datasets:/<name>/<version>`.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show a dataset's versions, or one version with its schema, profile and files.

    A bare name lists its versions; iris/3, iris@latest or datasets:/iris/3 shows that version.
    The table shows the first 50 files of a files version, --json all of them. An unknown dataset
    exits 1.

    Examples:

        loopml data show iris
        loopml data show datasets:/iris@latest
        loopml data show datasets:/images/3 --json
    """
    from loopml.data.versions import parse_target

    client = _client(ctx)
    name, number = parse_target(target)
    if number is None and not any(mark in target for mark in ":@/"):
        versions = client.list_versions(name)
        if as_json:
            echo_json({"name": name, "versions": [_summary(v) for v in versions]})
            return
        show(_versions_table(name, versions))
        return
    version = client.get(target)
    files = client.files(version.uri) if version.kind == "files" else []
    if as_json:
        data = version.to_dict()
        if version.kind == "files":
            data["files"] = [{"path": f.path, "size": f.size, "digest": f.digest} for f in files]
        echo_json(data)
        return
    show(*_version_details(version, [(f.path, f.size, f.digest) for f in files]))


@app.command("log")
def log_version(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The dataset (created if new).")],
    source: Annotated[
        Path,
        typer.Argument(metavar="SOURCE", help="A Parquet file, a CSV file or a folder."),
    ],
    description: Annotated[
        str | None,
        typer.Option("--description", "-d", metavar="TEXT", help="Describe the dataset."),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="parquet, csv or files (default: from the source). csv keeps a CSV file "
            "as it is; parquet converts it; files versions any file as it is.",
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", metavar="RUN_ID", help="Link the version to this run."),
    ] = None,
    produced: Annotated[
        bool,
        typer.Option("--produced", help="The run produced the data (default: consumed it)."),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            metavar="CODEC",
            help="The text encoding of a CSV file that is not UTF-8 (latin-1, cp1252); "
            "its text is stored as Parquet.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Version a file or folder as the next version of NAME (same content: same version).

    Files are hashed in parallel and only new content is stored; a folder that did not
    change since it was last logged is recognised without reading its files again.

    Examples:

        loopml data log iris data/iris.csv --description "Fisher's iris"
        loopml data log images data/images/ --run-id 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml data log sales exports/sales.csv --format parquet --json
        loopml data log people exports/people.csv --encoding latin-1
    """
    client = _client(ctx)
    started = now_ms()
    with _progress("hashing and storing", quiet=as_json) as progress:
        version = client.log(
            name,
            source,
            description=description,
            run_id=run_id,
            role="output" if produced else "input",
            format=format,
            progress=progress,
            encoding=encoding,
        )
    created = version.created_at >= started
    if as_json:
        echo_json({**_summary(version), "created": created})
        return
    what = _describe(version)
    if created:
        show(f"logged {version.uri}: {what}")
    else:
        show(f"unchanged: the content is already {version.uri} ({what})")


@app.command("get")
def get_version(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(metavar="URI", help="`datasets:/<name>/<version>`, `…@latest` or a name."),
    ],
    dest: Annotated[
        Path | None,
        typer.Option(
            "--dest",
            metavar="DIR",
            file_okay=False,
            help="Folder to write to (default: . for a table, `./<name>` for a folder).",
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format", metavar="FORMAT", help="parquet or csv, for a table (default: as stored)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a version to disk, verifying every byte; prints the path written.

    A table becomes `DIR/<name>.parquet` (or .csv); a folder's files land under DIR.

    Examples:

        loopml data get datasets:/iris/2
        loopml data get datasets:/iris@latest --format csv --dest out
        loopml data get datasets:/images/3 --dest data/images
    """
    client = _client(ctx)
    version = client.get(target)
    if dest is None:
        dest = Path(version.name) if version.kind == "files" else Path(".")
    with _progress("fetching", quiet=as_json) as progress:
        path = client.download(version.uri, dest, format=format, progress=progress)
    respond(
        {"uri": version.uri, "path": str(path), "kind": version.kind}, str(path), as_json=as_json
    )


@app.command("diff")
def diff_versions(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(metavar="URI_A", help="The older version.")],
    second: Annotated[str, typer.Argument(metavar="URI_B", help="The newer version.")],
    as_json: JsonFlag = False,
) -> None:
    """Compare two versions: rows, schema, files and column statistics.

    A bare name means its latest version. Nothing is downloaded: the comparison uses the
    schema, profile and file list each version recorded.

    Examples:

        loopml data diff datasets:/iris/1 datasets:/iris/2
        loopml data diff datasets:/images/3 images --json
    """
    diff = _client(ctx).diff(first, second)
    if as_json:
        echo_json(diff.to_dict())
        return
    show(*_diff_views(diff))


# -- rendering -------------------------------------------------------------------------


def _summary(version: DatasetVersion) -> dict[str, Any]:
    data = version.to_dict()
    data.pop("profile")
    return data


def _describe(version: DatasetVersion) -> str:
    if version.kind == "files":
        return f"{version.file_count} files, {format_size(version.byte_size)}"
    return f"{version.row_count} rows, {version.format}, {format_size(version.byte_size)}"


def _versions_table(name: str, versions: list[DatasetVersion]) -> Table:
    table = new_table(
        "version", "kind", "rows", "files", "size", "digest", "created", "by", "source",
        title=f"dataset {name}",
    )  # fmt: skip
    for v in versions:
        table.add_row(
            cell(v.version, "cyan"),
            cell(f"{v.kind} ({v.format})"),
            cell("-" if v.row_count is None else v.row_count),
            cell(v.file_count),
            cell(format_size(v.byte_size)),
            cell(v.digest[:12]),
            cell(format_time(v.created_at)),
            cell(v.created_by or "-"),
            cell(v.source or "-"),
        )
    return table


def _version_details(
    version: DatasetVersion, files: list[tuple[str, int, str]]
) -> list[RenderableType]:
    about = new_table("", "", title=version.uri)
    about.show_header = False
    for label, value in (
        ("digest", version.digest),
        ("kind", f"{version.kind} ({version.format})"),
        ("rows", "-" if version.row_count is None else version.row_count),
        ("files", version.file_count),
        ("size", format_size(version.byte_size)),
        ("source", version.source or "-"),
        ("run", version.run_id or "-"),
        ("created", f"{format_time(version.created_at)} by {version.created_by or '-'}"),
    ):
        about.add_row(cell(label, "bold"), cell(value))
    views: list[RenderableType] = [about]
    if version.schema is not None:
        views.append(_columns_table(version.schema, version.profile or {}))
    if files:
        views.append(_files_table(files))
    return views


def _columns_table(schema: dict[str, Any], profile: dict[str, Any]) -> Table:
    table = new_table("column", "type", "nulls", "distinct", "min", "mean", "max", "top")
    stats_by_column = profile.get("columns", {})
    for column in schema.get("columns", []):
        stats = stats_by_column.get(column["name"], {})
        top = stats.get("top") or []
        table.add_row(
            cell(column["name"], "bold"),
            cell(column["type"] + ("" if column.get("nullable", True) else " not null")),
            cell(f"{stats.get('null_fraction', 0.0):.1%}" if stats else "-"),
            cell(format_value(stats.get("distinct"))),
            cell(format_value(stats.get("min"))),
            cell(format_value(stats.get("mean"))),
            cell(format_value(stats.get("max"))),
            cell(f"{top[0]['value']} ({top[0]['count']})" if top else "-"),
        )
    return table


def _files_table(files: list[tuple[str, int, str]]) -> Table:
    table = new_table("path", "size", "sha256")
    table.columns[1].justify = "right"
    for path, size, digest in files[:_SHOWN_FILES]:
        table.add_row(cell(path), cell(format_size(size)), cell(digest[:12]))
    if len(files) > _SHOWN_FILES:
        table.caption = f"the first {_SHOWN_FILES} of {len(files)} files; --json lists all"
    return table


def _diff_views(diff: DatasetDiff) -> list[RenderableType]:
    if diff.identical:
        return [f"{diff.a} and {diff.b} have the same content"]
    views: list[RenderableType] = [f"{diff.a} -> {diff.b}"]
    if diff.row_delta is not None:
        views.append(f"rows: {diff.rows_a} -> {diff.rows_b} ({diff.row_delta:+d})")
    views.append(f"size: {format_size(diff.bytes_a)} -> {format_size(diff.bytes_b)}")
    changes = new_table("change", "name", "detail", title="schema and files")
    for label, names, style in (
        ("column added", diff.added_columns, "green"),
        ("column removed", diff.removed_columns, "red"),
        ("file added", diff.files_added, "green"),
        ("file removed", diff.files_removed, "red"),
        ("file changed", diff.files_changed, "yellow"),
    ):
        for name in names[:_SHOWN_FILES]:
            changes.add_row(cell(label, style), cell(name), cell(""))
        if len(names) > _SHOWN_FILES:
            changes.add_row(cell(label, style), cell(f"… {len(names) - _SHOWN_FILES} more"), "")
    for change in diff.type_changes:
        changes.add_row(
            cell("type changed", "yellow"),
            cell(change.column),
            cell(f"{change.before} -> {change.after}"),
        )
    if changes.row_count:
        views.append(changes)
    if diff.stat_changes:
        stats = new_table("column", "statistic", "before", "after", "delta", title="statistics")
        for s in diff.stat_changes:
            stats.add_row(
                cell(s.column),
                cell(s.statistic),
                cell(format_value(s.before)),
                cell(format_value(s.after)),
                cell("-" if s.delta is None else f"{s.delta:+.6g}"),
            )
        views.append(stats)
    return views


@contextlib.contextmanager
def _progress(label: str, *, quiet: bool) -> Iterator[Any]:
    """A byte progress bar on stderr (only on a terminal); yields the callback for it."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    bar = Progress(
        *progress_columns(label),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def progress_columns(label: str) -> list[Any]:
    """The byte progress bar's columns; sizes in the units of the result lines
    (:func:`format_size`: KiB, MiB), not Rich's decimal kB/MB."""
    from rich.progress import BarColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Bytes(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = "?" if task.total is None else format_size(int(task.total))
            return Text(f"{format_size(int(task.completed))}/{total}", "progress.download")

    class Speed(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            shown = "?" if speed is None else f"{format_size(int(speed))}/s"
            return Text(shown, "progress.data.speed")

    return [TextColumn(label), BarColumn(), Bytes(), Speed(), TimeRemainingColumn()]


from loopml.cli.data_validate import validate  # noqa: E402  (kept apart: own module)

app.command("validate")(validate)
