"""``loopml pipeline register | schedules | unregister``: pipelines with schedules and triggers.

The automation controller fires what is registered here; these commands store,
list and remove registrations (see :mod:`loopml.pipelines.schedules`).

Example:
    $ loopml pipeline register flows/train.py:train --schedule "0 3 * * *" --timezone Europe/Berlin
    $ loopml pipeline register flows/train.py:train --on-dataset churn --on-webhook
    $ loopml pipeline schedules
    $ loopml pipeline unregister train --yes
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._options import ConfigFile, Params, Reason, Yes
from loopml.cli._output import (
    JsonFlag,
    cell,
    confirm,
    echo_json,
    format_time,
    new_table,
    respond,
    show,
)
from loopml.cli._state import get_state

if TYPE_CHECKING:
    from rich.table import Table

    from loopml.pipelines.schedules import Registration
    from loopml.pipelines.triggers import Trigger

__all__ = ["register", "schedules", "unregister"]

_SHOWN_FIRES = 5


def register(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET", help="The pipeline: package.module:name or path/to/file.py:name."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="Register it as NAME (default: its name)."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            metavar="CRON",
            help='Five-field cron: minute hour day-of-month month day-of-week, e.g. "0 3 * * *"'
            " (03:00 daily); or @hourly, @daily, @weekly, @monthly, @yearly.",
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", metavar="ZONE", help="The IANA zone of the schedule.")
    ] = "UTC",
    on_dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--on-dataset",
            metavar="DATASET",
            help="Run on each new version of this dataset (repeatable).",
        ),
    ] = None,
    watch_source: Annotated[
        bool,
        typer.Option(
            "--watch-source",
            help="With --on-dataset: the agent also logs a new version when the file or "
            "folder the latest version came from changes (and so fires).",
        ),
    ] = False,
    on_webhook: Annotated[
        bool,
        typer.Option(
            "--on-webhook", help="Run when its webhook is called (prints the token once)."
        ),
    ] = False,
    new_webhook_token: Annotated[
        bool,
        typer.Option(
            "--new-webhook-token",
            help="With --on-webhook: replace the token kept from an earlier registration.",
        ),
    ] = False,
    on_git_change: Annotated[
        bool,
        typer.Option(
            "--on-git-change", help="Run on a commit that changes the pipeline's source files."
        ),
    ] = False,
    git_paths: Annotated[
        list[Path] | None,
        typer.Option(
            "--git-path",
            metavar="PATH",
            help="Watch this file or folder instead of the source files (repeatable; "
            "implies --on-git-change).",
        ),
    ] = None,
    param: Params = None,
    config: ConfigFile = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            metavar="URL",
            help="Executor of its runs: local, process://4, dask://host:8786, ray.",
        ),
    ] = None,
    disable: Annotated[
        bool, typer.Option("--disable", help="Store it, but do not let it fire yet.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a pipeline to run on a cron schedule and/or on triggers.

    The pipeline is imported and traced with the parameters first, so a mistake shows
    now and not at 3 am. Registering the same name again updates it (its version goes
    up). The webhook token is printed only when it is made: keep it.

    Examples:

        loopml pipeline register flows/train.py:train --schedule "0 3 * * *" --timezone Europe/Paris
        loopml pipeline register flows.train:train --on-dataset churn --param depth=6
        loopml pipeline register flows/train.py:train --on-webhook --on-git-change --json
    """
    from loopml.pipelines import load_config, parse_param_pairs
    from loopml.pipelines.schedules import register_pipeline

    params = {**(load_config(config) if config else {}), **parse_param_pairs(param or [])}
    triggers = _triggers(
        on_dataset or [], on_webhook, new_webhook_token, on_git_change, git_paths, watch_source
    )
    registration = register_pipeline(
        target,
        name=name,
        schedule=schedule,
        timezone=timezone,
        triggers=triggers,
        params=params,
        executor=executor,
        enabled=not disable,
        settings=get_state(ctx).settings(),
    )
    fires = registration.next_fire_times(_SHOWN_FIRES)
    for warning in registration.warnings:
        typer.echo(f"{typer.style('warning:', fg='yellow', bold=True)} {warning}", err=True)
    if as_json:
        echo_json(
            {
                **registration.to_dict(),
                "next_fire_times": [t.isoformat() for t in fires],
                "webhook_token": registration.webhook_token,
                "changed": list(registration.changed),
                "warnings": list(registration.warnings),
            }
        )
        return
    show(_headline(registration), _details(registration, fires))
    if registration.webhook_token:
        show(
            cell("webhook token (shown only now; keep it secret):", "bold"),
            registration.webhook_token,
        )


