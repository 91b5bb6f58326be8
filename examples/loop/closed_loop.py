"""The demo's closed loop: the agent retrains, gates, canaries and promotes on its own.

The monitor of section 8 has a firing drift alert: the customers moved. Their outcomes
for the new quarter have arrived as new versions of the training set and the holdout. A
retraining pipeline is registered and ``churn`` gets an automation policy (retrain on
drift, evaluate on the latest holdout, a 30 % canary watched for 20 s). Then ``loopml
serve`` and ``loopml agent`` run in the background while customers keep calling the API
and their outcomes keep arriving:

1. the agent picks up the drift alert, retrains on the new data, evaluates the new
   version against the champion with the model's gates, and waits for the approval the
   registry policy asks for (the demo's reviewer gives it);
2. the new version takes 30 % of the traffic; the agent compares its live errors, latency
   and realized accuracy with the champion's, then promotes it: it serves all traffic and
   the monitor's reference becomes its training data;
3. a deliberately worse challenger (trained on shuffled labels) is rejected at the gate;
4. a challenger that needs an input the CRM does not send fails every canary request, and
   the agent rolls it back.

It ends with a summary (versions, metrics before and after, drift, seconds from drift onset
to the new model serving all traffic, by stage) and the production model's lineage back to
its data and to the alert that triggered it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
from rich.console import Console

import loopml
from monitoring import drifted  # section 8's quarter-later customers
from serving import DEPLOYMENT, MODEL, Desk, Server

PIPELINE = "churn-retraining"
APPROVER = "demo-lead"
TARGET = f"{Path(__file__).parent / 'retraining.py'}:churn_retraining"
_LOOPML = [str(Path(sys.executable).parent / "loopml")]
_WAIT_S = 150


def moved(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Customers a quarter later (as section 8's traffic), with their new outcomes: the
    same rule of churn, on the features as they are now."""
    out = drifted(frame, rng)
    risk = 0.6 * out["support_calls_30d"] - 0.4 * out["logins_7d"] + rng.normal(0, 1, len(out))
    out["churned"] = (risk > 1.5).astype("int64")
    return out


