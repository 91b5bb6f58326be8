"""``loopml models events|webhooks``: every registry change, in order, and who hears of it.

Each event has an id; ``--after ID`` resumes after it, so a script can poll for changes
and remember only the last id it saw. A webhook gets the same events as JSON POSTs.

Example:
    $ loopml models events --after 120 --json
    $ loopml models webhooks add https://ci.example.com/hooks/loopml --event model_version.promoted
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, respond, show
from loopml.cli._registry import open_registry

__all__ = ["add_webhook", "events", "list_webhooks", "remove_webhook", "webhooks_app"]

webhooks_app = typer.Typer(
    help="Webhooks: registry events delivered as signed JSON POSTs, in order, at least once."
    "\n\nExample: `loopml models webhooks add https://ci.example.com/hook --secret S`",
    no_args_is_help=True,
)

Kinds = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        "-e",
        metavar="KIND",
        help="Only this kind, e.g. model_version.promoted or alias.set (repeatable).",
    ),
]
_PAYLOAD_WIDTH = 80  # characters of an event's payload in the table; --json has it all


def events(
    ctx: typer.Context,
    after: Annotated[
        int, typer.Option("--after", metavar="CURSOR", min=0, help="Only events after this id.")
    ] = 0,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, max=1000, help="At most N events.")
    ] = 100,
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="NAME", help="Only this model's.")
    ] = None,
    kind: Kinds = None,
    as_json: JsonFlag = False,
) -> None:
    """List registry events oldest first; the last id is the cursor to pass as --after.

    At most --limit events (100 by default) are shown; the table's caption is the command for the
    next ones. --json prints a list of events, each with its id, kind, model, version and payload.

    Examples:

        loopml models events
        loopml models events --model churn --event model_version.promoted
        loopml models events --after 120 --limit 50 --json
    """
    with open_registry(ctx) as registry:
        found = registry.list_events(after=after, limit=limit, model=model, kinds=kind or None)
    if as_json:
        echo_json([event.to_dict() for event in found])
        return
    if not found:
        show(cell(f"no events after {after}", "dim"))
        return
    table = new_table("id", "when", "kind", "model", "version", "by", "payload")
    for event in found:
        payload = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
        if len(payload) > _PAYLOAD_WIDTH:
            payload = payload[: _PAYLOAD_WIDTH - 1] + "…"
        table.add_row(
            cell(event.id, "cyan"),
            cell(format_time(event.at)),
            cell(event.kind, "bold"),
            cell(event.model or "-"),
            cell("-" if event.version is None else event.version),
            cell(event.actor),
            cell(payload, "dim"),
        )
    table.caption = f"next: loopml models events --after {found[-1].id}"
    show(table)


@webhooks_app.command("add")
def add_webhook(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="An http:// or https:// URL.")],
    kind: Kinds = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="NAME", help="Only this model's.")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            metavar="TEXT",
            help="Sign each body: header X-Loopml-Signature: `sha256=<HMAC-SHA256 of the body>`.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Deliver registry events to URL as JSON POSTs, from now on.

    Deliveries happen in the background after each change, in order, retried with
    backoff; a failing hook never blocks or fails a change.

    Examples:

        loopml models webhooks add https://ci.example.com/hooks/loopml
        loopml models webhooks add https://chat.example.com/in -e model_version.promoted -m churn
        loopml models webhooks add https://ci.example.com/hooks/loopml --secret "$HOOK_SECRET"
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx) as registry:
        hook = registry.add_webhook(url, events=tuple(kind or ()), model=model, secret=secret)
    if as_json:
        echo_json(to_json(hook))
        return
    what = ", ".join(hook.events) or "every event"
    show(f"webhook {hook.id}: {what}{f' of {model}' if model else ''} -> {hook.url}")


@webhooks_app.command("list")
def list_webhooks(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List webhooks with their cursor and delivery health.

    The cursor is the id of the last event delivered; failures counts failed deliveries in a row,
    and the last errors are shown under the table. Secrets are never shown (--json: has_secret).

    Examples:

        loopml models webhooks list
        loopml models webhooks list --json
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx) as registry:
        hooks = registry.list_webhooks()
    from loopml.cli._views import show_webhooks

    add = "loopml models webhooks add URL"
    show_webhooks(hooks, to_json(hooks), as_json=as_json, scope="model", add=add)


@webhooks_app.command("remove")
def remove_webhook(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The webhook's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Stop delivering to a webhook and forget it.

    Examples:

        loopml models webhooks remove 01J0ABCDEFGHJKMNPQRSTVWXYZ
    """
    with open_registry(ctx) as registry:
        registry.remove_webhook(webhook_id)
    respond({"removed": webhook_id}, f"removed webhook {webhook_id}", as_json=as_json)
