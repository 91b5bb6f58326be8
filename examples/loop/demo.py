"""loopml's end-to-end demo: the loop so far, on embedded defaults (no servers).

1. data       version raw activity data (content-addressed: the same data is the same version)
2. gate       infer a schema, then stop a bad batch before it reaches training
3. features   register definitions, build a point-in-time correct training set, serve online
4. pipeline   split -> tune (Optuna trials as child runs) -> train -> evaluate; run twice: cached
5. lineage    from the evaluation back through the model to the dataset versions and features
6. release    register the model, set a promotion policy, evaluate it on a held-out dataset
              version (slices, champion, gates), approve and promote it; then a challenger;
              the alias history and the model card
7. serve      a deployment following churn@production, loopml serve, a canary moved by
              one command while it serves, and every prediction read back from the log
8. monitor    a monitor on the deployment (its reference: the training data, through
              lineage), traffic that drifts, delayed labels, windows, an alert, the report
9. loop       the agent takes the drift alert: retrains on the new quarter's data, gates
              against the champion, waits for the approval, canaries 30 % of the live
              traffic and promotes; a worse challenger is stopped at the gate and a canary
              that fails live is rolled back; a summary with seconds from drift onset to
              the new model at 100 %, and the production model's lineage to the alert

Run it with ``make demo``. Everything lands in ./.loopml; afterwards try
``loopml data list``, ``loopml features list``, ``loopml pipeline runs``, ``loopml models list``,
``loopml deployments list``, ``loopml serve churn-api``, ``loopml monitor status churn-api``,
``loopml status churn``, ``loopml plans list``, ``loopml maturity``.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

import loopml
from loopml.data import infer_schema, save_schema, validate
from loopml.data.report import render_table
from loopml.features import FeatureStore

sys.path.insert(0, str(Path(__file__).parent))
from closed_loop import close_the_loop  # the demo's closed-loop section
from release import release  # the demo's release section
from team import team  # the demo's team section (the server)
from training import FEATURES as MODEL_FEATURES  # what the model takes

from features import DEFINITIONS  # the demo's own definitions file
from monitoring import monitor  # the demo's monitoring section
from serving import serve  # the demo's serving section

console = Console(width=None if sys.stdout.isatty() else 110)
# Ten weeks of history ending today, so online values are within their 14-day TTL.
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
START = TODAY - timedelta(weeks=10)
SCORES = ("accuracy", "f1", "roc_auc")
FEATURES = [
    "customer_activity:tenure_days",
    "customer_activity:monthly_spend",
    "customer_activity:support_calls_30d",
    "customer_activity:logins_7d",
    "engagement:spend_per_login",
    "engagement:calls_per_login",
    "customer_activity:plan",  # not a model input: evaluation slices by it
]


def activity(rng: np.random.Generator, customers: int, days: int, offset: int = 0) -> pd.DataFrame:
    """Weekly activity snapshots per customer, as a product database would export them."""
    rows = customers * (days // 7)
    ids = np.repeat(np.arange(customers), days // 7)
    week = np.tile(np.arange(days // 7), customers) + offset
    tenure = rng.integers(30, 2000, customers)[ids] + week * 7
    return pd.DataFrame(
        {
            "customer_id": ids.astype("int64"),
            "event_time": [START + timedelta(days=int(w) * 7) for w in week],
            "tenure_days": tenure.astype("int64"),
            "monthly_spend": rng.gamma(2.0, 30.0, rows).round(2),
            "support_calls_30d": rng.poisson(1.0, rows).astype("int64"),
            "logins_7d": rng.poisson(5.0, rows).astype("int64"),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.35, 0.15]),
        }
    )


def labels(rng: np.random.Generator, data: pd.DataFrame) -> pd.DataFrame:
    """Prediction events: 'did this customer churn in the month after this moment?'."""
    events = data.sample(n=3000, random_state=1)[
        ["customer_id", "event_time", "support_calls_30d", "logins_7d"]
    ]
    risk = 0.6 * events["support_calls_30d"] - 0.4 * events["logins_7d"] + rng.normal(0, 1, 3000)
    return pd.DataFrame(
        {
            "customer_id": events["customer_id"].to_numpy(),
            # Asked a day after the snapshot: only what was known by then may be used.
            "event_timestamp": events["event_time"] + timedelta(days=1),
            "churned": (risk > -1.5).astype("int64"),
        }
    ).reset_index(drop=True)


def step(title: str) -> None:
    console.rule(f"[bold]{title}")


def main() -> int:
    rng = np.random.default_rng(7)
    work = Path(".loopml") / "demo"
    work.mkdir(parents=True, exist_ok=True)

    step("1. data: version the raw activity export")
    raw = activity(rng, customers=1500, days=56)
    export = work / "activity.parquet"
    raw.to_parquet(export, index=False)
    v1 = loopml.log_dataset("customer_activity", export, description="weekly activity export")
    again = loopml.log_dataset("customer_activity", raw)  # same rows from memory
    console.print(
        f"{v1.uri}: {v1.row_count:,} rows, digest {v1.digest[:12]}…; logging the same rows "
        f"again gives {again.uri} (no copy)"
    )

    step("2. gate: infer a schema, then stop a bad batch")
    # Slack lets next month's snapshot grow a little without tripping the gate.
    schema = infer_schema(raw, range_slack=0.25, row_count_slack=0.5)
    schema_file = save_schema(schema, work / "customer_activity.schema.toml")
    console.print(f"schema with {len(schema.columns)} columns written to {schema_file} (edit it)")
    batch = activity(rng, customers=1500, days=14, offset=8)
    broken = batch.copy()
    broken.loc[broken.sample(frac=0.2, random_state=2).index, "monthly_spend"] = None
    broken.loc[:40, "tenure_days"] = -10_000
    broken.loc[41:60, "plan"] = "enterprise"
    verdict = validate(pd.concat([raw, broken], ignore_index=True), schema)
    console.print(render_table(verdict))
    console.print("[red]gate: the broken export is rejected, not versioned[/red]")
    snapshot = pd.concat([raw, batch], ignore_index=True)
    checked = validate(snapshot, schema)
    if not checked.passed:
        console.print(render_table(checked))
        return 1
    v2 = loopml.log_dataset("customer_activity", snapshot)
    console.print(
        f"[green]gate: the clean export passes[/green] -> {v2.uri} ({v2.row_count:,} rows)",
    )

    step("3. features: point-in-time training set and online serving")
    store = FeatureStore()
    applied = store.apply(DEFINITIONS)
    for change in applied.changes:
        console.print(f"{change.action} {change.kind} '{change.name}' (version {change.version})")
    events = labels(rng, snapshot)
    # Built inside a run, the training set's inputs (feature view, dataset version) are
    # recorded as the run's, and the set itself as its output.
    # A fifth of the labelled events is held out of training altogether: the registry's
    # evaluation gate judges every model version on that dataset version.
    with loopml.start_run(experiment="churn-data", name="build-training-set"):
        training = store.get_training_set(events, FEATURES)
        labelled = training.dropna()
        held_out = labelled.sample(frac=0.2, random_state=5)
        trainable = labelled.drop(held_out.index)
        loopml.log_dataset("churn_training_set", trainable, role="output")
        holdout = loopml.log_dataset("churn_holdout", held_out, role="output")
    console.print(
        f"training set: {len(training):,} label events x {len(FEATURES)} features; "
        f"{len(held_out):,} held out as {holdout.uri}"
    )
    console.print(training.head(3).to_string(index=False), markup=False)
    store.materialize(START, TODAY + timedelta(days=1))
    online = store.get_online_features([{"customer_id": 3}, {"customer_id": 42}], FEATURES)
    console.print("online, as a service reads them (same on-demand code as training):")
    console.print(online.to_df().to_string(index=False), markup=False)

    step("4. training pipeline: split -> tune -> train -> evaluate, tracked and cached")
    loopml_cli = [str(Path(sys.executable).parent / "loopml")]
    target = f"{Path(__file__).parent / 'training.py'}:churn_training"
    console.print(f"$ loopml pipeline run {target} --param n_trials=8")
    subprocess.run([*loopml_cli, "pipeline", "run", target, "--param", "n_trials=8"], check=True)
    console.print("\nthe same run again: every step's cache key matches, nothing runs")
    subprocess.run([*loopml_cli, "pipeline", "run", target, "--param", "n_trials=8"], check=True)
    console.print("\n$ loopml pipeline show churn_training")
    subprocess.run([*loopml_cli, "pipeline", "show", "churn_training"], check=True)

    step("5. lineage: what did the evaluated model learn from?")
    from loopml.pipelines.records import list_pipeline_runs

    client = loopml.TrackingClient()
    with client.store.read() as conn:
        latest = list_pipeline_runs(conn, "churn_training", limit=1)[0]
    evaluated = latest.steps["evaluate"]
    scores = client.get_run(evaluated.run_id or "").metrics
    console.print(
        "held-out scores: "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores.items()) if k in SCORES)
    )
    console.print(f"$ loopml lineage runs:/{evaluated.run_id} --direction up")
    subprocess.run(
        [*loopml_cli, "lineage", f"runs:/{evaluated.run_id}", "--direction", "up"], check=True
    )

    step("6. release: register, gate, approve, promote; a challenger; the model card")
    trained = latest.steps["train"].run_id or ""
    if release(console, trained, holdout.uri, MODEL_FEATURES):
        return 1

    step("7. serve: a deployment follows production; a canary; the payload log")
    if serve(console, held_out, MODEL_FEATURES):
        return 1

    step("8. monitor: drift, delayed labels, windows, an alert, the report")
    if monitor(console, held_out, MODEL_FEATURES, work):
        return 1

    step("9. the closed loop: the agent retrains, gates, canaries, promotes, rolls back")
    if close_the_loop(console, trainable, held_out, MODEL_FEATURES, work):
        return 1

    step("10. the team: one server, tokens and roles, the REST API, remote runs, the web UI")
    if team(console, work):
        return 1
    console.print(
        "\nnext: `loopml models show churn`, `loopml models lineage churn@production`, "
        "`loopml pipeline explain-cache churn_training`, "
        "`loopml data diff datasets:/customer_activity/1 datasets:/customer_activity/2`, "
        "`loopml monitor windows churn-api`, `loopml status churn`, `loopml plans list`, "
        "`loopml maturity`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
