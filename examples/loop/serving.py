"""The demo's serving section: a deployment, a live server, a canary, the payload log.

Store a deployment of ``churn`` that follows ``@production``, start ``loopml serve`` on a
free port, send it customers' rows as an application would, then move 20% of the traffic to
another version with one ``loopml deployments update``: the running server follows the
record within a poll, and requests keyed by customer stay on one version. Back to 100%
production, stop the server, and read back every prediction it logged.

Running ``make demo`` again finds the deployment there and serves it as it is stored.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
from rich.console import Console

import loopml

MODEL = "churn"
DEPLOYMENT = "churn-api"
_LOOPML = [str(Path(sys.executable).parent / "loopml")]


class Desk:
    """Runs ``loopml`` commands, showing each one as a reader would type it."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def run(self, *args: str, quiet: bool = False, user: str | None = None) -> int:
        """Run and show a command; ``quiet``: neither it nor what it prints is shown;
        ``user``: run it as that user (``LOOPML_USER``)."""
        if not quiet:
            prefix = f"LOOPML_USER={user} " if user else ""
            self.console.print(f"\n$ {prefix}loopml {shlex.join(args)}", markup=False)
        env = {**os.environ, "LOOPML_USER": user} if user else None
        done = subprocess.run([*_LOOPML, *args], check=False, capture_output=quiet, env=env)
        return done.returncode

    def json(self, *args: str) -> Any:
        done = subprocess.run(
            [*_LOOPML, *args, "--json"], check=True, capture_output=True, text=True
        )
        return json.loads(done.stdout)


class Server:
    """``loopml serve`` in the background, ready once it prints its URL."""

    def __init__(self, console: Console, *args: str) -> None:
        console.print(f"\n$ loopml serve {shlex.join(args)} &", markup=False)
        self.process = subprocess.Popen(
            [*_LOOPML, "serve", *args], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first.startswith("serving on "):
            self.process.kill()
            raise RuntimeError(f"loopml serve did not start: {first!r}")
        self.url = first.split()[-1]
        console.print(first.rstrip(), markup=False)
        for _ in range(2):
            console.print(self.process.stdout.readline().rstrip(), markup=False)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)  # in-flight requests finish; the log flushes
        code = self.process.wait(60)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


def _send(url: str, rows: pd.DataFrame, inputs: list[str]) -> tuple[Counter[int], list[float]]:
    """One request per customer row, keyed by customer; the versions that answered."""
    versions: Counter[int] = Counter()
    latencies: list[float] = []
    with requests.Session() as session:
        for row in rows.itertuples(index=False):
            record = {name: getattr(row, name) for name in inputs}
            started = time.perf_counter()
            reply = session.post(
                f"{url}/predict",
                json=[record],
                headers={"loopml-key": str(row.customer_id)},
                timeout=30,
            )
            latencies.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
            versions[reply.json()["version"]] += 1
    return versions, latencies


def _wait_for_routes(url: str, count: int) -> None:
    """Until the running server serves ``count`` routes (it polls the record)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        served = requests.get(f"{url}/endpoints", timeout=10).json()[0]
        if len(served["policy"]["routes"]) == count:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not follow {DEPLOYMENT} within 30 s")


def serve(console: Console, customers: pd.DataFrame, inputs: list[str]) -> int:
    """Deploy ``churn@production``, serve it, canary another version, read the log back."""
    desk = Desk(console)
    exists = desk.run("deployments", "show", DEPLOYMENT, quiet=True) == 0
    if not exists and desk.run(
        "deployments", "create", DEPLOYMENT, "--model", MODEL, "--alias", "production",
        "-d", "churn scores for the CRM",
    ):  # fmt: skip
        return 1
    production = int(desk.json("models", "show", f"{MODEL}@production")["version"])
    server = Server(console, DEPLOYMENT, "--port", "0", "--poll-seconds", "0.5")
    try:
        started = datetime.now(UTC).replace(microsecond=0)
        batch = customers.sample(n=min(200, len(customers)), random_state=11)
        versions, latencies = _send(server.url, batch, inputs)
        console.print(
            f"\n{len(batch)} requests, one customer each: answered by "
            f"{dict(versions)} (version: requests); p50 {np.percentile(latencies, 50):.1f} ms, "
            f"p99 {np.percentile(latencies, 99):.1f} ms from this client"
        )
        others = [
            v.version
            for v in loopml.RegistryClient().list_versions(MODEL)
            if v.version != production and v.status != "archived"
        ]
        if others:
            canary = max(others)
            desk.run(
                "deployments", "update", DEPLOYMENT, "-r", "@production=80",
                "-r", f"v{canary}=20", "--reason", f"canary: v{canary} on 20%",
            )  # fmt: skip
            _wait_for_routes(server.url, 2)
            versions, _ = _send(server.url, batch, inputs)
            console.print(
                f"the running server followed the record: {dict(versions)} over the same "
                f"{len(batch)} customers (each customer stays on one version: the loopml-key)"
            )
            desk.run(
                "deployments", "update", DEPLOYMENT, "--alias", "production",
                "--reason", "canary over",
            )  # fmt: skip
            _wait_for_routes(server.url, 1)
    finally:
        code = server.stop()
    console.print(f"\nserver stopped (exit {code}); every prediction is in the payload log:")
    logged = loopml.read_predictions(DEPLOYMENT, since=started)
    summary = logged.groupby(["version", "status"]).size().rename("rows").reset_index()
    console.print(summary.to_string(index=False), markup=False)
    since = started.strftime("%Y-%m-%dT%H:%M:%S")
    desk.run("predictions", DEPLOYMENT, "--since", since, "--limit", "3")
    return desk.run("deployments", "show", DEPLOYMENT)
