"""What every benchmark worker shares: its command line, its result line, its measures.

A worker is started as ``PYTHON bench/_<side>_worker.py WORKLOAD 'PARAMS-JSON' DIRECTORY``
by :mod:`_harness`, in loopml's interpreter or an anchor's (MLflow, DVC, Feast). Each is
a script in ``bench/``, so this module is importable from all of them, and it uses the
standard library only: it must load in every one of those virtualenvs.

Example:
    >>> percentiles([0.3, 0.1, 0.2])
    (0.2, 0.3)
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

RESULT_MARK = "BENCH_RESULT "
Workload = Callable[..., dict[str, Any]]


def run(workloads: Mapping[str, Workload], *, as_script_in_directory: bool = False) -> None:
    """Run the workload the command line names and print its result line.

    Args:
        workloads: the worker's workloads by name.
        as_script_in_directory: make ``sys.argv[0]`` a script in the fresh directory, so a
            tool that records the git state of the script it runs in finds none.
    """
    workload, params_json, directory = sys.argv[1:4]
    home = Path(directory)
    if as_script_in_directory:
        sys.argv[0] = str(home / "train.py")
    result = workloads[workload](home, **json.loads(params_json))
    result.setdefault("rss_mb", peak_rss_mb())  # workloads may take it earlier
    report(result)


def report(result: dict[str, Any]) -> None:
    """The one line :mod:`_harness` reads a worker's result from."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def peak_rss_mb() -> float:
    """This process's peak RSS since it started, in MiB.

    Linux's ``VmHWM``: ``getrusage``'s ``ru_maxrss`` would report at least the parent's
    peak, which the kernel carries over into the child across fork and exec.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(work: Callable[[], object]) -> float:
    """Seconds ``work()`` took."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def repeat(query: Callable[[], int], repeats: int) -> tuple[list[float], int]:
    """Time ``query`` ``repeats`` times; the timings and what its last call returned."""
    timings = []
    matched = 0
    for _ in range(repeats):
        start = time.perf_counter()
        matched = query()
        timings.append(time.perf_counter() - start)
    return timings, matched


def percentiles(samples: list[float]) -> tuple[float, float]:
    """The p50 and p99 of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    last = len(ordered) - 1
    return ordered[round(0.50 * last)], ordered[round(0.99 * last)]


def list_files(root: Path) -> list[Path]:
    """Every file below ``root``, sorted."""
    return sorted(Path(folder, name) for folder, _, names in os.walk(root) for name in names)


def posix_fadvise_works() -> bool:
    return hasattr(os, "posix_fadvise")


def evict(files: list[Path]) -> bool:
    """Drop the files' clean pages from the OS file cache; False where that is not possible."""
    if not posix_fadvise_works():
        return False
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def training_check(out: Any) -> dict[str, Any]:
    """What the sides' training sets are compared on: rows, non-null values, their sum.

    Also over distinct entity rows (``driver_id``, ``event_timestamp``), since a side may
    return a repeated entity row once.
    """
    values = out["f0"].dropna()
    distinct = out.drop_duplicates(["driver_id", "event_timestamp"])["f0"].dropna()
    return {
        "rows": len(out),
        "nonnull": len(values),
        "f0_sum": round(float(values.sum()), 6),
        "distinct_nonnull": len(distinct),
        "distinct_f0_sum": round(float(distinct.sum()), 6),
    }


def online_check(columns: dict[str, list[Any]]) -> float:
    """What the sides' online answers are compared on: the sum of feature ``f0``."""
    return round(sum(v for v in columns["f0"] if v is not None), 9)


# -- the pipelines benchmark: what its three sides (loopml, ZenML, Kedro) share ----------

# [seconds spent inside step bodies, step bodies run] in this process.
BODY: list[float] = [0.0, 0.0]


def body_done(started: float, value: int) -> int:
    """Count one step body that started at ``started`` and return its ``value``."""
    BODY[0] += time.perf_counter() - started
    BODY[1] += 1
    return value


def diamond_shape(steps: int, seed: int) -> tuple[str, int]:
    """The id of the last step of the diamonds pipeline and the value it returns.

    ``steps`` no-op steps: ``source(seed)``, as many diamonds as fit (``x+1`` and ``x+2``
    joined by ``max+1``), then ``x+1`` steps; a repeated step's id gets ``_<n>``.
    """
    count, rest = divmod(steps - 1, 3)
    name, calls = ("inc", rest) if rest else ("join", count)
    return (name if calls == 1 else f"{name}_{calls}"), seed + 3 * count + rest


@contextlib.contextmanager
def profiled(path: str) -> Iterator[None]:
    """cProfile the block into ``path`` (nothing when ``path`` is empty)."""
    if not path:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


def expect(side: str, got: object, want: object, what: str) -> None:
    """Stop the worker when a side did not compute what the benchmark asked of it."""
    if got != want:
        raise SystemExit(f"{side}: expected {want!r} {what}, got {got!r}")


# -- the registry benchmark: what its two sides (loopml, MLflow) share -------------------

FOREST_TREES = 50


def breast_cancer_forest() -> tuple[Any, Any]:
    """The model both sides log, and the data it was fitted on (a pandas DataFrame).

    ``RandomForestClassifier(n_estimators=50, random_state=0)`` on scikit-learn's bundled
    breast-cancer data (569 rows, 30 columns; no download), so both sides save the same
    trees. scikit-learn is imported here, not at the top: this module loads without it.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=0)
    return forest.fit(features, target), features


def temp_inside(home: Path) -> None:
    """Make this process's temporary files go below ``home`` (removed with it).

    MLflow copies a model's files into a new temporary folder on every load and never
    removes it; loopml's ``log_model`` stages the package in one.
    """
    import tempfile

    (home / "tmp").mkdir(exist_ok=True)
    tempfile.tempdir = str(home / "tmp")


def positives(predictions: Any) -> int:
    """What the sides' loaded models are compared on: how many rows they predict as 1."""
    return int(sum(int(p) for p in predictions))


def folder_bytes(root: Path) -> int:
    """The size of every file below ``root``."""
    return sum(path.stat().st_size for path in list_files(root))
