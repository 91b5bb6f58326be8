"""``loopml init``: set up a project folder for loopml.

Example:
    $ loopml init
    created  .loopml/                (home)
    created  .loopml/loopml.db       (metadata database at revision 0001_tracking)
    created  .loopml/artifacts/      (artifact store)
    created  loopml.toml             (settings, every line commented out)
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, show
from loopml.cli._state import get_state
from loopml.errors import ConflictError

__all__ = ["CONFIG_TEMPLATE", "init"]

CONFIG_TEMPLATE = """\
# loopml settings for this project.
# Precedence: command-line options > LOOPML_* environment variables > this file > defaults.
# Relative paths are relative to the folder loopml runs in.

[loopml]
# Where loopml keeps its data (env: LOOPML_HOME).
# home = ".loopml"

# The metadata database (env: LOOPML_DB_URL); default: SQLite in <home>/loopml.db.
# db_url = "postgresql+psycopg://user@host:5432/loopml"

# The artifact store (env: LOOPML_ARTIFACTS); default: <home>/artifacts.
# artifacts_url = "s3://bucket/prefix"

# How often buffered metrics are written to the database, in seconds.
# metrics_flush_s = 0.5

# Environments: the same pipelines and policies against separate stores. Select one with
# `loopml --env NAME ...` or LOOPML_ENV=NAME; its values override the ones above (LOOPML_*
# variables and command-line options still win). `loopml envs` lists them, and
# `loopml models copy NAME VERSION --from dev --to staging` copies a validated version.
#
# [env.dev]
# db_url = "sqlite:///.loopml-dev/loopml.db"
# artifacts_url = ".loopml-dev/artifacts"
#
# [env.staging]
# db_url = "postgresql+psycopg://ml@db-staging:5432/loopml"
# artifacts_url = "s3://ml-staging/artifacts"
#
# [env.prod]
# db_url = "postgresql+psycopg://ml@db-prod:5432/loopml"
# artifacts_url = "s3://ml-prod/artifacts"
"""


@dataclass(frozen=True)
class _Item:
    what: str
    location: str
    created: bool
    note: str = ""


def init(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", file_okay=False, help="The project folder (created if missing)."
        ),
    ] = Path("."),
    ci: Annotated[
        CiFlavour | None,
        typer.Option(
            "--ci",
            help="Also write a CI/CD workflow: .github/workflows/loopml.yml (github) or "
            ".gitlab-ci.yml (gitlab).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --ci: replace an existing workflow file.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Set up loopml in a project folder: .loopml/ (database and artifacts) and loopml.toml.

    Safe to run again: what exists is kept (the database is only migrated if it is
    behind). --home, --db-url and --artifacts given before `init` are used instead
    of DIR/.loopml. --ci writes a workflow that lints and tests the pipeline's code,
    validates the latest data, runs the pipeline on a sample, registers and evaluates
    its model in staging and, on the main branch, copies it to prod and promotes it
    (docs/ci.md); edit the variables at its top.

    Examples:

        loopml init
        loopml init my-project
        loopml --db-url postgresql+psycopg://ml@db:5432/loopml init
        loopml init --ci github
    """
    root = directory.expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    state = get_state(ctx)
    settings = state.settings(home=root / ".loopml")
    workflow = None if ci is None else _check_workflow(root, ci, force=force)
    items = [
        _ensure_folder("home", settings.home),
        _ensure_database(settings.db_url),
        _ensure_artifacts(settings.artifacts_url),
        _ensure_config(root / "loopml.toml"),
    ]
    if ci is not None and workflow is not None:
        items.append(_write_workflow(workflow, ci))
    if as_json:
        echo_json(
            {
                "home": str(settings.home),
                "db_url": settings.db_url,
                "artifacts_url": settings.artifacts_url,
                "items": [asdict(item) for item in items],
            }
        )
    else:
        _print_items(items)
    env_home = os.environ.get("LOOPML_HOME")
    if state.home is None and env_home and Path(env_home).absolute() != settings.home:
        typer.echo(
            f"note: LOOPML_HOME={env_home} is set and wins over loopml.toml; unset it to "
            f"use {settings.home}",
            err=True,
        )


class CiFlavour(StrEnum):
    """The CI systems ``--ci`` writes a workflow for."""

    github = "github"
    gitlab = "gitlab"


def _check_workflow(root: Path, flavour: CiFlavour, *, force: bool) -> Path:
    """Where the workflow goes; refuses (before anything is written) to replace one."""
    from loopml.cli._ci_templates import CI_FILES

    path = root / CI_FILES[flavour.value]
    if path.exists() and not force:
        raise ConflictError(
            f"{path} exists; loopml init --ci {flavour.value} does not replace it: compare it with "
            f"docs/ci.md, or pass --force to overwrite it",
            details={"path": str(path)},
        )
    return path


def _write_workflow(path: Path, flavour: CiFlavour) -> _Item:
    from loopml.cli._ci_templates import render

    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render("gitlab" if flavour is CiFlavour.gitlab else "github"))
    note = "replaced" if existed else "edit the variables at its top"
    return _Item(f"{flavour.value} CI/CD workflow", str(path), created=not existed, note=note)


def _ensure_folder(what: str, path: Path) -> _Item:
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    return _Item(what, f"{path}/", created=not existed)


def _ensure_database(db_url: str) -> _Item:
    from loopml.store import open_store, schema_status, upgrade

    store = open_store(db_url, migrate=False)
    status = schema_status(store)
    before = status.revision
    after = before if status.up_to_date else upgrade(store)
    note = f"at revision {after}" + (
        f", upgraded from {before}" if before and before != after else ""
    )
    return _Item(
        "metadata database",
        status.location or status.url,
        created=before is None,
        note=note,
    )


def _ensure_artifacts(url: str) -> _Item:
    from loopml.artifacts import blob_store_from_url
    from loopml.artifacts.local import LocalBlobStore

    blob_store = blob_store_from_url(url)
    if isinstance(blob_store, LocalBlobStore):
        return _ensure_folder("artifact store", blob_store.root)
    return _Item("artifact store", blob_store.url, created=False, note="remote; not checked")


def _ensure_config(path: Path) -> _Item:
    if path.exists():
        return _Item("settings", str(path), created=False)
    path.write_text(CONFIG_TEMPLATE)
    return _Item("settings", str(path), created=True, note="every line commented out")


def _print_items(items: list[_Item]) -> None:
    from rich.table import Table

    cwd = Path.cwd()
    grid = Table.grid(padding=(0, 2))
    for item in items:
        location = item.location
        with contextlib.suppress(ValueError):  # shorter paths below the working folder
            relative = str(Path(location).relative_to(cwd))
            location = relative + ("/" if location.endswith("/") else "")
        label = "created" if item.created else "exists"
        detail = item.what + (f", {item.note}" if item.note else "")
        grid.add_row(
            cell(label, "green" if item.created else "dim"), cell(location), cell(f"({detail})")
        )
    show(grid)
