"""The demo's monitoring section: a monitor on the deployment, live traffic that drifts,
delayed labels, windows, an alert, the report.

``loopml monitor create churn-api`` finds the production version's training data through
lineage and sketches it once. The server then answers customers as they were, then
customers whose spend and support calls have moved; the true outcomes arrive afterwards
by request id (``POST /feedback``). ``loopml monitor run`` cuts the log into windows of 200
rows, measures drift, data quality, service health and realized performance on each, and
the drift rule fires once the shift has held for two windows. The HTML report opens
offline.

Running ``make demo`` again replaces the monitor (its earlier windows and alerts stay).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import requests
from rich.console import Console

from serving import DEPLOYMENT, Desk, Server

WINDOW = "200 rows"
RULES = (
    "drift for 2 clear 2",
    "accuracy < baseline - 0.15 for 2",
    "error_rate > 0.02 for 2",
    "latency_p95 > 250",
)


def drifted(customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The same customers a quarter later: they spend more, log in less, call support more."""
    moved = customers.copy()
    moved["monthly_spend"] = (moved["monthly_spend"] * 1.8).round(2)
    moved["logins_7d"] = np.maximum(moved["logins_7d"] - 2, 0)
    moved["support_calls_30d"] = moved["support_calls_30d"] + rng.poisson(2.0, len(moved))
    logins = moved["logins_7d"].where(moved["logins_7d"] > 0, 1)
    moved["spend_per_login"] = moved["monthly_spend"] / logins
    moved["calls_per_login"] = moved["support_calls_30d"] / logins
    return moved


def _send(url: str, rows: pd.DataFrame, inputs: list[str]) -> list[tuple[str, int]]:
    """One request per customer; returns each request id with the customer's outcome."""
    sent = []
    with requests.Session() as session:
        for row in rows.itertuples(index=False):
            record = {name: getattr(row, name) for name in inputs}
            reply = session.post(f"{url}/predict", json=[record], timeout=30)
            reply.raise_for_status()
            sent.append((reply.headers["x-request-id"], int(row.churned)))
    return sent


def monitor(console: Console, customers: pd.DataFrame, inputs: list[str], work: Path) -> int:
    """Create the monitor, serve normal then drifted traffic, label it, run the windows."""
    desk = Desk(console)
    rules = [part for rule in RULES for part in ("--rule", rule)]
    if desk.run("monitor", "create", DEPLOYMENT, "--window", WINDOW, *rules, "--replace"):
        return 1
    rng = np.random.default_rng(23)
    normal = customers.sample(n=400, replace=True, random_state=3)
    moved = drifted(customers.sample(n=400, replace=True, random_state=4), rng)
    server = Server(console, DEPLOYMENT, "--port", "0", "--poll-seconds", "0.5")
    try:
        sent = _send(server.url, normal, inputs) + _send(server.url, moved, inputs)
        console.print(
            f"\n{len(normal)} requests from customers as they were, then {len(moved)} from "
            "customers whose spend, logins and support calls have moved"
        )
        labels = [{"request_id": rid, "label": outcome} for rid, outcome in sent]
        stored = requests.post(f"{server.url}/feedback", json=labels, timeout=60).json()
        console.print(
            f"their true outcomes arrive later, by request id: POST /feedback -> {stored}"
        )
    finally:
        server.stop()
    if desk.run("monitor", "run", DEPLOYMENT):
        return 1
    desk.run("monitor", "status", DEPLOYMENT)
    report = work / "monitor-report.html"
    desk.run("monitor", "report", DEPLOYMENT, "-o", str(report))
    console.print(f"open {report} in a browser: distributions, drift over time, alerts")
    return desk.run("monitor", "alerts", DEPLOYMENT, "--state", "firing")
