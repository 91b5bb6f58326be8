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
    from loopml.store import current_revision, upgrade

    store = _open(ctx)
    before = current_revision(store)
    after = upgrade(store)
    if as_json:
        echo_json({"url": _shown_url(store), "from": before, "revision": after})
        return
    if before == after:
        message = f"database {_shown_url(store)} is already at revision {after}"
    else:
        message = f"database {_shown_url(store)} upgraded from {before or 'empty'} to {after}"
    show(cell(message))


@app.command("current")
def show_current(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the schema revision the metadata database is at, and whether it is the newest.

    Examples:

        loopml db current
        loopml db current --json
    """
    from loopml.store import current_revision
    from loopml.store.schema import SCHEMA_HEAD

    store = _open(ctx)
    revision = current_revision(store)
    if as_json:
        echo_json(
            {
                "url": _shown_url(store),
                "revision": revision,
                "head": SCHEMA_HEAD,
                "up_to_date": revision == SCHEMA_HEAD,
            }
        )
        return
    if revision == SCHEMA_HEAD:
        state = "(newest)"
    elif revision is None:
        state = "(empty; run `loopml db upgrade`)"
    else:
        state = f"(newest is {SCHEMA_HEAD}; run `loopml db upgrade`)"
    show(cell(f"{revision or 'none'} {state}"))


def _open(ctx: typer.Context) -> Store:
    from loopml.store import open_store

    # migrate=False: these commands report and migrate explicitly.
    return open_store(get_state(ctx).settings().db_url, migrate=False)


def _shown_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)
