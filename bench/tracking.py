"""Experiment tracking: loopml against MLflow on the same workloads, in one run.

    .venv/bin/python bench/tracking.py [--quick] [--json PATH]

Every workload runs in worker processes (``_loopml_worker.py`` in this interpreter,
``_mlflow_worker.py`` in ``bench/.venv-mlflow``), each on a fresh temporary store:
loopml on ``Settings.load(home=tmp)`` (SQLite), MLflow on ``sqlite:///tmp/mlflow.db`` with
a file artifact root. The two sides alternate, the side that goes first rotating each
repetition, and the median repetition is reported. MLflow is ~100-1000 times slower on some
workloads, so it runs them at a smaller size; those lines compare per-second rates.
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import (
    BENCH_DIR,
    LOOPML_PYTHON,
    Row,
    WorkerError,
    alternate,
    count,
    failure,
    fresh_dir,
    median_of,
    ms,
    python_one_liner,
    rate,
    run_worker,
    say,
    script_main,
    secs,
)

MLFLOW_PYTHON = BENCH_DIR / ".venv-mlflow" / "bin" / "python"
WORKERS = {
    "loopml": (LOOPML_PYTHON, BENCH_DIR / "_loopml_worker.py"),
    "mlflow": (MLFLOW_PYTHON, BENCH_DIR / "_mlflow_worker.py"),
}


@dataclass(frozen=True)
class Sizes:
    """How much work each side does; MLflow's side is smaller where it is slow."""

    reps: int
    log_metric: tuple[int, int]  # single calls: loopml, MLflow
    log_batch: tuple[int, int]  # points
    chunk: int  # points per log_batch call, both sides (MLflow's limit is 1000)
    create_runs: tuple[int, int]
    search_runs: tuple[int, int, int]  # loopml big, loopml like-for-like, MLflow
    search_repeats: int
    max_results: int
    imports: int
    rss_points: tuple[int, int]
    rss_reps: int


FULL = Sizes(
    reps=5,
    log_metric=(200_000, 500),
    log_batch=(1_000_000, 10_000),
    chunk=1_000,
    create_runs=(2_000, 100),
    search_runs=(10_000, 1_000, 1_000),
    search_repeats=5,
    max_results=1_000,
    imports=5,
    rss_points=(1_000_000, 10_000),
    rss_reps=1,
)
QUICK = Sizes(
    reps=1,
    log_metric=(20_000, 50),
    log_batch=(50_000, 2_000),
    chunk=1_000,
    create_runs=(200, 10),
    search_runs=(500, 100, 100),
    search_repeats=3,
    max_results=1_000,
    imports=2,
    rss_points=(50_000, 2_000),
    rss_reps=1,
)
SCALED = "MLflow runs a smaller N (it is far slower); the ratio compares per-second rates"


def worker(side: str, workload: str, **params: Any) -> Callable[[], dict[str, Any]]:
    """A callable that runs one workload for one side in a fresh directory."""
    python, script = WORKERS[side]

    def call() -> dict[str, Any]:
        with fresh_dir(f"{side}-{workload}") as directory:
            return run_worker(python, script, workload, params, directory)

    return call


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    if not MLFLOW_PYTHON.exists():
        raise SystemExit(f"{MLFLOW_PYTHON} is missing: run `make bench-setup` first")
    sizes = QUICK if quick else FULL
    versions = collect_versions()
    say(f"tracking: loopml {versions['loopml']} vs MLflow {versions['mlflow']}")
    rows: list[Row] = [
        bench_log_metric(sizes),
        bench_log_batch(sizes),
        bench_create_runs(sizes),
        *bench_search(sizes),
        *bench_import(sizes),
        bench_rss(sizes),
    ]
    _add_read_back_rss(rows[1], rows[-1])
    if quick:  # the targets are stated for the full sizes
        for row in rows:
            row.passed = None
            row.target = f"({row.target})" if row.target != "—" else row.target
    return rows, versions


# -- the workloads ---------------------------------------------------------------------


