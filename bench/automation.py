"""Automation: what one agent pass costs at scale, and how fast events become plans.

    .venv/bin/python bench/automation.py [--quick] [--json PATH]

A fresh SQLite store holds 100 registered models, each with a registered pipeline (a
daily schedule and a dataset trigger), a deployment, a monitor (1-hour windows, its
reference sketched from a 2,000-row dataset version) and an automation policy (the "at
scale" of the issue: 100 pipelines and 100 monitors).

- steady pass: ``Agent.run_once()`` when nothing is due (every source read from its
  cursor, every monitor asked for due windows, no plan in progress); median of 7 passes
  after a first pass that sets the cursors. Target: under 1 s.
- events: 1,000 ``loopml trigger`` requests (10 per pipeline) taken in by one pass
  (``Agent.collect()``: each request read, judged against its model's policy and stored as
  a plan, 100 started and 900 skipped because a plan of the model is in progress), in
  events per second.

There is no anchor: no tool in bench/ runs this loop (Airflow's or Kubeflow's schedulers
are servers with their own databases); the figures stand on their own.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import Row, say, script_main

SCALE = 100


def _setup(home: Path, scale: int) -> Any:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import loopml
    from loopml.automation import AutomationClient, AutomationPolicy
    from loopml.config import Settings
    from loopml.monitoring import MonitorClient
    from loopml.pipelines import on_dataset, register_pipeline
    from loopml.registry import RegistryClient
    from loopml.serving.deployments import DeploymentClient
    from loopml.serving.policy import TrafficPolicy

    os.environ["LOOPML_HOME"] = str(home)
    settings = Settings.load()
    flows = home / "flows.py"
    flows.parent.mkdir(parents=True, exist_ok=True)
    flows.write_text(
        "import loopml\n\n\n@loopml.step\ndef fit(n: int) -> int:\n    return n\n\n\n"
        "@loopml.pipeline\ndef retrain(n: int = 1) -> None:\n    fit(n)\n"
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(0, 1, 2000), "x2": rng.normal(0, 1, 2000)})
    frame["y"] = (frame["x1"] > 0).astype(int)
    with loopml.start_run(experiment="bench"):
        loopml.log_dataset("reference", frame)
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
        info = loopml.log_model(model, "model", input_example=frame[["x1", "x2"]].head(3))
    registry = RegistryClient(settings)
    deployments = DeploymentClient(settings)
    monitors = MonitorClient(settings)
    automation = AutomationClient(settings)
    for i in range(scale):
        name = f"m{i:03d}"
        loopml.log_dataset(f"data{i:03d}", frame.head(50))
        register_pipeline(
            f"{flows}:retrain", name=f"p{i:03d}", schedule="0 3 * * *",
            triggers=[on_dataset(f"data{i:03d}")], settings=settings,
        )  # fmt: skip
        version = registry.register(info.uri, name)
        registry.set_status(name, version.version, "validated")
        registry.promote(name, version.version)
        deployments.create(f"d{i:03d}", name, TrafficPolicy.follow("production"))
        monitors.create(
            f"d{i:03d}", reference="datasets:/reference/1", window="1h", predict_reference=False
        )
        automation.set_policy(name, AutomationPolicy(pipeline=f"p{i:03d}", deployment=f"d{i:03d}"))
        if i % 20 == 19:
            say(f"  {i + 1} of {scale} models set up")
    return settings


METHOD = (
    "No anchor runs this loop here (Airflow's and Kubeflow's schedulers are servers with "
    "their own databases), so these figures stand on their own. A fresh SQLite store holds "
    "100 registered models, each with a registered pipeline (a daily schedule and a dataset "
    "trigger), a deployment, a monitor (1-hour windows, its reference sketched from a "
    "2,000-row dataset version) and an automation policy. A steady pass reads every trigger "
    "source from its cursor and asks every monitor for its due windows; taking in an event "
    "is one short transaction (the request read, judged against its model's policy, stored "
    "as a plan). The loop's own timing, from drift onset to the new model at 100 % of the "
    "traffic by stage, is printed by `make demo` (section 9), not measured here."
)


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    from loopml.automation import Agent, AutomationClient

    scale = 10 if quick else SCALE
    with tempfile.TemporaryDirectory(prefix="loopml-bench-automation-") as tmp:
        say(f"setting up {scale} models, pipelines, deployments, monitors and policies")
        settings = _setup(Path(tmp) / "home", scale)
        agent = Agent(settings, holder="bench")
        agent.run_once()  # the first pass sets every cursor
        passes = []
        for _ in range(7):
            started = time.perf_counter()
            report = agent.run_once()
            passes.append(time.perf_counter() - started)
            if not report.acted or report.created:
                raise RuntimeError(f"a steady pass should act and start nothing: {report}")
        steady = statistics.median(passes)
        automation = AutomationClient(settings)
        for i in range(scale):
            for _ in range(10):
                automation.trigger(f"p{i:03d}")
        started = time.perf_counter()
        intake = agent.collect()
        took = time.perf_counter() - started
        events = scale * 10
        assert len(intake.created) == events, len(intake.created)
    rate = events / took
    rows = [
        Row(
            f"agent pass, {scale} pipelines + {scale} monitors, nothing due",
            f"{steady:.3f} s", "—", None, "< 1 s", steady < 1.0 if not quick else None,
            note=f"median of 7; min {min(passes):.3f} s, max {max(passes):.3f} s",
            raw={"seconds": passes},
        ),
        Row(
            f"trigger events taken in ({events} requests -> plans)",
            f"{rate:,.0f} events/s", "—", None, "—", None,
            note=f"{took:.2f} s for {events}",
            raw={"seconds": took, "events": events},
        ),
    ]  # fmt: skip
    versions = {
        "python": sys.version.split()[0],
        "summary": "loopml only (no anchor)",
        "method": METHOD,
    }
    return rows, versions


if __name__ == "__main__":
    script_main("automation", "—", run)
