"""``loopml artifacts …``: list and download the files runs logged.

Example:
    $ loopml artifacts list runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ model
    $ loopml artifacts get runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model --dest ./out
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._output import (
    JsonFlag,
    cell,
    echo_json,
    format_size,
    new_table,
    show,
)
from loopml.cli._state import get_state
from loopml.cli._targets import run_target
from loopml.uris import run_uri

if TYPE_CHECKING:
    from loopml.tracking import ArtifactEntry, TrackingClient

__all__ = ["app", "get_artifact", "list_artifacts", "walk_artifacts"]

app = typer.Typer(
    help="Artifacts: the files runs logged.\n\nExample: `loopml artifacts list RUN_ID`",
    no_args_is_help=True,
)


@app.command("list")
def list_artifacts(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="RUN_URI_OR_ID", help="`runs:/<run_id>[/<path>]` or a run id.")
    ],
    path: Annotated[
        str | None, typer.Argument(metavar="PATH", help="A folder inside the run.")
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="List the files of sub-folders too.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the files and folders of a run's artifacts (one level, or all with -r).

    The folder is PATH or the end of the URI (runs:/RUN_ID/model); with -r only files are listed,
    every one below the folder. --json prints a list of {path, uri, is_dir, size, digest}.

    Examples:

        loopml artifacts list 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml artifacts list runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model --json
        loopml artifacts list 01J0ABCDEFGHJKMNPQRSTVWXYZ plots -r
    """
    run_id, folder = run_target(target, path)
    client = get_state(ctx).tracking_client()
    if recursive:
        entries = [e for e in walk_artifacts(client, run_id, folder) if not e.is_dir]
    else:
        entries = client.run_artifacts.list(run_id, folder)
    if as_json:
        echo_json(
            [
                {
                    "path": e.path,
                    "uri": run_uri(run_id, e.path),
                    "is_dir": e.is_dir,
                    "size": e.size,
                    "digest": e.digest,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        show(cell(f"no artifacts in {run_uri(run_id, folder)}", "dim"))
        return
    table = new_table("path", "size", "sha256")
    table.columns[1].justify = "right"
    for entry in entries:
        if entry.is_dir:
            table.add_row(cell(f"{entry.path}/", "bold blue"), cell("-"), cell(""))
        else:
            table.add_row(cell(entry.path), cell(format_size(entry.size)), cell(entry.digest or ""))
    show(table)


@app.command("get")
def get_artifact(
    ctx: typer.Context,
    uri: Annotated[
        str, typer.Argument(metavar="URI", help="`runs:/<run_id>/<path>` of a file or folder.")
    ],
    dest: Annotated[
        Path,
        typer.Option(
            "--dest", "-d", metavar="DIR", file_okay=False, help="Folder to download into."
        ),
    ] = Path("."),
    as_json: JsonFlag = False,
) -> None:
    """Download an artifact file or folder, verifying every byte; prints the local path.

    A file lands as DEST/<file name>, a folder as DEST/<folder name>/…; without a
    path the whole run's artifacts are written into DEST.

    Examples:

        loopml artifacts get runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model/model.json
        loopml artifacts get runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/plots --dest ./out
    """
    run_id, path = run_target(uri)
    client = get_state(ctx).tracking_client()
    folder = dest.expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    local = client.run_artifacts.download(run_id, path, folder)
    if as_json:
        echo_json({"uri": run_uri(run_id, path), "path": str(local)})
        return
    typer.echo(str(local))


def walk_artifacts(client: TrackingClient, run_id: str, path: str = "") -> Iterator[ArtifactEntry]:
    """Every folder and file below ``path`` of a run, each folder just before its content.

    Example:
        >>> [e.path for e in walk_artifacts(client, run_id)]  # doctest: +SKIP
        ['model', 'model/model.json', 'notes.txt']
    """
    for entry in client.run_artifacts.list(run_id, path):
        yield entry
        if entry.is_dir:
            yield from walk_artifacts(client, run_id, entry.path)
