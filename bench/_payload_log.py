"""The payload log's cost to serving: an identity model served with the log on and off.

    .venv/bin/python bench/_payload_log.py [--reps 3] [--seconds 8] [--json PATH]
        [--src LABEL=DIR ...] [--model identity|bc] [--workers N] [--monitor]

One worker (``loopml serve DEPLOYMENT --workers 1``) serves the identity pyfunc of
``_serving_worker.py`` (it returns its input) from two stored deployments, ``identity-on``
(the payload log on, the default) and ``identity-off`` (``--no-payload-log``), and wrk
sends each MLflow's ``dataframe_split`` body of breast_cancer's first row (30 columns), as
bench/serving.py does: 2 s of warm-up then ``--seconds`` measured at c1, the same at c16.
Each ``--src`` (default: the ``src`` next to this script) is a loopml source tree the
server imports (``PYTHONPATH``), so two writers can be compared in one run; the log-off
line uses the first. The order of the lines rotates from one repetition to the next and
each figure is the median of the repetitions. Besides wrk's req/s, p50 and p99 it reports
the server's CPU seconds per 1,000 requests (psutil, the whole process tree) and, for the
log-on lines, how many more predictions the payload log indexed than wrk saw answered
(never fewer: the server closes its writer when stopped; a few more are the replies wrk
stopped waiting for when its time was up).

``--model bc`` serves bench/serving.py's 50-tree forest instead of the identity model,
``--workers N`` runs N workers, and ``--monitor`` adds a line with the payload log on and a
monitor running: ``loopml monitor create`` on the deployment (breast_cancer's features as
the reference, 2,000-row windows) and, while wrk loads the server, a long-running process
(as the automation controller will be) computing the due windows every
``--monitor-every`` seconds (5 by default); the server's own follower also refreshes the
monitor's gauges after every poll. That is issue 13's "the payload log and a monitor
running".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _harness import BENCH_DIR, LOOPML_PYTHON, fresh_dir, run_worker, say
from _serving_load import Server, load, start, stop

from serving import PREPARE, bodies, create_deployment, loopml_server

WARMUP_S = 2


def _cpu_seconds(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _logged(home: Path, src: Path, deployment: str) -> int:
    """Predictions the payload log of ``deployment`` indexed (a fresh interpreter on ``src``)."""
    import subprocess

    code = (
        "import sys; from loopml.config import Settings; "
        "from loopml.monitoring.segments import list_segments; "
        f"print(sum(s.prediction_count for s in list_segments({deployment!r}, "
        f"settings=Settings.load(home={str(home)!r}))))"
    )
    done = subprocess.run(
        [str(LOOPML_PYTHON), "-c", code],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


_MONITOR_LOOP = """
import json, sys, time
from loopml.monitoring.monitors import MonitorClient
client, every, runs = MonitorClient(), float(sys.argv[2]), 0
while True:
    began = time.monotonic()
    made = client.run(sys.argv[1])
    runs += 1
    print(json.dumps({"runs": runs, "windows": len(made)}), flush=True)
    time.sleep(max(0.0, every - (time.monotonic() - began)))
