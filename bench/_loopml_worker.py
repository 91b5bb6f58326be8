"""The loopml side of the tracking benchmarks; runs in the project's ``.venv``.

    .venv/bin/python bench/_loopml_worker.py WORKLOAD '{"n": 200000}' /tmp/fresh-dir

The mirror image of ``_mlflow_worker.py``: same workload names and parameters, a fresh
store in the given directory (``Settings.load(home=directory)``: SQLite metadata, local
artifacts), one ``BENCH_RESULT {json}`` line on stdout. Only the workload is timed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _worker import repeat, run

EXPERIMENT = "bench"


def _client(home: Path, *, capture_env: bool = True) -> Any:
    from loopml import Settings, TrackingClient

    client = TrackingClient(Settings.load(home=home), capture_env=capture_env)
    client.get_or_create_experiment(EXPERIMENT)
    return client


def log_metric(home: Path, n: int) -> dict[str, Any]:
    """``n`` single ``loopml.log_metric`` calls in one run, then a flush (points queryable)."""
    import loopml

    loopml.configure(home=str(home))
    with loopml.start_run(experiment=EXPERIMENT) as run:
        start = time.perf_counter()
        for i in range(n):
            loopml.log_metric("loss", 1.0 / (i + 1), step=i)
        run.client.flush()
        seconds = time.perf_counter() - start
        _expect(len(run.client.get_metric_history(run.id, "loss")), n)
    return {"n": n, "seconds": seconds}


def log_batch(home: Path, n: int, chunk: int) -> dict[str, Any]:
    """``n`` points through ``TrackingClient.log_batch``, until the history returns them all."""
    client = _client(home)
    run_id = client.create_run(EXPERIMENT).id
    now = int(time.time() * 1000)
    rows = [("loss", 1.0 / (i + 1), i, now) for i in range(n)]
    start = time.perf_counter()
    for first in range(0, n, chunk):
        client.log_batch(run_id, rows[first : first + chunk])
    logged = time.perf_counter()
    history = client.get_metric_history(run_id, "loss")
    seconds = time.perf_counter() - start
    _expect(len(history), n)
    return {"n": n, "seconds": seconds, "log_seconds": logged - start}


def create_runs(home: Path, n: int) -> dict[str, Any]:
    """``n`` runs through ``create_run`` / ``end_run`` (with the default environment capture)."""
    client = _client(home)
    start = time.perf_counter()
    for _ in range(n):
        client.end_run(client.create_run(EXPERIMENT).id)
    seconds = time.perf_counter() - start
    _expect(len(client.search_runs(EXPERIMENT, max_results=n + 1)), n)
    return {"n": n, "seconds": seconds}


def populate(home: Path, runs: int) -> dict[str, Any]:
    """``runs`` finished runs with 3 params and 3 metrics each (what :func:`search` reads)."""
    # No environment capture: MLflow's client.create_run adds no context tags either, so
    # both searches hydrate the same params, metrics and tags.
    client = _client(home, capture_env=False)
    rng = random.Random(42)
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for i in range(runs):
        run_id = client.create_run(EXPERIMENT).id
        client.log_params(run_id, {"model": "rf", "depth": str(i % 10), "seed": str(i)})
        client.log_batch(run_id, [(k, rng.random(), 0, now) for k in ("acc", "f1", "loss")])
        client.end_run(run_id)
    client.close()
    return {"runs": runs, "seconds": time.perf_counter() - start}


def search(home: Path, runs: int, repeats: int, max_results: int) -> dict[str, Any]:
    """``search_runs`` with a metric filter over a store :func:`populate` filled."""
    client = _client(home, capture_env=False)

    def query() -> int:
        return len(client.search_runs(EXPERIMENT, "metrics.acc > 0.5", max_results=max_results))

    _expect(len(client.search_runs(EXPERIMENT, max_results=runs + 1)), runs)
    timings, matched = repeat(query, repeats)
    return {"runs": runs, "matched": matched, "timings": timings}


def rss(home: Path, n: int, chunk: int) -> dict[str, Any]:
    """Log ``n`` points in batches and flush (no read-back); :func:`main` adds the peak RSS."""
    client = _client(home)
    run_id = client.create_run(EXPERIMENT).id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for first in range(0, n, chunk):
        stop = min(first + chunk, n)
        client.log_batch(run_id, [("loss", 1.0 / (i + 1), i, now) for i in range(first, stop)])
    client.flush()
    return {"n": n, "seconds": time.perf_counter() - start}


def _expect(got: int, want: int) -> None:
    if got != want:
        raise SystemExit(f"expected {want} results, loopml returned {got}")


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "log_metric": log_metric,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "populate": populate,
    "search": search,
    "rss": rss,
}

if __name__ == "__main__":
    run(WORKLOADS, as_script_in_directory=True)
