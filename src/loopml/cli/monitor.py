"""``loopml monitor …``: watch a deployment's predictions against its training data.

Example:
    $ loopml monitor create churn-api --window 1h --rule drift --rule "accuracy < 0.8 for 3"
    $ loopml monitor run churn-api
    $ loopml monitor status churn-api
    $ loopml monitor report churn-api --output report.html
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._options import PageToken, Reason, Yes
from loopml.cli._output import (
    JsonFlag,
    cell,
    echo_json,
    format_time,
    new_table,
    respond,
    show,
)
from loopml.cli._state import get_state
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from loopml.monitoring.models import Alert, MonitorWindow
    from loopml.monitoring.monitors import MonitorClient

__all__ = ["app"]

app = typer.Typer(
    help="Monitors: a deployment's predictions against its training data, window by window: "
    "drift, data quality, service health, realized performance, alerts.\n\n"
    "Example: `loopml monitor create churn-api --window 1h` then `loopml monitor run churn-api`",
    no_args_is_help=True,
)

Name = Annotated[
    str, typer.Argument(metavar="NAME", help="The monitor (by default named after its deployment).")
]
Rules = Annotated[
    list[str] | None,
    typer.Option(
        "--rule",
        metavar="RULE",
        help="An alert rule (repeat): drift, drift:FEATURE, prediction_drift, 'accuracy < 0.8', "
        "'f1 < baseline - 0.05', 'error_rate > 0.01', 'latency_p95 > 50', 'missing > 0.1'; "
        "then 'for N', 'clear N', 'clear at V', 'severity critical'.",
    ),
]


@contextlib.contextmanager
def _client(ctx: typer.Context) -> Iterator[MonitorClient]:
    from loopml.monitoring.monitors import MonitorClient

    yield MonitorClient(get_state(ctx).settings())


@app.command("create")
def create(
    ctx: typer.Context,
    deployment: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="The deployment watched, or datasets:/NAME: a table stream (each new version "
            "is a window).",
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="The monitor's name (default: DEPLOYMENT)."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            metavar="URI",
            help="datasets:/NAME/VERSION or a Parquet/CSV file (default: the served version's "
            "training data, found through lineage).",
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", metavar="SIZE", help="A duration (15m, 1h, 1d) or 'N rows'.")
    ] = "1h",
    feature: Annotated[
        list[str] | None,
        typer.Option(
            "--feature",
            metavar="COLUMN",
            help="A feature to watch (repeat; default: the model's inputs).",
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", metavar="COLUMN", help="The reference's label column.")
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="TASK", help="classification or regression.")
    ] = None,
    probability: Annotated[
        str | None,
        typer.Option(
            "--probability",
            metavar="OUTPUT",
            help="The output with the positive class's probability (binary classifiers): "
            "performance is also estimated without labels (CBPE).",
        ),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema",
            metavar="FILE",
            help="A data schema (TOML, see `loopml data validate`) each window's inputs are "
            "checked against: types, nulls, ranges, categories.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option("--method", metavar="METHOD", help="auto, ks, wasserstein, psi, js or chi2."),
    ] = "auto",
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            metavar="METHOD=VALUE",
            help="A fixed drift threshold (repeat), e.g. wasserstein=0.1; default: calibrated on "
            "the reference.",
        ),
    ] = None,
    correction: Annotated[
        str,
        typer.Option(
            "--correction", metavar="KIND", help="bh, bonferroni or none (p-value tests)."
        ),
    ] = "bh",
    share: Annotated[
        float,
        typer.Option(
            "--share", metavar="SHARE", help="Share of drifted features that is dataset drift."
        ),
    ] = 0.5,
    rule: Rules = None,
    no_predictions: Annotated[
        bool,
        typer.Option(
            "--no-predictions", help="Do not predict on the reference (no prediction drift)."
        ),
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a monitor of that name.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a monitor on a deployment (or a table stream); its reference is sketched once.

    Without rules it gets 'drift for 2 clear 2' and 'error_rate > 0.05 for 2 clear 2'.

    Examples:

        loopml monitor create churn-api
        loopml monitor create churn-api --reference datasets:/churn_train/3 --window '5000 rows'
        loopml monitor create churn-api --rule drift --rule 'accuracy < baseline - 0.05 for 3'
        loopml monitor create datasets:/scoring --reference datasets:/churn_train/3
    """
    thresholds = _pairs(threshold or (), "--threshold")
    with _client(ctx) as client:
        made = client.create(
            deployment,
            name=name,
            reference=reference,
            window=window,
            features=feature or (),
            target=target,
            task=task,
            probability=probability,
            schema=schema,
            method=method,
            thresholds=thresholds,
            correction=None if correction == "none" else correction,
            share_threshold=share,
            rules=rule,
            predict_reference=not no_predictions,
            replace_existing=replace,
        )
        notes = client.references(made).notes
    if as_json:
        echo_json({**made.to_dict(), "notes": list(notes)})
        return
    show(
        cell(
            f"created monitor {made.name} on {made.deployment} (reference {made.reference}, "
            f"{len(made.config.features)} features, window {made.config.window})",
            "green",
        )
    )
    for note in notes:
        show(cell(note, "yellow"))