def bench_log_metric(sizes: Sizes) -> Row:
    n_loopml, n_mlflow = sizes.log_metric
    results = alternate(
        sizes.reps,
        {
            "loopml": worker("loopml", "log_metric", n=n_loopml),
            "mlflow": worker("mlflow", "log_metric", n=n_mlflow),
        },
        "log_metric",
    )
    return _rate_row(
        "log_metric, single calls (fluent API)",
        results,
        unit="calls",
        target=("≥ 20,000 calls/s", lambda loopml_rate, _: loopml_rate >= 20_000),
        note=(
            "loopml.log_metric inside loopml.start_run(), timed until flush() has ingested "
            "every point; mlflow.log_metric inside mlflow.start_run(), synchronous. "
            f"loopml N={count(n_loopml)}, MLflow N={count(n_mlflow)}; {SCALED}"
        ),
    )


def bench_log_batch(sizes: Sizes) -> Row:
    n_loopml, n_mlflow = sizes.log_batch
    results = alternate(
        sizes.reps,
        {
            "loopml": worker("loopml", "log_batch", n=n_loopml, chunk=sizes.chunk),
            "mlflow": worker("mlflow", "log_batch", n=n_mlflow, chunk=sizes.chunk),
        },
        "log_batch",
    )
    return _rate_row(
        "log_batch until get_metric_history returns all",
        results,
        unit="points",
        target=("1M points < 10 s", lambda _, seconds: seconds < 10),
        note=(
            f"{count(sizes.chunk)} points per log_batch call on both sides (MLflow's limit), "
            "timed from the first call until get_metric_history returns every point. "
            f"loopml N={count(n_loopml)}, MLflow N={count(n_mlflow)}; {SCALED}"
        ),
    )


def bench_create_runs(sizes: Sizes) -> Row:
    n_loopml, n_mlflow = sizes.create_runs
    results = alternate(
        sizes.reps,
        {
            "loopml": worker("loopml", "create_runs", n=n_loopml),
            "mlflow": worker("mlflow", "create_runs", n=n_mlflow),
        },
        "create_runs",
    )
    return _rate_row(
        "runs created (create + end)",
        results,
        unit="runs",
        target=("≥ 500 runs/s", lambda loopml_rate, _: loopml_rate >= 500),
        note=(
            "loopml TrackingClient.create_run + end_run (default environment capture); "
            "mlflow.start_run + mlflow.end_run (default context tags). "
            f"loopml N={count(n_loopml)}, MLflow N={count(n_mlflow)}; {SCALED}"
        ),
    )


def bench_search(sizes: Sizes) -> list[Row]:
    """Search over populated stores; population is not timed and is done once per store.

    Each repetition searches a fresh copy of the populated store, so no repetition sees
    another's caches or leftovers; population itself (minutes for MLflow) is not repeated.
    """
    big, small, n_mlflow = sizes.search_runs
    # label -> (side, number of runs); "loopml-small" is the like-for-like store.
    stores = {"loopml": ("loopml", big), "mlflow": ("mlflow", n_mlflow)}
    stores["loopml-small"] = ("loopml", small)
    with fresh_dir("search-stores") as root:
        populated = {
            label: _populate(root / label, side, runs) for label, (side, runs) in stores.items()
        }

        def searcher(label: str) -> Callable[[], dict[str, Any]]:
            side, runs = stores[label]
            python, script = WORKERS[side]
            params = {
                "runs": runs,
                "repeats": sizes.search_repeats,
                "max_results": sizes.max_results,
            }

            def call() -> dict[str, Any]:
                if "error" in populated[label]:
                    raise WorkerError("population failed: " + populated[label]["error"])
                with fresh_dir(f"{side}-search") as copy:
                    shutil.copytree(root / label, copy, dirs_exist_ok=True)
                    result = run_worker(python, script, "search", params, copy)
                result["seconds"] = statistics.median(result["timings"])
                return result

            return call

        results = alternate(sizes.reps, {label: searcher(label) for label in stores}, "search")
    like = {"loopml": results["loopml-small"], "mlflow": results["mlflow"]}
    method = (
        "filter 'metrics.acc > 0.5' (about half the runs match), each run has 3 params "
        f"and 3 metrics; median of {sizes.search_repeats} searches per repetition, median over "
        f"{sizes.reps} repetitions; max_results={sizes.max_results}; population not timed"
    )
    big_row = _time_row(
        f"search_runs with a metric filter, {count(big)} runs",
        {"loopml": results["loopml"], "mlflow": []},
        target=("< 200 ms", lambda seconds: seconds < 0.2),
        note=f"MLflow: see the {count(n_mlflow)}-run line; {method}",
        show=ms,
    )
    big_row.raw["populate"] = populated["loopml"]
    small_row = _time_row(
        f"search_runs with a metric filter, {count(small)} runs",
        like,
        target=None,
        note=method,
        show=ms,
    )
    small_row.raw["populate"] = {"loopml": populated["loopml-small"], "mlflow": populated["mlflow"]}
    return [big_row, small_row]


