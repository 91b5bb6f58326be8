"""The ZenML side of the pipelines benchmark; runs in ``bench/.venv-zenml``.

    bench/.venv-zenml/bin/python bench/_zenml_worker.py WORKLOAD '{"steps": 100}' /tmp/fresh-dir

The mirror image of ``_loopml_pipelines_worker.py`` (the same pipeline shape, workload names
and parameters; see there). ZenML keeps everything in the given directory: its global
config (``ZENML_CONFIG_PATH``) with the default local SQLite store and local artifact store,
and a ``zenml init`` repository (``Client.initialize``); the default stack, i.e. the local
orchestrator, which runs the steps in this process; caching on (ZenML's default); analytics
off and logging at ERROR, so nothing leaves the machine. ZenML must import the steps from a
source root that holds this file, so ``ZENML_CUSTOM_SOURCE_ROOT`` is ``bench/``.

This file must run with ZenML's interpreter only: it imports nothing from loopml.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":  # before ZenML reads its settings at import
    _HOME = Path(sys.argv[3])
    os.environ.update(
        {
            "ZENML_CONFIG_PATH": str(_HOME / "zenml-config"),
            "ZENML_REPOSITORY_PATH": str(_HOME),
            "ZENML_CUSTOM_SOURCE_ROOT": str(HERE),
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_LOGGING_VERBOSITY": "ERROR",
            "ZENML_ENABLE_RICH_TRACEBACK": "false",
            "ZENML_LOGGING_COLORS_DISABLED": "true",
            "AUTO_OPEN_DASHBOARD": "false",
        }
    )

_IMPORT_START = time.perf_counter()
from zenml import pipeline, step  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _IMPORT_START

from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from _worker import BODY, body_done, diamond_shape, expect, peak_rss_mb, profiled, run  # noqa: E402


@step
def source(seed: int) -> int:
    started = time.perf_counter()
    return body_done(started, seed)


@step
def left(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 1)


@step
def right(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 2)


@step
def join(a: int, b: int) -> int:
    started = time.perf_counter()
    return body_done(started, max(a, b) + 1)


@step
def inc(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 1)


@pipeline
def diamonds(steps: int = 100, seed: int = 0) -> None:
    x = source(seed)
    built = 1
    while steps - built >= 3:
        x = join(left(x), right(x))
        built += 3
    for _ in range(steps - built):
        x = inc(x)


# -- workloads -------------------------------------------------------------------------


def overhead(home: Path, steps: int, warmup_steps: int, profile: str = "") -> dict[str, Any]:
    """One ``steps``-step run after an untimed small one (another seed: no cache hits)."""
    _open(home)
    warmup = _timed_run(warmup_steps, seed=1_000_000)
    rss_before = peak_rss_mb()
    result = _timed_run(steps, seed=0, profile=profile)
    expect("ZenML", result["body_calls"], steps, "step bodies run")
    return {
        **result,
        "overhead_s": (result["seconds"] - result["body_seconds"]) / steps,
        "warmup_seconds": warmup["seconds"],
        "rss_before_mb": rss_before,
        "rss_mb": peak_rss_mb(),
    }


def cached(home: Path, steps: int, profile: str = "") -> dict[str, Any]:
    """A run, then the same run again in this process (every step cached)."""
    _open(home)
    first = _timed_run(steps, seed=0)
    expect("ZenML", first["body_calls"], steps, "step bodies run by the first run")
    again = _timed_run(steps, seed=0, profile=profile)
    expect("ZenML", again["body_calls"], 0, "step bodies run by the cached re-run")
    expect("ZenML", again["cached"], steps, "cached steps")
    return {**again, "first_seconds": first["seconds"]}


def prepare(home: Path, steps: int) -> dict[str, Any]:
    """The first run, for :func:`cached_fresh` in another process."""
    _open(home)
    result = _timed_run(steps, seed=0)
    expect("ZenML", result["body_calls"], steps, "step bodies run")
    return result


def cached_fresh(home: Path, steps: int, profile: str = "") -> dict[str, Any]:
    """The re-run of :func:`prepare`'s run in a fresh process, timed from after the import.

    The timed part covers everything after ``from zenml import pipeline, step``: opening
    the client and its store, the lazy imports a first run does, compiling and the run.
    """
    start = time.perf_counter()
    with profiled(profile):
        _open(home)
        result = _timed_run(steps, seed=0)
    seconds = time.perf_counter() - start
    expect("ZenML", result["body_calls"], 0, "step bodies run by the cached re-run")
    expect("ZenML", result["cached"], steps, "cached steps")
    return {
        **result,
        "run_seconds": result["seconds"],
        "seconds": seconds,
        "import_seconds": IMPORT_SECONDS,
    }


# -- helpers ---------------------------------------------------------------------------


def _open(home: Path) -> None:
    """``zenml init`` in ``home`` (once), and the client on its local store."""
    from zenml.client import Client

    if not (home / ".zen").exists():
        Client.initialize(root=home)
    Client().active_stack_model  # noqa: B018  (connects to the store)


def _timed_run(steps: int, *, seed: int, profile: str = "") -> dict[str, Any]:
    from zenml.enums import ExecutionStatus

    BODY[:] = [0.0, 0.0]
    start = time.perf_counter()
    with profiled(profile):
        result = diamonds(steps=steps, seed=seed)
    seconds = time.perf_counter() - start
    body_seconds, body_calls = BODY
    last, want = diamond_shape(steps, seed)
    expect("ZenML", result.status, ExecutionStatus.COMPLETED, "run status")
    step_runs = result.steps
    expect("ZenML", len(step_runs), steps, "steps")
    expect("ZenML", step_runs[last].output.load(), want, f"value of {last}")
    statuses = [s.status for s in step_runs.values()]
    return {
        "steps": steps,
        "seconds": seconds,
        "body_seconds": body_seconds,
        "body_calls": int(body_calls),
        "cached": statuses.count(ExecutionStatus.CACHED),
    }


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "overhead": overhead,
    "cached": cached,
    "prepare": prepare,
    "cached_fresh": cached_fresh,
}

if __name__ == "__main__":
    run(WORKLOADS)