@app.command("list")
def list_monitors(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most N.")
    ] = 100,
    page_token: PageToken = None,
    as_json: JsonFlag = False,
) -> None:
    """List monitors: deployment, reference, window, rules.

    Examples:

        loopml monitor list --json
    """
    with _client(ctx) as client:
        page = client.list_monitors(limit=limit, page_token=page_token)
    if as_json:
        echo_json(
            {"monitors": [m.to_dict() for m in page.items], "next_page_token": page.next_page_token}
        )
        return
    if not page.items:
        show(cell("no monitors; create one with `loopml monitor create DEPLOYMENT`", "dim"))
        return
    table = new_table("name", "deployment", "reference", "model", "window", "rules")
    for monitor in page.items:
        table.add_row(
            cell(monitor.name, "cyan"),
            cell(monitor.deployment or "-"),
            cell(monitor.reference),
            cell(f"{monitor.model} v{monitor.version}" if monitor.model else "-"),
            cell(monitor.config.window),
            cell(len(monitor.config.rules)),
        )
    if page.next_page_token:
        table.caption = f"more: --page-token {page.next_page_token}"
    show(table)


@app.command("run")
def run(
    ctx: typer.Context,
    name: Name,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="Compute windows ending by TIME (default: now)."
        ),
    ] = None,
    max_windows: Annotated[
        int, typer.Option("--max-windows", min=1, help="At most N windows (the latest).")
    ] = 500,
    as_json: JsonFlag = False,
) -> None:
    """Compute the windows that are due, judge the alert rules, fire or resolve alerts.

    Labels that arrived since for recent windows update their performance first.

    Examples:

        loopml monitor run churn-api
        loopml monitor run churn-api --until 2026-12-07T12:00 --json
    """
    with _client(ctx) as client:
        made = client.run(name, until=until, max_windows=max_windows)
        firing = client.alerts(name, state="firing", limit=1000).items
    if as_json:
        echo_json({"windows": [w.summary() for w in made], "firing": [a.to_dict() for a in firing]})
        return
    if not made:
        show(cell(f"no window of {name} is due yet", "dim"))
    else:
        show(_windows_table(made))
    _show_alerts(firing, "firing alerts")