def _triggers(
    datasets: list[str],
    webhook: bool,
    new_token: bool,
    git: bool,
    git_paths: list[Path] | None,
    watch_source: bool = False,
) -> list[Trigger]:
    from loopml.errors import InvalidInputError
    from loopml.pipelines.triggers import on_dataset, on_git_change
    from loopml.pipelines.triggers import on_webhook as webhook_trigger

    if new_token and not webhook:
        raise InvalidInputError("--new-webhook-token replaces a webhook's token; add --on-webhook")
    if watch_source and not datasets:
        raise InvalidInputError("--watch-source watches a dataset's source; add --on-dataset NAME")
    triggers: list[Trigger] = [on_dataset(name, watch_source=watch_source) for name in datasets]
    if webhook:
        triggers.append(webhook_trigger(new_token=new_token))
    if git or git_paths:
        triggers.append(on_git_change(git_paths or ()))
    return triggers


def _headline(registration: Registration) -> str:
    what = f"pipeline '{registration.name}' version {registration.version}"
    if registration.changed == ("created",):
        return f"registered {what}"
    if registration.changed:
        return f"updated {what} (changed: {', '.join(registration.changed)})"
    return f"{what} is already registered like this; nothing changed"


def _details(registration: Registration, fires: list[datetime]) -> Table:
    import json

    table = new_table("", "")
    table.show_header = False
    rows: list[tuple[str, Any]] = [
        ("entrypoint", registration.entrypoint),
        ("params", json.dumps(dict(registration.params)) if registration.params else "-"),
        ("executor", registration.executor or "default"),
        ("schedule", _schedule(registration)),
        ("triggers", "; ".join(t.describe() for t in registration.triggers) or "-"),
        ("enabled", "yes" if registration.enabled else "no"),
        ("source", (registration.source_digest or "-")[:12]),
        ("updated", f"{format_time(registration.updated_at)} by {registration.updated_by or '-'}"),
    ]
    label = "next fires" if registration.enabled else "fires once enabled"
    rows += [(label if i == 0 else "", format_time(t)) for i, t in enumerate(fires)]
    for label, value in rows:
        table.add_row(cell(label, "bold"), cell(value))
    return table


def _schedule(registration: Registration) -> str:
    if registration.schedule is None:
        return "-"
    return f"{registration.schedule} ({registration.timezone})"


def schedules(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List registered pipelines: schedule, triggers, enabled, and when each fires next.

    --json prints a list of registrations, each with next_fire_time (ISO 8601; null when the
    pipeline is disabled or has triggers only).

    Examples:

        loopml pipeline schedules
        loopml pipeline schedules --json | jq -r '.[] | select(.enabled) | .name'
    """
    from loopml.pipelines.schedules import list_registrations

    found = list_registrations(settings=get_state(ctx).settings())
    upcoming = {r.name: next(iter(r.next_fire_times(1)), None) for r in found if r.enabled}
    if as_json:
        echo_json([{**r.to_dict(), "next_fire_time": _iso(upcoming.get(r.name))} for r in found])
        return
    if not found:
        show(cell("no registered pipelines yet; add one with `loopml pipeline register`", "dim"))
        return
    table = new_table("name", "schedule", "triggers", "enabled", "next fire", "version")
    for r in found:
        table.add_row(
            cell(r.name, "bold"),
            cell(_schedule(r)),
            cell(", ".join(t.kind for t in r.triggers) or "-"),
            cell("yes" if r.enabled else "no", "" if r.enabled else "dim"),
            cell(format_time(upcoming.get(r.name)), "cyan"),
            cell(r.version),
        )
    show(table)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def unregister(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered pipeline.")],
    reason: Reason = None,
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove a registered pipeline: its schedule and triggers stop firing.

    Its past runs stay. Asks for confirmation on a terminal; without one it refuses
    unless --yes is given.

    Examples:

        loopml pipeline unregister nightly-train --yes
        loopml pipeline unregister nightly-train --reason "replaced by weekly" --yes
    """
    from loopml.pipelines.schedules import get_registration
    from loopml.pipelines.schedules import unregister as remove

    settings = get_state(ctx).settings()

    def question() -> str:
        found = get_registration(name, settings=settings)
        return f"Unregister pipeline '{found.name}' ({_schedule(found)})?"

    confirm(question, yes=yes, action=f"unregistering pipeline '{name}'")
    removed = remove(name, reason=reason, settings=settings)
    respond(
        {"unregistered": removed.to_dict(), "reason": reason},
        f"unregistered pipeline '{removed.name}' (version {removed.version}); its runs stay",
        as_json=as_json,
    )
