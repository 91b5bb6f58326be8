"""The real MLflow client against a tracking server, for bench/server.py (MLflow's venv).

    PYTHON bench/_mlflow_client_worker.py WORKLOAD 'PARAMS-JSON' DIRECTORY

The server's URL is ``params["url"]``: loopml's server or MLflow's own, the same calls.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _worker import run


def _client(url: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url)


def log_metric(home: Path, url: str, n: int) -> dict[str, Any]:
    """``n`` single ``log_metric`` calls on one run, one request each."""
    client = _client(url)
    run_id = client.create_run(client.create_experiment(f"single-{time.time_ns()}")).info.run_id
    start = time.perf_counter()
    for step in range(n):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    seconds = time.perf_counter() - start
    stored = len(client.get_metric_history(run_id, "loss"))
    return {"seconds": seconds, "calls": n, "stored": stored}


def log_batch(home: Path, url: str, n: int) -> dict[str, Any]:
    """One ``log_batch`` of ``n`` points (the client splits it into MLflow's 1,000 per request)."""
    from mlflow.entities import Metric

    client = _client(url)
    run_id = client.create_run(client.create_experiment(f"batch-{time.time_ns()}")).info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric(f"m{i % 10}", float(i), now, i // 10) for i in range(n)]
    start = time.perf_counter()
    client.log_batch(run_id, metrics=metrics)
    seconds = time.perf_counter() - start
    stored = sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(10))
    return {"seconds": seconds, "points": n, "stored": stored}


def search_runs(home: Path, url: str, runs: int, repeats: int) -> dict[str, Any]:
    """``search_runs`` with a metric filter and an order, over ``runs`` runs, ``repeats`` times."""
    from mlflow.entities import Metric, Param

    client = _client(url)
    experiment = client.create_experiment(f"search-{time.time_ns()}")
    now = int(time.time() * 1000)
    for i in range(runs):
        run_id = client.create_run(experiment).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("auc", (i % 100) / 100, now, 0), Metric("loss", 1 / (i + 1), now, 0)],
            params=[Param("model", "rf" if i % 2 else "gbm")],
        )
    timings = []
    found = 0
    for _ in range(repeats):
        start = time.perf_counter()
        found = len(
            client.search_runs(
                [experiment],
                "metrics.auc > 0.5 and params.model = 'rf'",
                order_by=["metrics.auc DESC"],
                max_results=1000,
            )
        )
        timings.append(time.perf_counter() - start)
    timings.sort()
    return {
        "seconds": timings[len(timings) // 2],
        "client_seconds": _client_share(url, experiment, repeats),
        "found": found,
        "runs": runs,
    }


def _client_share(url: str, experiment: str, repeats: int) -> float:
    """What the client itself spends on one search: turning the answer into runs.

    The answer is fetched once over plain HTTP, then parsed the way ``search_runs`` parses
    it (JSON into the protobuf message, then into ``Run`` entities); the median of
    ``repeats`` parses.
    """
    import json
    import urllib.request

    from mlflow.entities import Run
    from mlflow.protos.service_pb2 import SearchRuns
    from mlflow.utils.proto_json_utils import parse_dict

    body = {
        "experiment_ids": [experiment],
        "filter": "metrics.auc > 0.5 and params.model = 'rf'",
        "order_by": ["metrics.auc DESC"],
        "max_results": 1000,
        "run_view_type": "ACTIVE_ONLY",
    }
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/runs/search",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        raw = answer.read()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        message = SearchRuns.Response()
        parse_dict(json.loads(raw), message)
        [Run.from_proto(run) for run in message.runs]
        timings.append(time.perf_counter() - start)
    timings.sort()
    return timings[len(timings) // 2]


if __name__ == "__main__":
    run({"log_metric": log_metric, "log_batch": log_batch, "search_runs": search_runs})