class Traffic(threading.Thread):
    """Customers calling the API (keyed by customer), their outcomes sent after each batch."""

    def __init__(self, url: str, customers: pd.DataFrame, inputs: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.customers, self.inputs = url, customers, inputs
        self.stop = threading.Event()
        self.sent = 0
        self.failed = 0

    def run(self) -> None:
        rows = self.customers.sample(frac=1.0, random_state=31).itertuples(index=False)
        batch: list[dict[str, Any]] = []
        with requests.Session() as session:
            while not self.stop.is_set():
                row = next(rows, None)
                if row is None:
                    rows = self.customers.sample(frac=1.0).itertuples(index=False)
                    continue
                record = {name: getattr(row, name) for name in self.inputs}
                reply = session.post(f"{self.url}/predict", json=[record], timeout=30,
                                     headers={"loopml-key": str(row.customer_id)})  # fmt: skip
                self.sent += 1
                if reply.status_code != 200:
                    self.failed += 1
                    continue
                batch.append({"request_id": reply.headers["x-request-id"], "label": row.churned})
                if len(batch) >= 20:
                    session.post(f"{self.url}/feedback", json=batch, timeout=30)
                    batch = []
                time.sleep(0.02)


def _loopml(*args: str, user: str | None = None) -> Any:
    env = {**os.environ, "LOOPML_USER": user} if user else None
    done = subprocess.run([*_LOOPML, *args, "--json"], check=True, capture_output=True,
                          text=True, env=env)  # fmt: skip
    return json.loads(done.stdout)


def _follow(console: Console, desk: Desk, plan_id: int, approve: bool = True) -> dict[str, Any]:
    """Print the plan's steps as the agent takes them; approve when it waits for that."""
    shown = 0
    approved = False
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        plan = _loopml("plans", "show", str(plan_id))
        for line in plan["details"]["log"][shown:]:
            console.print(f"  plan {plan_id} [{line['step']}] {line['message']}", markup=False)
        shown = len(plan["details"]["log"])
        if plan["state"] not in ("running", "waiting"):
            return plan
        if approve and not approved and plan["step"] == "approve" and plan["state"] == "waiting":
            version = str(plan["version"])
            console.print(f"\nthe reviewer ({APPROVER}, role ml-lead) approves it:")
            desk.run("models", "approve", MODEL, version, "-m", "gates and slices look right",
                     user=APPROVER)  # fmt: skip
            approved = True
        time.sleep(0.5)
    raise RuntimeError(f"plan {plan_id} did not end within {_WAIT_S} s")


def _next_plan(after: int) -> int:
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        plans = [p for p in _loopml("plans", "list", "--model", MODEL) if p["id"] > after]
        started = [p for p in plans if p["state"] != "skipped"]
        if started:
            return int(min(p["id"] for p in started))
        time.sleep(0.5)
    raise RuntimeError("the agent started no plan")


def close_the_loop(
    console: Console,
    training: pd.DataFrame,
    customers: pd.DataFrame,
    inputs: list[str],
    work: Path,
) -> int:
    """The section (see the module docstring): ``training`` and ``customers`` (the
    holdout, and the customers who call the API) as section 3 built them; the new
    quarter's versions are these rows, moved."""
    desk = Desk(console)
    # Unseeded: each run of the demo is a new quarter (the same rows would be the same
    # dataset versions, and the retraining a cache hit with nothing new to roll out).
    rng = np.random.default_rng()
    before = int(_loopml("models", "show", f"{MODEL}@production")["version"])
    firing = _loopml("monitor", "alerts", DEPLOYMENT, "--state", "firing")["alerts"]
    # drift and accuracy alerts start a retrain (error and latency alerts do not)
    retraining = [a for a in firing if a["rule"].startswith(("drift", "accuracy"))]

    console.print("\nthe new quarter's outcomes have arrived: new training and holdout versions")
    new_training = loopml.log_dataset("churn_training_set", moved(training, rng))
    new_holdout = loopml.log_dataset("churn_holdout", moved(customers, rng))
    console.print(f"-> {new_training.uri}, {new_holdout.uri}", markup=False)

    if desk.run("pipeline", "register", TARGET, "--name", PIPELINE, "--param", "variant=standard",
                "--on-dataset", "churn_training_set"):  # fmt: skip
        return 1
    if desk.run(
        "automation", "set", MODEL, "--pipeline", PIPELINE, "--deployment", DEPLOYMENT,
        "--retrain-on", "drift", "--retrain-on", "performance", "--retrain-on", "manual",
        "--evaluate-on", "datasets:/churn_holdout@latest", "--target", "churned",
        "--canary", "30", "--canary-for", "20s", "--min-rows", "40", "--min-labels", "40",
        "--cooldown", "0s", "--max-retrains-per-day", "10",
    ):  # fmt: skip
        return 1
    last_plan = max((p["id"] for p in _loopml("plans", "list")), default=0)
    world = moved(customers, rng)
    server = Server(console, DEPLOYMENT, "--port", "0", "--poll-seconds", "0.5")
    agent_log = (work / "agent.log").open("w")
    console.print("\n$ loopml agent --interval 1 &", markup=False)
    agent = subprocess.Popen([*_LOOPML, "agent", "--interval", "1", "--lease-ttl", "15"],
                             stdout=agent_log, stderr=subprocess.STDOUT)  # fmt: skip
    traffic = Traffic(server.url, world, inputs)
    traffic.start()
    if not retraining:  # a repeated demo: the monitor's reference may be the new world now
        console.print("\nno drift or accuracy alert is firing: a person triggers the retrain")
        desk.run("trigger", PIPELINE, "--reason", "the demo again")
    try:
        console.print(f"customers keep calling {server.url}; the agent's passes: {agent_log.name}")
        console.rule("drift -> retrain -> gate -> approve -> canary -> promote", style="dim")
        first = _next_plan(last_plan)
        promoted = _follow(console, desk, first)
        console.rule("a worse challenger: its labels were shuffled upstream", style="dim")
        worse = _challenger(console, desk, "noisy", "a challenger trained on shuffled labels")
        console.rule("a challenger the CRM cannot feed: it needs the customer's plan", style="dim")
        broken = _challenger(console, desk, "with-plan", "a challenger that also uses the plan")
    finally:
        traffic.stop.set()
        traffic.join(timeout=30)
        agent.terminate()
        agent.wait(timeout=60)
        agent_log.close()
        server.stop()
        desk.run("pipeline", "register", TARGET, "--name", PIPELINE, "--param",
                 "variant=standard", "--on-dataset", "churn_training_set", quiet=True)  # fmt: skip
    console.print(f"\n{traffic.sent} requests served during the loop, {traffic.failed} failed")
    alert = _alert_of(promoted)
    _summary(console, before, promoted, worse, broken, alert)
    desk.run("status", MODEL)
    version = promoted.get("version")
    if promoted["state"] != "promoted" or version is None:
        return 1
    console.print("\nthe production model's lineage: its data, and the alert that started it")
    return desk.run("lineage", f"models:/{MODEL}/{version}", "--direction", "up", "--depth", "3")


def _alert_of(plan: dict[str, Any]) -> dict[str, Any] | None:
    """The alert that started ``plan`` (``None`` when a person or data did)."""
    alert_id = plan["trigger"].get("alert")
    if alert_id is None:
        return None
    alerts = _loopml("monitor", "alerts", DEPLOYMENT, "--limit", "1000")["alerts"]
    return next((a for a in alerts if a["id"] == alert_id), None)


def _challenger(console: Console, desk: Desk, variant: str, why: str) -> dict[str, Any]:
    desk.run("pipeline", "register", TARGET, "--name", PIPELINE, "--param", f"variant={variant}",
             "--on-dataset", "churn_training_set", quiet=True)  # fmt: skip
    last = max(p["id"] for p in _loopml("plans", "list"))
    desk.run("trigger", PIPELINE, "--reason", why)
    return _follow(console, desk, _next_plan(last))


def _summary(
    console: Console,
    before: int,
    promoted: dict[str, Any],
    worse: dict[str, Any],
    broken: dict[str, Any],
    alert: dict[str, Any] | None,
) -> None:
    from rich.table import Table

    table = Table(title="the closed loop", show_header=False)
    table.add_row("before", f"models:/{MODEL}/{before} in production")
    evaluation = promoted["details"].get("evaluation", {}).get("metrics", {})
    canary = promoted["details"].get("canary", {})
    after = promoted.get("version")
    table.add_row("after", f"models:/{MODEL}/{after} ({promoted['state']}): "
                  f"holdout accuracy {evaluation.get('accuracy', float('nan')):.3f}, "
                  f"roc_auc {evaluation.get('roc_auc', float('nan')):.3f}")  # fmt: skip
    if canary:
        mine, theirs = canary.get("canary", {}), canary.get("champion", {})
        table.add_row("live, canary vs champion", f"{canary.get('metric')} "
                      f"{_num(mine.get('metric'))} vs {_num(theirs.get('metric'))}, "
                      f"{mine.get('requests')} vs {theirs.get('requests')} requests")  # fmt: skip
    table.add_row(
        "worse challenger", f"v{worse.get('version')} {worse['state']}: {worse['reason']}"
    )
    table.add_row(
        "failing canary", f"v{broken.get('version')} {broken['state']}: {broken['reason']}"
    )
    if alert is not None:
        summary = alert["evidence"].get("summary") or alert["rule"]
        table.add_row("alert that started it", f"#{alert['id']} {summary}")
    for stage, seconds in _stages(promoted, alert):
        table.add_row(stage, f"{seconds:.1f} s")
    console.print(table)


def _stages(plan: dict[str, Any], alert: dict[str, Any] | None) -> list[tuple[str, float]]:
    """Seconds between the loop's moments: the onset (the first window that breached the
    alert's rule), the alert, the plan, each step, the new version at 100 %."""
    log = plan["details"]["log"]
    marks: list[tuple[str, int]] = []
    windows = (alert or {}).get("evidence", {}).get("windows") or []
    if windows:  # the first window that breached the rule: the onset the monitor saw
        marks.append(("onset", min(int(w["start_ms"]) for w in windows)))
    if alert is not None:
        marks.append(("alert fired", int(alert["opened_at"])))
    marks.append(("plan started", int(plan["created_at"])))
    firsts: dict[str, int] = {}
    for line in log:
        firsts.setdefault(line["step"], int(line["at"]))
    for step, name in (("register", "trained"), ("approve", "gated"), ("canary", "approved"),
                       ("watch", "canary live")):  # fmt: skip
        if step in firsts:
            marks.append((name, firsts[step]))
    promoted_at = plan["details"].get("promoted_at")
    if promoted_at:
        marks.append(("new version at 100 %", int(promoted_at)))
    stages = [(f"{a} -> {b}", (tb - ta) / 1000) for (a, ta), (b, tb) in pairwise(marks)]
    if len(marks) > 1:
        total = (marks[-1][1] - marks[0][1]) / 1000
        stages.append((f"{marks[0][0]} -> {marks[-1][0]} (total)", total))
    return stages


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