def _populate(directory: Path, side: str, runs: int) -> dict[str, Any]:
    directory.mkdir()
    python, script = WORKERS[side]
    try:
        result = run_worker(python, script, "populate", {"runs": runs}, directory)
    except WorkerError as err:
        result = {"error": str(err)}
    say(f"  search: populated a {side} store with {count(runs)} runs: {result}")
    return result


PYTHONS = {"loopml": LOOPML_PYTHON, "mlflow": MLFLOW_PYTHON}
IMPORT_CODE = (
    "import time; t = time.perf_counter(); import {module}{touch}; print(time.perf_counter() - t)"
)


def bench_import(sizes: Sizes) -> list[Row]:
    """``import loopml`` / ``import mlflow`` in fresh interpreters (after one warm-up each)."""
    rows = []
    cases = [
        ("import, fresh interpreter", "", "", ("< 0.3 s", lambda s: s < 0.3)),
        (
            "import + first use of the client class",
            "; loopml.TrackingClient",
            "; mlflow.MlflowClient",
            None,
        ),
    ]
    for title, touch_loopml, touch_mlflow, target in cases:
        code = {
            "loopml": IMPORT_CODE.format(module="loopml", touch=touch_loopml),
            "mlflow": IMPORT_CODE.format(module="mlflow", touch=touch_mlflow),
        }
        for side in code:  # warm-up: compiled bytecode and the OS file cache
            python_one_liner(PYTHONS[side], code[side])

        def timed(side: str, code: dict[str, str] = code) -> Callable[[], dict[str, Any]]:
            return lambda: {"seconds": float(python_one_liner(PYTHONS[side], code[side]))}

        results = alternate(
            sizes.imports, {"loopml": timed("loopml"), "mlflow": timed("mlflow")}, "import"
        )
        rows.append(
            _time_row(
                title,
                results,
                target=target,
                note=f"median of {sizes.imports} fresh interpreters each, after a warm-up",
                show=secs,
            )
        )
    return rows


def bench_rss(sizes: Sizes) -> Row:
    n_loopml, n_mlflow = sizes.rss_points
    results = alternate(
        sizes.rss_reps,
        {
            "loopml": worker("loopml", "rss", n=n_loopml, chunk=sizes.chunk),
            "mlflow": worker("mlflow", "rss", n=n_mlflow, chunk=sizes.chunk),
        },
        "rss",
    )
    row = Row(
        workload=f"peak RSS, logging {count(n_loopml)} points",
        loopml="",
        anchor="",
        ratio=None,
        target="< 300 MB",
        passed=None,
        note=(
            f"ru_maxrss of the whole worker process; MLflow logged only {count(n_mlflow)} "
            "points, so no ratio (its number is mostly its import)"
        ),
        raw=results,
    )
    loopml_error, mlflow_error = failure(results["loopml"]), failure(results["mlflow"])
    loopml_mb = None if loopml_error else median_of(results["loopml"], "rss_mb")
    row.loopml = "crashed" if loopml_mb is None else f"{loopml_mb:,.0f} MB"
    row.passed = loopml_mb is not None and loopml_mb < 300
    if mlflow_error:
        row.anchor = "crashed"
    else:
        row.anchor = f"{median_of(results['mlflow'], 'rss_mb'):,.0f} MB ({count(n_mlflow)} pts)"
    row.note = _with_errors(row.note, loopml_error, mlflow_error)
    return row


