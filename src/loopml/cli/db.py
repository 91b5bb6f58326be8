"""``loopml db …``: bring the metadata database to the current schema, or see where it is.

Example:
    $ loopml db upgrade
    $ loopml --db-url postgresql+psycopg://ml@db:5432/loopml db current --json
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, show
from loopml.cli._state import get_state

if TYPE_CHECKING:
    from loopml.store import Store

__all__ = ["app", "show_current", "upgrade_db"]

app = typer.Typer(
    help="The metadata database: migrate it, see its schema revision.\n\n"
    "Example: `loopml db upgrade`",
    no_args_is_help=True,
)


@app.command("upgrade")
def upgrade_db(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Migrate the metadata database to the newest schema and print its revision.

    Safe to run again, and from several processes at once: a database already at
    the newest revision is left as it is.

    Examples:

        loopml db upgrade
        loopml --db-url postgresql+psycopg://ml@db:5432/loopml db upgrade --json
    """
    from loopml.store import schema_status, upgrade

    store = _open(ctx)
    status = schema_status(store)
    before, after = status.revision, upgrade(store)
    if as_json:
        echo_json({"url": status.url, "from": before, "revision": after})
        return
    if before == after:
        message = f"database {status.url} is already at revision {after}"
    else:
        message = f"database {status.url} upgraded from {before or 'empty'} to {after}"
    show(cell(message))


@app.command("current")
def show_current(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the schema revision the metadata database is at, and whether it is the newest.

    It only reads, never migrates (`loopml db upgrade` does) and exits 0 either way. --json prints
    {url, revision, head, up_to_date}; revision is null for an empty database.

    Examples:

        loopml db current
        loopml db current --json
    """
    from loopml.store import schema_status

    status = schema_status(_open(ctx))
    revision, head = status.revision, status.head
    if as_json:
        echo_json(
            {
                "url": status.url,
                "revision": revision,
                "head": head,
                "up_to_date": status.up_to_date,
            }
        )
        return
    if status.up_to_date:
        state = "(newest)"
    elif revision is None:
        state = "(empty; run `loopml db upgrade`)"
    else:
        state = f"(newest is {head}; run `loopml db upgrade`)"
    show(cell(f"{revision or 'none'} {state}"))


def _open(ctx: typer.Context) -> Store:
    from loopml.store import open_store

    # migrate=False: these commands report and migrate explicitly.
    return open_store(get_state(ctx).settings().db_url, migrate=False)
