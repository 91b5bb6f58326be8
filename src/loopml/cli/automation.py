"""The closed loop from the command line: ``loopml agent``, ``trigger``, ``status``,
``plans`` and ``automation`` (the policies).

Example:
    $ loopml automation set churn --pipeline retrain-churn --deployment churn-api \\
        --evaluate-on datasets:/churn_holdout@latest --target churned --canary 20
    $ loopml agent --once
    $ loopml status churn
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._options import Reason
from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, respond, show
from loopml.cli._state import get_state
from loopml.errors import InvalidInputError
from loopml.uris import model_uri

if TYPE_CHECKING:
    from loopml.automation import AutomationClient, AutomationPolicy, PassReport, Plan

__all__ = ["agent", "app", "plans_app", "status", "trigger"]

app = typer.Typer(
    help="Automation policies: what the agent may do for a model on its own (retrain on "
    "which triggers, evaluate on what, canary share and duration, rollback criteria, "
    "cool-down, daily budget).\n\n"
    "Example: `loopml automation set churn --pipeline retrain-churn --deployment churn-api`",
    no_args_is_help=True,
)
plans_app = typer.Typer(
    help="Rollout plans: what each trigger started (train -> evaluate -> approve -> canary "
    "-> promote or roll back) and how far it got.\n\nExample: `loopml plans list --model churn`",
    no_args_is_help=True,
)

Model = Annotated[str, typer.Argument(metavar="MODEL", help="The registered model.")]
PlanId = Annotated[int, typer.Argument(metavar="PLAN", help="The plan's id.", min=1)]


def _client(ctx: typer.Context) -> AutomationClient:
    from loopml.automation import AutomationClient

    return AutomationClient(get_state(ctx).settings())


# -- policies ---------------------------------------------------------------------------


@app.command("set")
def set_policy(
    ctx: typer.Context,
    model: Model,
    pipeline: Annotated[
        str,
        typer.Option(
            "--pipeline",
            metavar="NAME",
            help="The registered pipeline that trains the model (`loopml pipeline register`).",
        ),
    ],
    deployment: Annotated[
        str | None,
        typer.Option(
            "--deployment",
            metavar="NAME",
            help="The deployment the canary runs on (default: none; promote without a canary).",
        ),
    ] = None,
    retrain_on: Annotated[
        list[str] | None,
        typer.Option(
            "--retrain-on",
            metavar="KIND",
            help="A trigger that starts a retrain (repeat): schedule, dataset, git, webhook, "
            "manual, drift, performance (default: all of them).",
        ),
    ] = None,
    evaluate_on: Annotated[
        str | None,
        typer.Option(
            "--evaluate-on",
            metavar="URI",
            help="The data each new version is evaluated on against the champion "
            "(datasets:/NAME@latest); default: the pipeline evaluates it itself.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", metavar="COLUMN", help="The label column of --evaluate-on."),
    ] = None,
    alias: Annotated[
        str, typer.Option("--alias", metavar="ALIAS", help="The alias a promotion moves.")
    ] = "production",
    canary: Annotated[
        int,
        typer.Option(
            "--canary", metavar="PERCENT", min=0, max=99, help="The canary's share (0: none)."
        ),
    ] = 10,
    canary_for: Annotated[
        str,
        typer.Option("--canary-for", metavar="DURATION", help="How long the canary is watched."),
    ] = "10m",
    min_rows: Annotated[
        int, typer.Option("--min-rows", metavar="N", min=1, help="Canary requests needed.")
    ] = 50,
    max_error_rate: Annotated[
        float,
        typer.Option("--max-error-rate", metavar="SHARE", help="Failed share that rolls back."),
    ] = 0.05,
    max_latency_ratio: Annotated[
        float,
        typer.Option(
            "--max-latency-ratio",
            metavar="X",
            help="p95 latency over the champion's that rolls back.",
        ),
    ] = 3.0,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            metavar="NAME",
            help="The realized metric compared once labels arrive (default: accuracy, or "
            "rmse for regression).",
        ),
    ] = None,
    max_metric_drop: Annotated[
        float,
        typer.Option(
            "--max-metric-drop", metavar="X", help="How much worse than the champion it may be."
        ),
    ] = 0.05,
    min_labels: Annotated[
        int, typer.Option("--min-labels", metavar="N", min=1, help="Labelled rows to compare.")
    ] = 30,
    rollback_on_drift: Annotated[
        bool,
        typer.Option(
            "--rollback-on-drift/--no-rollback-on-drift",
            help="Roll back a canary whose live inputs drifted from its own training data.",
        ),
    ] = True,
    cooldown: Annotated[
        str,
        typer.Option(
            "--cooldown", metavar="DURATION", help="Least time between automatic retrains."
        ),
    ] = "1h",
    max_retrains_per_day: Annotated[
        int,
        typer.Option(
            "--max-retrains-per-day", metavar="N", min=0, help="Automatic retrains a day."
        ),
    ] = 4,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Set MODEL's automation policy (it replaces the one it had).

    Examples:

        loopml automation set churn --pipeline retrain-churn --deployment churn-api --canary 20

        loopml automation set churn --pipeline retrain-churn --retrain-on drift --retrain-on manual
    """
    from loopml.automation import TRIGGER_KINDS, AutomationPolicy

    policy = AutomationPolicy(
        pipeline=pipeline, deployment=deployment,
        retrain_on=tuple(retrain_on) if retrain_on else TRIGGER_KINDS,
        evaluate_on=evaluate_on, target=target, alias=alias, canary_share=canary,
        canary_for=canary_for, min_rows=min_rows, max_error_rate=max_error_rate,
        max_latency_ratio=max_latency_ratio, metric=metric, max_metric_drop=max_metric_drop,
        min_labels=min_labels, rollback_on_drift=rollback_on_drift, cooldown=cooldown,
        max_retrains_per_day=max_retrains_per_day,
    )  # fmt: skip
    stored = _client(ctx).set_policy(model, policy, reason=reason)
    respond({"model": model, **stored.to_dict()}, _policy_table(model, stored), as_json=as_json)


