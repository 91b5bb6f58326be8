"""The loopml side of the pipelines benchmark; runs in the project's ``.venv``.

    .venv/bin/python bench/_loopml_pipelines_worker.py WORKLOAD '{"steps": 100}' /tmp/fresh-dir

The mirror image of ``_zenml_worker.py`` and ``_kedro_worker.py``: the same pipeline
shape (below), the same workload names and parameters, a fresh store in the given directory
(``Settings.load(home=directory / "loopml")``: SQLite metadata, local artifacts, tracking
and lineage on), one ``BENCH_RESULT {json}`` line on stdout. Only the workload is timed.
Also holds the bare ``concurrent.futures`` process-pool floor (``pool``: no loopml).

The shape, ``steps`` no-op steps: ``source(seed)``, then as many diamonds as fit
(``left(x) = x + 1`` and ``right(x) = x + 2`` both read ``x``; ``join(a, b) = max(a, b) + 1``),
then ``inc(x) = x + 1`` for the remaining steps. Every value is a small int, none repeats
(so no step hits the cache of another), and the last one is ``seed + 3 * diamonds + rest``.
Each step body adds its own duration to :data:`BODY`, so the overhead is the run's wall
time less that.

``profile`` (a path) in a workload's parameters writes a cProfile of the timed run there.
"""

from __future__ import annotations

import time

_IMPORT_START = time.perf_counter()
import loopml  # noqa: E402  (its import is timed for the fresh-process line)

IMPORT_SECONDS = time.perf_counter() - _IMPORT_START

import concurrent.futures  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _worker import BODY, body_done, diamond_shape, expect, peak_rss_mb, profiled, run  # noqa: E402


@loopml.step
def source(seed: int) -> int:
    started = time.perf_counter()
    return body_done(started, seed)


@loopml.step
def left(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 1)


@loopml.step
def right(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 2)


@loopml.step
def join(a: int, b: int) -> int:
    started = time.perf_counter()
    return body_done(started, max(a, b) + 1)


@loopml.step
def inc(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 1)


@loopml.pipeline
def diamonds(steps: int = 100, seed: int = 0) -> None:
    x = source(seed)
    built = 1
    while steps - built >= 3:
        x = join(left(x), right(x))
        built += 3
    for _ in range(steps - built):
        x = inc(x)


# -- workloads -------------------------------------------------------------------------


def overhead(
    home: Path, steps: int, warmup_steps: int, executor: str = "local", profile: str = ""
) -> dict[str, Any]:
    """One ``steps``-step run after an untimed small one (another seed: no cache hits)."""
    settings = _settings(home)
    warmup = _timed_run(settings, warmup_steps, seed=1_000_000, executor=executor)
    rss_before = peak_rss_mb()
    result = _timed_run(settings, steps, seed=0, executor=executor, profile=profile)
    expect("loopml", result["body_calls"], steps, "step bodies run")
    return {
        **result,
        "overhead_s": (result["seconds"] - result["body_seconds"]) / steps,
        "warmup_seconds": warmup["seconds"],
        "rss_before_mb": rss_before,
        "rss_mb": peak_rss_mb(),
    }


def cached(home: Path, steps: int, profile: str = "") -> dict[str, Any]:
    """A run, then the same run again in this process (every step cached)."""
    settings = _settings(home)
    first = _timed_run(settings, steps, seed=0)
    expect("loopml", first["body_calls"], steps, "step bodies run by the first run")
    again = _timed_run(settings, steps, seed=0, profile=profile)
    expect("loopml", again["body_calls"], 0, "step bodies run by the cached re-run")
    expect("loopml", again["cached"], steps, "cached steps")
    return {**again, "first_seconds": first["seconds"]}


def prepare(home: Path, steps: int) -> dict[str, Any]:
    """The first run, for :func:`cached_fresh` in another process."""
    result = _timed_run(_settings(home), steps, seed=0)
    expect("loopml", result["body_calls"], steps, "step bodies run")
    return result


def cached_fresh(home: Path, steps: int, profile: str = "") -> dict[str, Any]:
    """The re-run of :func:`prepare`'s run in a fresh process, timed from after the import.

    The timed part covers everything after ``import loopml``: loading the settings,
    opening the store, the lazy imports a first run does, tracing and the run itself.
    """
    start = time.perf_counter()
    with profiled(profile):
        settings = _settings(home)
        result = _timed_run(settings, steps, seed=0)
    seconds = time.perf_counter() - start
    expect("loopml", result["body_calls"], 0, "step bodies run by the cached re-run")
    expect("loopml", result["cached"], steps, "cached steps")
    return {
        **result,
        "run_seconds": result["seconds"],
        "seconds": seconds,
        "import_seconds": IMPORT_SECONDS,
    }


def pool(home: Path, steps: int, workers: int) -> dict[str, Any]:
    """``steps`` chained tasks on a ``ProcessPoolExecutor`` (each waits for the previous)."""
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as executor:
        executor.submit(_pool_task, -1).result()  # start the worker processes, untimed
        value, body = 0, 0.0
        start = time.perf_counter()
        for _ in range(steps):
            value, took = executor.submit(_pool_task, value).result()
            body += took
        seconds = time.perf_counter() - start
    expect("loopml", value, steps, "the chain's last value")
    return {
        "steps": steps,
        "seconds": seconds,
        "body_seconds": body,
        "overhead_s": (seconds - body) / steps,
    }


def _pool_task(x: int) -> tuple[int, float]:
    started = time.perf_counter()
    value = x + 1
    return value, time.perf_counter() - started


# -- helpers ---------------------------------------------------------------------------


def _settings(home: Path) -> Any:
    return loopml.Settings.load(home=home / "loopml")


def _timed_run(
    settings: Any, steps: int, *, seed: int, executor: str = "local", profile: str = ""
) -> dict[str, Any]:
    BODY[:] = [0.0, 0.0]
    start = time.perf_counter()
    with profiled(profile):
        result = diamonds.run({"steps": steps, "seed": seed}, settings=settings, executor=executor)
    seconds = time.perf_counter() - start
    body_seconds, body_calls = BODY
    last, want = diamond_shape(steps, seed)
    expect("loopml", result.status, "finished", "run status")
    expect("loopml", len(result.steps), steps, "steps")
    expect("loopml", result.load(last), want, f"value of {last}")
    statuses = [step.status.value for step in result.steps.values()]
    if executor != "local":  # the bodies ran in worker processes: their time is not seen
        body_seconds, body_calls = 0.0, statuses.count("completed")
    return {
        "steps": steps,
        "seconds": seconds,
        "body_seconds": body_seconds,
        "body_calls": int(body_calls),
        "cached": statuses.count("cached"),
    }


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "overhead": overhead,
    "cached": cached,
    "prepare": prepare,
    "cached_fresh": cached_fresh,
    "pool": pool,
}

if __name__ == "__main__":
    run(WORKLOADS)
