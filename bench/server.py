"""The loopml server: the real MLflow client against it and against MLflow's own server,
and what its listings and charts cost at scale.

    .venv/bin/python bench/server.py [--quick] [--json PATH]

MLflow side by side: the same calls of MLflow's own client (``bench/.venv-mlflow``, in
``_mlflow_client_worker.py``) go to ``loopml server`` and to ``mlflow server`` (one worker,
its fastest setting; SQLite and local files for both), each started on a fresh store, the
two alternating. Workloads: single ``log_metric`` calls (one request each), one
``log_batch`` of 10,000 points (the client sends 1,000 per request), and ``search_runs``
with a metric and param filter over 1,000 runs. Targets: >= 10x, >= 5x, >= 5x.

At scale (no anchor): a store with 10,000 runs of 20 metrics each; the time to answer the
run list (``GET /api/v1/runs``, a page of 100, newest first; and the web UI's run table
when the server has one) and a metric chart of a 1,000,000-point history
(``GET /api/v1/runs/ID/metrics/history?max_points=2000``). Targets: < 500 ms and < 200 ms
server time, measured as the median of 20 requests over a kept-alive connection on
loopback.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _harness import (
    BENCH_DIR,
    LOOPML_PYTHON,
    Row,
    WorkerError,
    alternate,
    failure,
    fresh_dir,
    median_of,
    ms,
    rate,
    run_worker,
    say,
    script_main,
    worker_env,
)

MLFLOW_PYTHON = BENCH_DIR / ".venv-mlflow" / "bin" / "python"

METHOD = (
    "The same calls of MLflow's own client (`bench/.venv-mlflow`) go to `loopml server` (one "
    "worker) and to `mlflow server --workers 1` (its fastest setting here), each started "
    "afresh on an empty SQLite store and local files; the sides alternate and each line is "
    "the median repetition. Single `log_metric`: one request per call; a third side, a "
    "server that answers every call at once and stores nothing, measures what the client "
    "itself costs per call, and the *server time per call* line subtracts it from both. "
    "`search_runs`: a metric and a param filter with an order over 1,000 runs (about 250 "
    "found); the *server time* line subtracts what the client spends turning the answer into "
    "runs (parsed from the same answer, timed apart). At scale, without an anchor: a store "
    "of 10,000 runs with 20 metrics each and one 1,000,000-point history, each request the "
    "median of 20 over a kept-alive connection on loopback; the 16 remote clients are "
    "processes with `LOOPML_TRACKING_URI` set, logging single points as fast as they can for "
    "60 s, then waiting until the server holds every point they logged."
)
CLIENT_WORKER = BENCH_DIR / "_mlflow_client_worker.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """A server process on a fresh directory, up until ``stop``."""

    def __init__(self, side: str, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = worker_env()
        if side == "loopml":
            env["LOOPML_HOME"] = str(directory / "home")
            argv = [str(LOOPML_PYTHON), "-m", "loopml", "server", "--port", str(self.port)]
        elif side == "null":
            argv = [str(LOOPML_PYTHON), str(BENCH_DIR / "_null_http_server.py"), str(self.port)]
        else:
            mlflow = MLFLOW_PYTHON.parent / "mlflow"
            argv = [
                str(mlflow),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{directory}/mlflow.db",
                "--default-artifact-root",
                str(directory / "artifacts"),
            ]
        self.log = open(directory / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=directory, env=env, stdout=self.log, stderr=self.log)
        self._wait(side)

    def _wait(self, side: str) -> None:
        path = "/api/v1/health" if side == "loopml" else "/health"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WorkerError(f"{side} server exited {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", path)
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise WorkerError(f"{side} server did not answer in 120 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _client_side(side: str, workload: str, params: dict[str, Any]) -> dict[str, Any]:
    with fresh_dir(f"server-{side}") as directory:
        server = _Server(side, directory)
        try:
            return run_worker(
                MLFLOW_PYTHON, CLIENT_WORKER, workload, {**params, "url": server.url}, directory
            )
        finally:
            server.stop()


def _mlflow_rows(quick: bool) -> list[Row]:
    reps = 1 if quick else 3
    single = 200 if quick else 1000
    runs = 100 if quick else 1000
    cases = [
        ("log_metric", {"n": single}, "single log_metric calls", 10.0),
        ("log_batch", {"n": 10_000}, "log_batch of 10k points", 5.0),
        ("search_runs", {"runs": runs, "repeats": 5}, f"search_runs over {runs:,} runs", 5.0),
    ]
    rows = []
    for workload, params, label, target in cases:
        # For single calls, also a server that answers at once: what the client costs alone.
        sides = ("loopml", "mlflow", "null") if workload == "log_metric" else ("loopml", "mlflow")
        results = alternate(
            reps,
            {side: (lambda s=side, w=workload, p=params: _client_side(s, w, p)) for side in sides},
            workload,
        )
        crashed = failure(results["loopml"]) or failure(results["mlflow"])
        if crashed:
            rows.append(
                Row(label, "crashed", "crashed", None, f">= {target:g}x", False, crashed[:200])
            )
            continue
        ours, theirs = median_of(results["loopml"]), median_of(results["mlflow"])
        if workload == "log_metric":
            shown = (rate(single, ours, "calls"), rate(single, theirs, "calls"))
        elif workload == "log_batch":
            shown = (ms(ours), ms(theirs))
        else:
            shown = (ms(ours), ms(theirs))
        ratio = theirs / ours
        stored = {
            side: results[side][-1].get("stored", results[side][-1].get("found"))
            for side in ("loopml", "mlflow")
        }
        rows.append(
            Row(
                label,
                shown[0],
                shown[1],
                ratio,
                f">= {target:g}x",
                ratio >= target,
                f"same MLflow client calls; stored {stored['loopml']} / {stored['mlflow']}",
                raw={side: results[side] for side in sides},
            )
        )
        if workload == "log_metric" and not failure(results["null"]):
            rows.extend(_server_time_rows(single, ours, theirs, median_of(results["null"])))
        if workload == "search_runs":
            rows.append(
                _search_server_row(
                    ours,
                    theirs,
                    median_of(results["loopml"], "client_seconds"),
                    median_of(results["mlflow"], "client_seconds"),
                )
            )
    return rows


def _search_server_row(ours: float, theirs: float, ours_client: float, theirs_client: float) -> Row:
    """``search_runs`` less what the client spends parsing the answer into runs."""
    mine, other = ours - ours_client, theirs - theirs_client
    ratio = other / mine if mine > 0 else None
    return Row(
        "search_runs, server time",
        ms(mine),
        ms(other),
        ratio,
        ">= 5x",
        None if ratio is None else ratio >= 5,
        f"the MLflow client spends {ms(ours_client)} / {ms(theirs_client)} of each search "
        f"turning the answer into runs, so no server could be more than "
        f"{theirs / ours_client:.1f}x faster end to end",
    )


def _server_time_rows(calls: int, ours: float, theirs: float, alone: float) -> list[Row]:
    """What each server adds per call: the call's time less the client's own (``alone``).

    The client's own time bounds the end-to-end ratio: with a server that took no time at
    all, single calls would be ``theirs / alone`` times faster than against MLflow's.
    """
    ceiling = theirs / alone
    ours_ms, theirs_ms = (ours - alone) / calls * 1000, (theirs - alone) / calls * 1000
    note = (
        f"the MLflow client alone (a server answering at once) manages "
        f"{rate(calls, alone, 'calls')}: {alone / calls * 1000:.2f} ms of every call is the "
        f"client's, so no server could be more than {ceiling:.1f}x faster end to end"
    )
    ratio = theirs_ms / ours_ms if ours_ms > 0 else None
    return [
        Row(
            "single log_metric, server time per call",
            f"{ours_ms:.2f} ms",
            f"{theirs_ms:.2f} ms",
            ratio,
            ">= 10x",
            None if ratio is None else ratio >= 10,
            note,
        )
    ]


def _median_request(port: int, path: str, repeats: int = 20) -> tuple[float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings, body = [], b""
    for _ in range(repeats + 2):
        start = time.perf_counter()
        conn.request("GET", path)
        reply = conn.getresponse()
        body = reply.read()
        timings.append(time.perf_counter() - start)
        if reply.status != 200:
            raise WorkerError(f"GET {path} answered {reply.status}: {body[:300]!r}")
    conn.close()
    return statistics.median(timings[2:]), body


def _scale_rows(quick: bool) -> list[Row]:
    import json

    from loopml.config import Settings
    from loopml.tracking import TrackingClient

    n_runs = 1000 if quick else 10_000
    n_points = 100_000 if quick else 1_000_000
    rows = []
    with fresh_dir("server-scale") as directory:
        settings = Settings.load(home=directory / "home")
        client = TrackingClient(settings, capture_env=False)
        say(f"  scale: logging {n_runs:,} runs x 20 metrics and a {n_points:,}-point history")
        start = time.perf_counter()
        for i in range(n_runs):
            run = client.create_run("scale", name=f"run-{i}")
            client.log_metrics(run.id, {f"m{k}": (i * k) % 97 / 97 for k in range(20)})
            client.end_run(run.id)
        chart = client.create_run("chart").id
        now = int(time.time() * 1000)
        chunk = 100_000
        for first in range(0, n_points, chunk):
            client.log_batch(
                chart, [("loss", 1 / (i + 1), i, now) for i in range(first, first + chunk)]
            )
        client.flush()
        client.close()
        say(f"  scale: store filled in {time.perf_counter() - start:.0f} s")
        os.environ["LOOPML_HOME"] = str(settings.home)
        server = _Server("loopml", directory)
        try:
            listed, body = _median_request(server.port, "/api/v1/runs?experiment=scale&limit=100")
            count = len(json.loads(body)["runs"])
            rows.append(
                Row(
                    f"run list of {n_runs:,} runs x 20 metrics (REST page of 100)",
                    ms(listed),
                    "—",
                    None,
                    "< 500 ms",
                    listed < 0.5,
                    f"{count} runs on the page",
                )
            )
            page, body = _median_request(server.port, "/experiments/scale")
            rows.append(
                Row(
                    f"web UI run table of {n_runs:,} runs x 20 metrics (one page)",
                    ms(page),
                    "—",
                    None,
                    "< 500 ms",
                    page < 0.5,
                    f"{len(body):,} bytes of HTML",
                )
            )
            drawn, body = _median_request(
                server.port, f"/api/v1/runs/{chart}/metrics/history?key=loss&max_points=2000"
            )
            points = len(json.loads(body)["metrics"])
            rows.append(
                Row(
                    f"metric chart of a {n_points:,}-point history",
                    ms(drawn),
                    "—",
                    None,
                    "< 200 ms, <= 2,000 points",
                    drawn < 0.2 and points <= 2000,
                    f"{points:,} points returned",
                )
            )
        finally:
            server.stop()
    return rows


def _concurrency_rows(quick: bool) -> list[Row]:
    """16 remote clients (processes) logging single points for 60 s at once."""
    from loopml.config import Settings
    from loopml.tracking import TrackingClient

    clients, seconds = (4, 5.0) if quick else (16, 60.0)
    with fresh_dir("server-concurrency") as directory:
        server = _Server("loopml", directory)
        try:
            say(f"  concurrency: {clients} remote clients logging for {seconds:.0f} s")
            procs = [
                subprocess.Popen(
                    [
                        str(LOOPML_PYTHON),
                        str(BENCH_DIR / "_remote_logger.py"),
                        server.url,
                        str(directory / f"client-{i}"),
                        str(seconds),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=worker_env(),
                )
                for i in range(clients)
            ]
            started = time.perf_counter()
            outputs = [proc.communicate(timeout=seconds + 1800) for proc in procs]
            took = time.perf_counter() - started  # logging, then draining to the server
        finally:
            server.stop()
        errors = [
            err[-300:]
            for proc, (_, err) in zip(procs, outputs, strict=True)
            if proc.returncode != 0
        ]
        logged = {}
        refused = 0
        for out, _ in outputs:
            if out.strip():
                run_id, points, failures = out.split()
                logged[run_id] = int(points)
                refused += int(failures)
        store = TrackingClient(Settings.load(home=directory / "home"), capture_env=False)
        stored = {run_id: len(store.get_metric_history(run_id, "loss")) for run_id in logged}
        store.close()
    lost = sum(logged.values()) - sum(stored.values())
    total = sum(stored.values())
    ok = not errors and not refused and lost == 0 and len(logged) == clients
    return [
        Row(
            f"{clients} remote clients logging for {seconds:.0f} s",
            rate(total, took, "points"),
            "—",
            None,
            "0 errors, nothing lost",
            ok,
            f"{total:,} points stored of {sum(logged.values()):,} logged in {took:.0f} s "
            f"(logging for {seconds:.0f} s, then every journal drained); "
            f"{len(errors)} client errors, {refused} refused",
        )
    ]


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    rows = _scale_rows(quick)
    rows += _concurrency_rows(quick)
    if MLFLOW_PYTHON.exists():
        rows += _mlflow_rows(quick)
    else:
        say(f"  {MLFLOW_PYTHON} is missing: run `make bench-setup` for the MLflow comparison")
    version = (
        subprocess.run(
            [str(MLFLOW_PYTHON), "-c", "import mlflow; print(mlflow.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if MLFLOW_PYTHON.exists()
        else "missing"
    )
    return rows, {"mlflow": version, "python": sys.version.split()[0], "method": METHOD}


if __name__ == "__main__":
    script_main("server", "MLflow server", run)
