"""The MLflow side of the tracking benchmarks; runs in ``bench/.venv-mlflow``.

    bench/.venv-mlflow/bin/python bench/_mlflow_worker.py WORKLOAD '{"n": 500}' /tmp/fresh-dir

Each call uses a fresh store in the given directory (a SQLite tracking database and a
file artifact root) and prints one line ``BENCH_RESULT {json}`` with its timings. Only
the workload itself is timed: importing MLflow, creating the database and populating
data that a workload reads are not.

This file must run with MLflow's interpreter only: it imports nothing from loopml.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _worker import repeat, run

EXPERIMENT = "bench"


def _open(home: Path) -> tuple[Any, Any, str]:
    """A client on a fresh store in ``home``, and the id of an empty experiment."""
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(
        EXPERIMENT, artifact_location=(home / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return mlflow, client, experiment_id


def log_metric(home: Path, n: int) -> dict[str, Any]:
    """``n`` single ``mlflow.log_metric`` calls in one run (synchronous: durable on return)."""
    mlflow, client, _ = _open(home)
    with mlflow.start_run() as run:
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        seconds = time.perf_counter() - start
    _expect(len(client.get_metric_history(run.info.run_id, "loss")), n)
    return {"n": n, "seconds": seconds}


def log_batch(home: Path, n: int, chunk: int) -> dict[str, Any]:
    """``n`` points through ``MlflowClient.log_batch``, until the history returns them all."""
    from mlflow.entities import Metric

    _, client, experiment_id = _open(home)
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    rows = [("loss", 1.0 / (i + 1), now, i) for i in range(n)]
    start = time.perf_counter()
    for first in range(0, n, chunk):
        batch = [Metric(k, v, ts, step) for k, v, ts, step in rows[first : first + chunk]]
        client.log_batch(run_id, metrics=batch)
    logged = time.perf_counter()
    history = client.get_metric_history(run_id, "loss")
    seconds = time.perf_counter() - start
    _expect(len(history), n)
    return {"n": n, "seconds": seconds, "log_seconds": logged - start}


def create_runs(home: Path, n: int) -> dict[str, Any]:
    """``n`` runs through ``mlflow.start_run`` / ``mlflow.end_run``."""
    mlflow, client, experiment_id = _open(home)
    start = time.perf_counter()
    for _ in range(n):
        mlflow.start_run()
        mlflow.end_run()
    seconds = time.perf_counter() - start
    _expect(len(client.search_runs([experiment_id], max_results=n + 1)), n)
    return {"n": n, "seconds": seconds}


def populate(home: Path, runs: int) -> dict[str, Any]:
    """``runs`` finished runs with 3 params and 3 metrics each (what :func:`search` reads)."""
    from mlflow.entities import Metric, Param, RunStatus

    _, client, experiment_id = _open(home)
    rng = random.Random(42)
    now = int(time.time() * 1000)
    finished = RunStatus.to_string(RunStatus.FINISHED)
    start = time.perf_counter()
    for i in range(runs):
        run_id = client.create_run(experiment_id).info.run_id
        params = [Param("model", "rf"), Param("depth", str(i % 10)), Param("seed", str(i))]
        metrics = [Metric(k, rng.random(), now, 0) for k in ("acc", "f1", "loss")]
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, finished)
    return {"runs": runs, "seconds": time.perf_counter() - start}


def search(home: Path, runs: int, repeats: int, max_results: int) -> dict[str, Any]:
    """``search_runs`` with a metric filter over a store :func:`populate` filled."""
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def query() -> int:
        found = client.search_runs([experiment_id], "metrics.acc > 0.5", max_results=max_results)
        return len(found)

    _expect(len(client.search_runs([experiment_id], max_results=runs + 1)), runs)
    timings, matched = repeat(query, repeats)
    return {"runs": runs, "matched": matched, "timings": timings}


def rss(home: Path, n: int, chunk: int) -> dict[str, Any]:
    """Log ``n`` points in batches (no read-back); :func:`main` adds the peak RSS."""
    from mlflow.entities import Metric

    _, client, experiment_id = _open(home)
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for first in range(0, n, chunk):
        stop = min(first + chunk, n)
        batch = [Metric("loss", 1.0 / (i + 1), now, i) for i in range(first, stop)]
        client.log_batch(run_id, metrics=batch)
    return {"n": n, "seconds": time.perf_counter() - start}


def _expect(got: int, want: int) -> None:
    if got != want:
        raise SystemExit(f"expected {want} results, MLflow returned {got}")


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "log_metric": log_metric,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "populate": populate,
    "search": search,
    "rss": rss,
}

if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    run(WORKLOADS, as_script_in_directory=True)