def _add_read_back_rss(log_batch: Row, rss: Row) -> None:
    """Say on the RSS line how much the log_batch workers, which read every point back, used."""
    peaks = []
    for side, name in (("loopml", "loopml"), ("mlflow", "MLflow")):
        results = log_batch.raw.get(side, [])
        if results and not failure(results):
            peak = median_of(results, "rss_mb")
            peaks.append(f"{name} {peak:,.0f} MB ({count(results[0]['n'])} points)")
    if peaks:
        rss.note += (
            "; for comparison, the log_batch workers, which also read every point back with "
            "get_metric_history, peaked at " + " and ".join(peaks)
        )


# -- rows ------------------------------------------------------------------------------


def _rate_row(
    workload: str,
    results: dict[str, list[dict[str, Any]]],
    *,
    unit: str,
    target: tuple[str, Callable[[float, float], bool]],
    note: str,
) -> Row:
    """A line whose numbers are rates (``n`` per ``seconds``); higher is better."""
    loopml_error, mlflow_error = failure(results["loopml"]), failure(results["mlflow"])
    row = Row(workload, "crashed", "crashed", None, target[0], False, note, raw=results)
    rates = {}
    for side, error in (("loopml", loopml_error), ("mlflow", mlflow_error)):
        if error:
            continue
        seconds = median_of(results[side])
        n = results[side][0]["n"]
        rates[side] = n / seconds
        text = f"{rate(n, seconds, unit)} ({count(n)} in {secs(seconds)})"
        if side == "loopml":
            row.loopml = text
            row.passed = target[1](rates[side], seconds)
        else:
            row.anchor = text
    if len(rates) == 2:
        row.ratio = rates["loopml"] / rates["mlflow"]
    row.note = _with_errors(note, loopml_error, mlflow_error)
    return row


def _time_row(
    workload: str,
    results: dict[str, list[dict[str, Any]]],
    *,
    target: tuple[str, Callable[[float], bool]] | None,
    note: str,
    show: Callable[[float], str],
) -> Row:
    """A line whose numbers are durations of the same work; lower is better."""
    loopml_error, mlflow_error = failure(results["loopml"]), failure(results["mlflow"])
    passed = False if target is not None else None
    row = Row(workload, "crashed", "—", None, target[0] if target else "—", passed, note)
    row.raw = results
    seconds = {}
    for side, error in (("loopml", loopml_error), ("mlflow", mlflow_error)):
        if error:
            if side == "mlflow":
                row.anchor = "crashed"
            continue
        if not results[side]:
            continue
        seconds[side] = median_of(results[side])
        if side == "loopml":
            row.loopml = show(seconds[side])
            if target is not None:
                row.passed = target[1](seconds[side])
        else:
            row.anchor = show(seconds[side])
    if len(seconds) == 2 and seconds["loopml"] > 0:
        row.ratio = seconds["mlflow"] / seconds["loopml"]
    row.note = _with_errors(note, loopml_error, mlflow_error)
    return row


def _with_errors(note: str, loopml_error: str | None, mlflow_error: str | None) -> str:
    for side, error in (("loopml", loopml_error), ("MLflow", mlflow_error)):
        if error:
            note += f"; {side} CRASHED: {' '.join(error.split())[:600]}"
    return note


# -- versions --------------------------------------------------------------------------

_VERSIONS_CODE = """
import importlib.metadata as m, json, platform, sqlite3
names = {names!r}
out = {{n: m.version(n) for n in names}}
out["python"] = platform.python_version()
out["sqlite"] = sqlite3.sqlite_version
print(json.dumps(out))
"""


def collect_versions() -> dict[str, Any]:
    import json

    loopml = json.loads(
        python_one_liner(LOOPML_PYTHON, _VERSIONS_CODE.format(names=["loopml", "sqlalchemy"]))
    )
    mlflow = json.loads(
        python_one_liner(MLFLOW_PYTHON, _VERSIONS_CODE.format(names=["mlflow", "sqlalchemy"]))
    )
    return {
        "loopml": loopml["loopml"],
        "mlflow": mlflow["mlflow"],
        "loopml_env": loopml,
        "mlflow_env": mlflow,
        "mlflow_python": str(Path(MLFLOW_PYTHON)),
    }


if __name__ == "__main__":
    script_main("tracking", "MLflow", run)