@app.command("status")
def status(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """The monitor at a glance: version, last window, drifted features, performance, alerts.

    Examples:

        loopml monitor status churn-api --json
    """
    with _client(ctx) as client:
        summary = client.status(name)
    if as_json:
        echo_json(summary)
        return
    last = summary["last_window"]
    table = new_table("", "")
    table.show_header = False
    table.add_row(cell("monitor", "bold"), cell(f"{summary['monitor']} on {summary['deployment']}"))
    table.add_row(cell("model", "bold"), cell(f"{summary['model']} v{summary['version']}"))
    table.add_row(cell("reference", "bold"), cell(summary["reference"]))
    if last is None:
        table.add_row(
            cell("last window", "bold"), cell("none yet: run `loopml monitor run NAME`", "dim")
        )
    else:
        span = f"{format_time(last['start_ms'])} - {format_time(last['end_ms'])}"
        table.add_row(
            cell("last window", "bold"), cell(f"#{last['id']} {span}, {last['rows']} rows")
        )
        drifted = ", ".join(last["drifted_features"]) or "none"
        share = "-" if last["drift_share"] is None else f"{last['drift_share']:.0%}"
        table.add_row(
            cell("drift", "bold"),
            cell(
                f"{share} of features drifted: {drifted}", "red" if last["dataset_drifted"] else ""
            ),
        )
        metrics = _figures(last["performance"], limit=4)
        coverage = last["label_coverage"]
        labels = "no labels" if coverage is None else f"labels on {coverage:.0%} of requests"
        table.add_row(cell("performance", "bold"), cell(f"{metrics or '-'} ({labels})"))
        if last.get("estimated_performance"):
            estimate = _figures(last["estimated_performance"], limit=4)
            table.add_row(cell("estimated", "bold"), cell(f"{estimate} (without labels: CBPE)"))
        health = last["health"] or {}
        rate = health.get("error_rate")
        p95 = (health.get("latency_ms") or {}).get("p95")
        table.add_row(
            cell("health", "bold"),
            cell(
                f"{health.get('requests', 0)} requests, error rate "
                f"{'-' if rate is None else f'{rate:.2%}'}, p95 {_short(p95)} ms"
            ),
        )
    firing = summary["firing"]
    table.add_row(
        cell("alerts", "bold"),
        cell(", ".join(a["rule"] for a in firing) or "none firing", "red" if firing else "green"),
    )
    show(table)


@app.command("windows")
def windows(
    ctx: typer.Context,
    name: Name,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="TIME", help="Windows ending after TIME (1d, ISO)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most N.")] = 50,
    page_token: PageToken = None,
    as_json: JsonFlag = False,
) -> None:
    """List a monitor's windows, newest first (--json: with every result).

    Examples:

        loopml monitor windows churn-api --since 1d
    """
    with _client(ctx) as client:
        page = client.windows(name, since=since, limit=limit, page_token=page_token)
    if as_json:
        echo_json(
            {"windows": [w.to_dict() for w in page.items], "next_page_token": page.next_page_token}
        )
        return
    if not page.items:
        show(cell(f"no windows yet; compute them with `loopml monitor run {name}`", "dim"))
        return
    table = _windows_table(page.items)
    if page.next_page_token:
        table.caption = f"more: --page-token {page.next_page_token}"
    show(table)


@app.command("alerts")
def alerts(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="One monitor's alerts (default: all).")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", metavar="STATE", help="firing or resolved.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most N.")
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List alerts, newest first.

    --json prints {alerts, next_page_token}, each alert with its evidence.

    Examples:

        loopml monitor alerts --state firing
        loopml monitor alerts churn-api --json
    """
    with _client(ctx) as client:
        page = client.alerts(name, state=state, limit=limit)
    if as_json:
        echo_json(
            {"alerts": [a.to_dict() for a in page.items], "next_page_token": page.next_page_token}
        )
        return
    if not page.items:
        show(cell("no alerts", "dim"))
        return
    _show_alerts(page.items, None)


@app.command("ack")
def ack(
    ctx: typer.Context,
    alert_id: Annotated[
        int, typer.Argument(metavar="ALERT", help="The alert's id (see `loopml monitor alerts`).")
    ],
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Acknowledge an alert: someone is on it (it stays firing until its rule clears).

    Examples:

        loopml monitor ack 12 --reason "retraining started"
    """
    with _client(ctx) as client:
        acked = client.ack(alert_id, reason=reason)
    if as_json:
        echo_json(acked.to_dict())
        return
    show(
        cell(
            f"acknowledged alert {acked.id} ({acked.monitor}: {acked.rule}, {acked.state})", "green"
        )
    )


