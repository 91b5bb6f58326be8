"""``loopml envs``: the ``[env.NAME]`` profiles of ``loopml.toml`` and where each one points.

Example:
    $ loopml envs
      env       db_url                        artifacts_url
    * dev       sqlite:///.loopml-dev/…       .loopml-dev/artifacts
      staging   postgresql+psycopg://…        s3://ml-staging/artifacts
"""

from __future__ import annotations

from typing import Any

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, new_table, show
from loopml.cli._state import get_state

__all__ = ["envs"]


def envs(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the environments (profiles) of loopml.toml with their database and artifact store.

    Each profile is resolved the way `loopml --env NAME …` would resolve it, so a
    $LOOPML_DB_URL or --db-url that overrides the profiles shows here. The selected one
    (--env or $LOOPML_ENV) is marked with *. --json prints a list of {env, selected, home,
    db_url, artifacts_url, online_store_url}.

    Examples:

        loopml envs
        loopml --env staging envs --json
    """
    from loopml.config import environments

    state = get_state(ctx)
    selected = state.settings().env
    rows: list[dict[str, Any]] = []
    for name in environments():
        settings = state.settings(env=name)
        rows.append(
            {
                "env": name,
                "selected": name == selected,
                "home": str(settings.home),
                "db_url": settings.db_url,
                "artifacts_url": settings.artifacts_url,
                "online_store_url": settings.online_store_url,
            }
        )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        show(
            cell(
                "no environments in loopml.toml; add tables such as [env.dev] and "
                "[env.staging], each with its own db_url and artifacts_url (see `loopml init`)",
                "dim",
            )
        )
        return
    table = new_table("", "env", "db_url", "artifacts_url")
    for row in rows:
        table.add_row(
            cell("*" if row["selected"] else ""),
            cell(row["env"], "bold"),
            cell(row["db_url"]),
            cell(row["artifacts_url"]),
        )
    show(table)
