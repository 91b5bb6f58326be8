"""``loopml gc``: free the storage of deleted runs.

Example:
    $ loopml gc --dry-run
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, format_size, show
from loopml.cli._state import get_state

__all__ = ["gc"]


def gc(
    ctx: typer.Context,
    grace_seconds: Annotated[
        int,
        typer.Option(
            "--grace-seconds",
            metavar="N",
            min=0,
            help="Keep blobs and temporary files written less than this many seconds ago "
            "(uploads in flight).",
        ),
    ] = 3600,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be deleted.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete artifact files that no live run references any more (those of deleted runs).

    Files are stored once by content, so a file is freed only when no remaining run
    uses the same bytes. Temporary files that killed writes left behind (`.tmp-*`) are
    deleted too. Blobs and temporary files younger than --grace-seconds are always kept.

    Examples:

        loopml gc --dry-run
        loopml gc --grace-seconds 0 --json
    """
    from loopml.tracking.run_artifacts import collect_garbage

    client = get_state(ctx).tracking_client()
    report = collect_garbage(
        client.store,
        client.run_artifacts.artifact_store,
        grace_seconds=grace_seconds,
        dry_run=dry_run,
    )
    if as_json:
        echo_json(
            {
                "dry_run": dry_run,
                "deleted": report.deleted,
                "freed_bytes": report.freed_bytes,
                "kept": report.kept,
                "digests": report.digests,
                "temp_files": report.temp_files,
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    freed = "freeing" if dry_run else "freed"
    show(
        cell(
            f"{verb} {report.deleted} blob(s) and {report.temp_files} temporary file(s), "
            f"{freed} {format_size(report.freed_bytes)}; kept {report.kept}"
        )
    )