@app.command("update")
def update_monitor(
    ctx: typer.Context,
    name: Name,
    rule: Rules = None,
    window: Annotated[
        str | None, typer.Option("--window", metavar="SIZE", help="A new window size.")
    ] = None,
    share: Annotated[
        float | None, typer.Option("--share", metavar="SHARE", help="A new dataset drift share.")
    ] = None,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a monitor's rules (--rule replaces them all), window or drift share.

    Examples:

        loopml monitor update churn-api --rule drift --rule 'error_rate > 0.02 for 3'
    """
    with _client(ctx) as client:
        changed = client.update(
            name, rules=rule, window=window, share_threshold=share, reason=reason
        )
    respond(
        changed.to_dict(),
        cell(f"updated monitor {changed.name} (revision {changed.revision})", "green"),
        as_json=as_json,
    )


@app.command("delete")
def delete_monitor(
    ctx: typer.Context,
    name: Name,
    yes: Yes = False,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete a monitor with its windows and alerts (the audit log and events stay).

    Examples:

        loopml monitor delete churn-api --yes
    """
    from loopml.cli._output import confirm

    confirm(f"delete monitor {name} with its windows and alerts?", yes=yes, action="delete")
    with _client(ctx) as client:
        gone = client.delete(name, reason=reason)
    respond(gone.to_dict(), cell(f"deleted monitor {gone.name}", "green"), as_json=as_json)


@app.command("report")
def report(
    ctx: typer.Context,
    name: Name,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the HTML.")
    ] = Path("monitor-report.html"),
    window: Annotated[
        int | None,
        typer.Option(
            "--window", metavar="ID", help="The window shown in detail (default: the latest)."
        ),
    ] = None,
    last: Annotated[
        int, typer.Option("--last", min=1, max=10_000, help="Windows drawn over time.")
    ] = 200,
    as_json: JsonFlag = False,
) -> None:
    """Write a self-contained HTML report: distributions, drift and performance over time,
    alert history. It opens offline.

    Examples:

        loopml monitor report churn-api -o report.html
    """
    from loopml.monitoring.report import render_report

    with _client(ctx) as client:
        monitor = client.get(name)
        shown = client.windows(name, limit=last).items
        detail = client.window(window) if window is not None else None
        if detail is not None and detail.monitor != name:
            raise InvalidInputError(
                f"window {window} belongs to monitor {detail.monitor!r}, not {name!r}"
            )
        history = client.alerts(name, limit=1000).items
    page = render_report(monitor, list(reversed(shown)), history, window=detail)
    output.write_text(page, encoding="utf-8")
    respond(
        {"path": str(output), "windows": len(shown), "alerts": len(history)},
        cell(f"wrote {output} ({len(shown)} windows, {len(history)} alerts)", "green"),
        as_json=as_json,
    )