@app.command("show")
def show_policy(ctx: typer.Context, model: Model, as_json: JsonFlag = False) -> None:
    """MODEL's automation policy.

    Examples:

        loopml automation show churn --json
    """
    policy = _client(ctx).get_policy(model)
    respond({"model": model, **policy.to_dict()}, _policy_table(model, policy), as_json=as_json)


@app.command("list")
def list_policies(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every model with an automation policy.

    Examples:

        loopml automation list
    """
    found = _client(ctx).list_policies()
    table = new_table("model", "pipeline", "deployment", "retrain on", "canary", "cool-down")
    for model, policy in found:
        table.add_row(
            cell(model, "bold"), cell(policy.pipeline), cell(policy.deployment or "-"),
            cell(", ".join(policy.retrain_on)),
            cell(f"{policy.canary_share}% for {policy.canary_for}" if policy.canary_share else "-"),
            cell(policy.cooldown),
        )  # fmt: skip
    data = [{"model": m, **p.to_dict()} for m, p in found]
    respond(data, table if found else "no automation policies", as_json=as_json)


@app.command("remove")
def remove_policy(
    ctx: typer.Context, model: Model, reason: Reason = None, as_json: JsonFlag = False
) -> None:
    """Forget MODEL's automation policy: the agent stops retraining it.

    Examples:

        loopml automation remove churn --reason "moving to a new pipeline"
    """
    removed = _client(ctx).remove_policy(model, reason=reason)
    respond(
        {"model": model, **removed.to_dict()}, f"removed the policy of {model}", as_json=as_json
    )


def _policy_table(model: str, policy: AutomationPolicy) -> Any:
    table = new_table("", "")
    table.show_header = False
    rows = [
        ("model", model),
        ("pipeline", policy.pipeline),
        ("retrain on", ", ".join(policy.retrain_on)),
        ("evaluate on", f"{policy.evaluate_on} (target {policy.target})" if policy.evaluate_on
         else "the pipeline's own evaluation"),
        ("deployment", policy.deployment or "-"),
        ("canary", f"{policy.canary_share}% for {policy.canary_for}, at least {policy.min_rows} "
         "requests" if policy.canary_share and policy.deployment else "none"),
        ("rolls back on", f"errors > {policy.max_error_rate:.1%}, p95 > "
         f"{policy.max_latency_ratio:g}x the champion's, {policy.metric or 'accuracy/rmse'} "
         f"worse by > {policy.max_metric_drop:g}"),
        ("promotes", f"@{policy.alias}"),
        ("limits", f"cool-down {policy.cooldown}, at most {policy.max_retrains_per_day} a day"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(cell(name, "bold"), cell(value))
    return table


# -- the agent --------------------------------------------------------------------------


def agent(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run one reconciliation pass and exit (cron, CI).")
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", metavar="SECONDS", min=0.1, help="Seconds between passes."),
    ] = 30.0,
    lease_ttl: Annotated[
        float,
        typer.Option(
            "--lease-ttl",
            metavar="SECONDS",
            min=1.0,
            help="How long the lease lasts without a renewal (another agent takes over after).",
        ),
    ] = 60.0,
    holder: Annotated[
        str | None,
        typer.Option("--holder", metavar="NAME", help="Who this agent is (default host:pid)."),
    ] = None,
    no_monitors: Annotated[
        bool, typer.Option("--no-monitors", help="Do not compute monitor windows in each pass.")
    ] = False,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Also serve webhook calls: POST /hooks/pipelines/NAME with the pipeline's "
            "token (Authorization: Bearer TOKEN), e.g. 127.0.0.1:8787.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the automation agent: fire pipelines on schedules, data, code changes, requests
    and alerts, and move rollout plans along.

    Each pass takes the store's lease (two agents never both act), computes the monitors'
    due windows, starts a plan for each trigger (exactly once) and advances every plan in
    progress. Without --once it runs until Ctrl-C, then gives the lease back.

    Examples:

        loopml agent --once --json

        loopml agent --interval 10

        loopml agent --listen 127.0.0.1:8787
    """
    from loopml.automation import Agent

    worker = Agent(
        get_state(ctx).settings(),
        holder=holder,
        lease_ttl_ms=int(lease_ttl * 1000),
        run_monitors=not no_monitors,
    )
    if once and listen:
        raise InvalidInputError("--listen serves webhooks while the agent runs; drop --once")
    if once:
        try:
            report = worker.run_once()
        finally:
            worker.release()  # a one-off pass does not keep others waiting for the TTL
        respond(report.to_dict(), _pass_text(report), as_json=as_json)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_pass(report: PassReport) -> None:
        if as_json:
            sys.stdout.write(_json_line(report.to_dict()) + "\n")
            sys.stdout.flush()
        elif report.created or report.advanced or report.errors or not report.acted:
            show(_pass_text(report))

    listener = None
    if listen:
        from loopml.automation.hooks import WebhookListener

        host, port = _address(listen)
        listener = WebhookListener(worker.settings, host, port).start()
    if not as_json:
        show(f"agent {worker.holder}: a pass every {interval:g}s; Ctrl-C stops it")
        if listener is not None:
            show(f"webhooks on {listener.url}/hooks/pipelines/NAME")
    try:
        worker.run(interval, stop=stop, on_pass=on_pass)
    except KeyboardInterrupt:
        worker.release()
    finally:
        if listener is not None:
            listener.stop()


def _address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``) as a pair; loopback when no host is given."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInputError(f"--listen {text!r} is not HOST:PORT; e.g. 127.0.0.1:8787")
    return host or "127.0.0.1", int(port)