"""


def _monitor_loop(home: Path, src: Path, monitor: str, every: float) -> tuple[Any, Any]:
    """A long-running process (as the automation controller will be) computing the due
    windows of ``monitor`` every ``every`` seconds until stopped."""
    import subprocess

    env = {**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": str(src)}
    process = subprocess.Popen(
        [str(LOOPML_PYTHON), "-c", _MONITOR_LOOP, monitor, str(every)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return process, {}


def _create_monitor(home: Path, deployment: str) -> None:
    import subprocess

    from sklearn.datasets import load_breast_cancer

    reference = home / "bc-reference.parquet"
    load_breast_cancer(as_frame=True).data.to_parquet(reference)
    subprocess.run(
        [str(LOOPML_PYTHON), "-m", "loopml", "monitor", "create", deployment, "--reference",
         str(reference), "--window", "2000 rows", "--replace", "--no-predictions"],
        env={**os.environ, "LOOPML_HOME": str(home)}, check=True, capture_output=True,
        timeout=600,
    )  # fmt: skip


def measure(
    server: Server, seconds: int, logs: Path, monitor: tuple[Path, Path, str, float] | None = None
) -> dict[str, Any]:
    running = start(server, logs)
    result: dict[str, Any] = {}
    looping = None if monitor is None else _monitor_loop(*monitor)
    answered = 1  # the cold start's first 200
    try:
        for connections in (1, 16):
            answered += load(running, connections, WARMUP_S, logs)["requests"]
            before = _cpu_seconds(running.process.pid)
            measured = load(running, connections, seconds, logs)
            cpu = _cpu_seconds(running.process.pid) - before
            requests = measured["requests"]
            result[f"c{connections}"] = {
                "rps": measured["rps"],
                "p50_ms": measured["p50"] * 1000,
                "p99_ms": measured["p99"] * 1000,
                "errors": measured["errors"],
                "cpu_ms_per_request": cpu * 1000 / max(requests, 1),
            }
            answered += requests
    finally:
        stop(running)
        if looping is not None:
            process, _ = looping
            process.terminate()
            out, err = process.communicate(timeout=60)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            last = json.loads(lines[-1]) if lines else {"runs": 0, "windows": 0}
            windows = sum(json.loads(line)["windows"] for line in lines)
            result["monitor_runs"] = {"runs": last["runs"], "windows": windows,
                                      "stderr": err[-300:] if not lines else ""}  # fmt: skip
    result["requests_answered"] = answered  # warm-ups included: the log keeps them too
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--src", action="append", default=[], metavar="LABEL=DIR")
    parser.add_argument("--model", choices=("identity", "bc"), default="identity")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--monitor", action="store_true")
    parser.add_argument("--monitor-every", type=float, default=5.0, metavar="SECONDS")
    args = parser.parse_args()
    sources = [tuple(item.split("=", 1)) for item in args.src] or [("src", "")]
    srcs = {label: Path(path or BENCH_DIR.parent / "src").resolve() for label, path in sources}
    split, _ = bodies()
    results: dict[str, list[dict[str, Any]]] = {}
    with fresh_dir("payload") as home, fresh_dir("payload-logs") as logs:
        say(f"payload log: preparing the {args.model} model")
        run_worker(LOOPML_PYTHON, PREPARE, "loopml", {}, home)
        on, off = f"{args.model}-on", f"{args.model}-off"
        for name, flags in ((on, ()), (off, ("--no-payload-log",))):
            blocked = create_deployment(home, name, args.model, *flags)
            if blocked:
                raise SystemExit(blocked)
        first = next(iter(srcs))
        lines: list[tuple[str, str, Path]] = [("log off", off, srcs[first])]
        lines += [(f"log on ({label})", on, path) for label, path in srcs.items()]
        if args.monitor:
            _create_monitor(home, on)
            lines.append(("log on + monitor", on, srcs[first]))
        for rep in range(args.reps):
            order = lines[rep % len(lines) :] + lines[: rep % len(lines)]
            for label, deployment, src in order:
                os.environ["PYTHONPATH"] = str(src)  # loopml_server keeps it, after home
                server = loopml_server(
                    label, deployment, home, split, workers=args.workers, importable=home
                )
                logged_before = _logged(home, src, deployment)
                started = time.perf_counter()
                watch = (
                    (home, src, deployment, args.monitor_every)
                    if label == "log on + monitor"
                    else None
                )
                result = measure(server, args.seconds, logs, watch)
                if deployment == on:
                    logged = _logged(home, src, deployment) - logged_before
                    # 0 or a little above: wrk does not count the replies still on their
                    # way when its time is up, and the log keeps those too
                    result["logged_minus_answered"] = logged - result["requests_answered"]
                result["wall_s"] = time.perf_counter() - started
                results.setdefault(label, []).append(result)
                say(f"payload log: rep {rep + 1} {label}: {json.dumps(result)}")
    print(f"{'line':<24} {'c1 req/s':>9} {'c1 p50':>8} {'c1 p99':>8} {'c1 cpu/req':>10} "
          f"{'c16 req/s':>9} {'c16 p50':>8} {'c16 p99':>8} {'c16 cpu/req':>11}")  # fmt: skip
    for label, runs in results.items():
        cells = []
        for c in ("c1", "c16"):
            med = {k: statistics.median(r[c][k] for r in runs) for k in runs[0][c]}
            cells += [f"{med['rps']:9.0f}", f"{med['p50_ms']:6.2f}ms", f"{med['p99_ms']:6.2f}ms",
                      f"{med['cpu_ms_per_request']:8.3f}ms"]  # fmt: skip
        print(f"{label:<24} " + " ".join(cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