@app.command("metrics")
def metrics(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write here (node_exporter's textfile collector) instead of stdout.",
        ),
    ] = None,
) -> None:
    """Print every monitor's latest figures and alert states as Prometheus gauges.

    Examples:

        loopml monitor metrics -o /var/lib/node_exporter/loopml.prom
    """
    with _client(ctx) as client:
        text = client.gauges()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _pairs(items: Any, flag: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        try:
            found[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InvalidInputError(f"{flag} {item!r} is not METHOD=VALUE, e.g. wasserstein=0.1")
    return found


def _windows_table(items: list[MonitorWindow]) -> Any:
    table = new_table(
        "id", "start", "rows", "drift share", "drifted", "performance", "labels", "breached"
    )
    for window in items:
        summary = window.summary()
        share = "-" if window.drift_share is None else f"{window.drift_share:.0%}"
        coverage = summary["label_coverage"]
        breached = [n for n, v in summary["rules"].items() if v.get("breached")]
        table.add_row(
            cell(window.id),
            cell(format_time(window.start_ms)),
            cell(window.rows),
            cell(share, "red" if window.dataset_drifted else ""),
            cell(_names(window.drifted_features, 3)),
            cell(_figures(summary["performance"], limit=2)),
            cell("-" if coverage is None else f"{coverage:.0%}"),
            cell(_names(breached, 2), "yellow" if breached else ""),
        )
    return table


def _show_alerts(items: list[Alert], title: str | None) -> None:
    if not items:
        return
    table = new_table(
        "id", "monitor", "rule", "severity", "state", "opened", "resolved", "acked", title=title
    )
    for alert in items:
        table.add_row(
            cell(alert.id),
            cell(alert.monitor),
            cell(alert.rule),
            cell(alert.severity, "red" if alert.severity == "critical" else "yellow"),
            cell(alert.state, "red" if alert.state == "firing" else "green"),
            cell(format_time(alert.opened_at)),
            cell(format_time(alert.resolved_at)),
            cell(alert.acked_by or "-"),
        )
    show(table)


webhooks_app = typer.Typer(
    help="Webhooks: monitoring events (alerts firing, resolved, acknowledged) POSTed to a "
    "URL, signed, retried, in order.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("add")
def add_webhook(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="Where to POST (http or https).")],
    monitor: Annotated[
        str | None, typer.Option("--monitor", metavar="NAME", help="Only this monitor's events.")
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", metavar="KIND", help="An event kind (repeat; default: all)."),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret", metavar="TEXT", help="Signs each body (X-Loopml-Signature: sha256=…)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Deliver monitoring events to URL from now on (alert.firing, alert.resolved, …).

    Examples:

        loopml monitor webhooks add https://hooks.example.com/loopml --event alert.firing
    """
    with _client(ctx) as client:
        hook = client.add_webhook(url, event or (), monitor, secret)
    respond(
        dataclasses.asdict(hook),
        cell(f"added webhook {hook.id} -> {hook.url}", "green"),
        as_json=as_json,
    )


@webhooks_app.command("list")
def list_webhooks(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List monitoring webhooks with their cursor, failures and last error.

    Examples:

        loopml monitor webhooks list --json
    """
    from loopml.cli._views import show_webhooks

    with _client(ctx) as client:
        hooks = client.list_webhooks()
    data = {"webhooks": [dataclasses.asdict(hook) for hook in hooks]}
    add = "loopml monitor webhooks add URL"
    show_webhooks(hooks, data, as_json=as_json, scope="monitor", add=add)


@webhooks_app.command("remove")
def remove_webhook(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The webhook's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Stop delivering to a webhook.

    Examples:

        loopml monitor webhooks remove 01JABC...
    """
    with _client(ctx) as client:
        hook = client.remove_webhook(webhook_id)
    respond(dataclasses.asdict(hook), cell(f"removed webhook {hook.id}", "green"), as_json=as_json)


@app.command("events")
def events(
    ctx: typer.Context,
    after: Annotated[
        int, typer.Option("--after", min=0, metavar="ID", help="Events after this cursor.")
    ] = 0,
    monitor: Annotated[
        str | None, typer.Option("--monitor", metavar="NAME", help="Only this monitor's.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List monitoring events after a cursor, oldest first (what webhooks and the
    automation controller consume).

    Examples:

        loopml monitor events --after 42 --json
    """
    with _client(ctx) as client:
        found = client.events(after, limit=limit, monitor=monitor)
    if as_json:
        echo_json({"events": [e.to_dict() for e in found],
                   "cursor": found[-1].id if found else after})  # fmt: skip
        return
    if not found:
        show(cell(f"no events after {after}", "dim"))
        return
    table = new_table("id", "at", "kind", "monitor", "by")
    for event in found:
        table.add_row(cell(event.id), cell(format_time(event.at)), cell(event.kind),
                      cell(event.monitor), cell(event.actor))  # fmt: skip
    show(table)


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _figures(metrics: dict[str, float], *, limit: int) -> str:
    """``accuracy 0.81, f1 0.79`` for a table cell: the first ``limit`` metrics, 3 digits."""
    shown = [f"{name} {value:.3g}" for name, value in list(metrics.items())[:limit]]
    return ", ".join(shown) or "-"


def _names(names: tuple[str, ...] | list[str], limit: int) -> str:
    """The first ``limit`` names, then how many more."""
    if not names:
        return "-"
    more = f" +{len(names) - limit}" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