def _json_line(data: dict[str, Any]) -> str:
    import json

    from loopml.cli._output import to_jsonable

    return json.dumps(to_jsonable(data), ensure_ascii=False)


def _pass_text(report: PassReport) -> str:
    if not report.acted:
        return f"another agent ({report.holder}) holds the lease; this one stands by"
    parts = [f"pass in {report.seconds:.2f}s: {report.windows} monitor windows"]
    if report.created:
        parts.append(f"started plans {', '.join(map(str, report.created))}")
    for plan, state in report.advanced.items():
        parts.append(f"plan {plan} -> {state}")
    parts += [f"error: {e}" for e in report.errors]
    return "; ".join(parts)


# -- trigger ----------------------------------------------------------------------------


def trigger(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="PIPELINE", help="The registered pipeline.")],
    reason: Reason = None,
    now: Annotated[
        bool, typer.Option("--now", help="Run an agent pass right away (else the agent's next).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Ask the agent to run a registered pipeline (and roll out the model it trains).

    A person's trigger is not held back by the policy's cool-down or daily budget.

    Examples:

        loopml trigger retrain-churn --reason "labels fixed upstream"

        loopml trigger retrain-churn --now --json
    """
    client = _client(ctx)
    request = client.trigger(name, reason=reason)
    data: dict[str, Any] = {"request": request, "pipeline": name}
    text = f"request {request}: the agent runs {name} on its next pass"
    if now:
        from loopml.automation import Agent

        worker = Agent(client.settings)
        try:
            report = worker.run_once()
        finally:
            worker.release()
        data["pass"] = report.to_dict()
        text = f"request {request}: {_pass_text(report)}"
    respond(data, text, as_json=as_json)


# -- status -----------------------------------------------------------------------------


def status(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Argument(metavar="[MODEL]", help="One model (default: every model with a policy)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The loop at a glance: data, training, gate, production, canary, drift, alerts,
    triggers, schedule and plans in progress.

    Examples:

        loopml status churn

        loopml status --json
    """
    summaries = _client(ctx).status(model)
    if as_json:
        echo_json(summaries if model is None else summaries[0])
        return
    if not summaries:
        show("no model has an automation policy: `loopml automation set MODEL --pipeline NAME`")
        return
    show(*[_status_table(summary) for summary in summaries])


def _status_table(summary: dict[str, Any]) -> Any:
    table = new_table("", "", title=f"loop of {summary['model']}")
    table.show_header = False

    def row(name: str, value: str, style: str = "") -> None:
        table.add_row(cell(name, "bold"), cell(value, style))

    for data in summary["data"]:
        behind = data["latest"] is not None and data["latest"] > data["version"]
        note = f" (newer: v{data['latest']})" if behind else " (latest)"
        row("data", data["uri"] + note, "yellow" if behind else "")
    production = summary["production"]
    if production is None:
        row("production", "no version yet", "dim")
    else:
        row("production", f"{production['uri']} since {format_time(production['since'])}")
        row("training run", production["run_id"] or "-")
        gate = production["gate"]
        if gate is not None:
            verdict = {True: "passed", False: "failed", None: "no gates"}[gate["passed"]]
            metrics = ", ".join(
                f"{k} {v:.3f}" for k, v in sorted((gate["metrics"] or {}).items())[:4]
            )
            row("gate", f"{verdict}: {metrics}", "green" if gate["passed"] else "")
    canary = summary["canary"]
    if canary is not None:
        row("canary", f"v{canary['version']} at {canary['share']}% (plan {canary['plan']}) since "
            f"{format_time(canary['since'])}", "yellow")  # fmt: skip
    for drift in summary["drift"]:
        share = "-" if drift["drift_share"] is None else f"{drift['drift_share']:.0%}"
        style = "red" if drift["drifted"] else "green"
        row("drift now", f"{drift['monitor']}: {share} of features drifted", style)
    if summary["alerts"]:
        row("alerts", ", ".join(f"#{a['id']} {a['rule']}" for a in summary["alerts"]), "red")
    else:
        row("alerts", "none firing", "green")
    last = summary["last_trigger"]
    if last is not None:
        row("last trigger", f"{last['summary']} at {format_time(last['at'])} -> plan "
            f"{last['plan']} {last['state']}")  # fmt: skip
    row("next schedule", summary["next_schedule"] or "no schedule")
    for plan in summary["plans"]:
        row(f"plan {plan['id']}", f"{plan['step']} ({plan['state']}): {plan['reason'] or ''}")
    agent = summary["agent"]
    if agent is None:
        row("agent", "never ran: `loopml agent`", "yellow")
    else:
        alive = (
            "holds the lease"
            if agent["alive"]
            else f"last acted {format_time(agent['expires_at'])}"
        )
        row("agent", f"{agent['holder']} {alive}", "" if agent["alive"] else "dim")
    return table


# -- plans ------------------------------------------------------------------------------


@plans_app.command("list")
def list_plans(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", metavar="MODEL", help="Only this model's plans.")
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only plans in this state (repeat): running, waiting, promoted, rolled_back, "
            "rejected, failed, cancelled, done, skipped.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Rollout plans, newest first.

    Examples:

        loopml plans list --model churn --state waiting
    """
    _check_states(state or [])
    found = _client(ctx).plans(model=model, states=tuple(state or ()), limit=limit)
    table = new_table("plan", "model", "trigger", "step", "state", "version", "started", "why")
    for plan in found:
        table.add_row(
            cell(str(plan.id), "bold"), cell(plan.model or "-"),
            cell(plan.trigger.get("summary") or plan.trigger.get("kind")), cell(plan.step),
            cell(plan.state, _STATE_STYLE.get(plan.state, "")),
            cell("-" if plan.version is None else f"v{plan.version}"),
            cell(format_time(plan.created_at)), cell(plan.reason or ""),
        )  # fmt: skip
    respond([p.to_dict() for p in found], table if found else "no plans", as_json=as_json)


_STATE_STYLE = {
    "promoted": "green",
    "done": "green",
    "waiting": "yellow",
    "running": "yellow",
    "rolled_back": "red",
    "rejected": "red",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "dim",
}


@plans_app.command("show")
def show_plan(ctx: typer.Context, plan_id: PlanId, as_json: JsonFlag = False) -> None:
    """One plan: what started it and every step it took, with the reasons.

    Examples:

        loopml plans show 7 --json
    """
    plan = _client(ctx).plan(plan_id)
    respond(plan.to_dict(), *_plan_text(plan), as_json=as_json)


@plans_app.command("cancel")
def cancel_plan(
    ctx: typer.Context, plan_id: PlanId, reason: Reason = None, as_json: JsonFlag = False
) -> None:
    """Stop a plan in progress; a live canary's traffic goes back to the champion.

    Examples:

        loopml plans cancel 7 --reason "holiday freeze"
    """
    plan = _client(ctx).cancel(plan_id, reason=reason)
    respond(plan.to_dict(), f"plan {plan.id}: {plan.reason}", as_json=as_json)


def _plan_text(plan: Plan) -> list[Any]:
    head = new_table("", "", title=f"plan {plan.id}")
    head.show_header = False
    version = (
        "-" if plan.version is None or plan.model is None else model_uri(plan.model, plan.version)
    )
    for name, value in (
        ("trigger", plan.trigger.get("summary") or plan.trigger.get("kind")),
        ("pipeline", plan.pipeline),
        ("model", plan.model or "- (a plain pipeline run)"),
        ("state", f"{plan.state} at {plan.step}"),
        ("version", version),
        ("pipeline run", plan.pipeline_run_id or "-"),
        ("why", plan.reason or ""),
    ):
        head.add_row(cell(name, "bold"), cell(str(value)))
    log = new_table("at", "step", "state", "what happened")
    for line in plan.details.get("log", ()):
        log.add_row(
            cell(format_time(line["at"])), cell(line["step"]),
            cell(line["state"], _STATE_STYLE.get(line["state"], "")), cell(line["message"]),
        )  # fmt: skip
    return [head, log]


def _check_states(states: list[str]) -> None:
    from loopml.automation import ENDED

    known = {"running", "waiting", *ENDED}
    bad = sorted(set(states) - known)
    if bad:
        raise InvalidInputError(f"unknown plan state(s) {bad}; known: {', '.join(sorted(known))}")
