"""The Kedro side of the pipelines benchmark; runs in ``bench/.venv-kedro``.

    bench/.venv-kedro/bin/python bench/_kedro_worker.py overhead '{"steps": 100}' /tmp/fresh-dir

The mirror image of ``_loopml_pipelines_worker.py`` (the same pipeline shape; see there),
as Kedro nodes: one ``MemoryDataset`` per output in a ``DataCatalog``, run by a bare
``SequentialRunner`` (no ``KedroSession``, so no project, hooks, config loading or
telemetry). Kedro tracks nothing and caches nothing, so it has only the ``overhead``
workload. Its loggers are set to WARNING (``quiet``): at its default (INFO, through rich)
it prints five lines per node, which costs it more than the run itself.

This file must run with Kedro's interpreter only: it imports nothing from loopml.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _worker import BODY, body_done, expect, peak_rss_mb, profiled, run


def source(seed: int) -> int:
    started = time.perf_counter()
    return body_done(started, seed)


def left(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 1)


def right(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 2)


def join(a: int, b: int) -> int:
    started = time.perf_counter()
    return body_done(started, max(a, b) + 1)


def inc(x: int) -> int:
    started = time.perf_counter()
    return body_done(started, x + 1)


def diamonds(steps: int, seed: int) -> tuple[Any, Any, str, int]:
    """The pipeline, its catalog, the name of its last output, and that output's value."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline, node

    nodes = [node(source, "params:seed", "source", name="source")]
    x, built, count = "source", 1, 0
    while steps - built >= 3:
        count += 1
        a, b, out = f"left_{count}", f"right_{count}", f"join_{count}"
        nodes += [
            node(left, x, a, name=a),
            node(right, x, b, name=b),
            node(join, [a, b], out, name=out),
        ]
        x, built = out, built + 3
    for i in range(steps - built):
        out = f"inc_{i + 1}"
        nodes.append(node(inc, x, out, name=out))
        x = out
    datasets: dict[str, Any] = {"params:seed": MemoryDataset(seed)}
    datasets |= {n.name: MemoryDataset() for n in nodes}
    return Pipeline(nodes), DataCatalog(datasets), x, seed + 3 * count + (steps - built)


def overhead(
    home: Path, steps: int, warmup_steps: int, quiet: bool = True, profile: str = ""
) -> dict[str, Any]:
    """One ``steps``-node run after an untimed small one; building the pipeline is timed.

    ``quiet=False`` keeps Kedro's default logging (INFO, through rich, to stderr).
    """
    import kedro.runner  # noqa: F401  (sets up Kedro's logging, which the next line quiets)

    if quiet:
        logging.getLogger("kedro").setLevel(logging.WARNING)
    warmup = _timed_run(warmup_steps, seed=1_000_000)
    rss_before = peak_rss_mb()
    result = _timed_run(steps, seed=0, profile=profile)
    expect("Kedro", result["body_calls"], steps, "node bodies run")
    return {
        **result,
        "overhead_s": (result["seconds"] - result["body_seconds"]) / steps,
        "warmup_seconds": warmup["seconds"],
        "rss_before_mb": rss_before,
        "rss_mb": peak_rss_mb(),
    }


def _timed_run(steps: int, *, seed: int, profile: str = "") -> dict[str, Any]:
    from kedro.runner import SequentialRunner

    BODY[:] = [0.0, 0.0]
    start = time.perf_counter()
    with profiled(profile):
        built, catalog, last, want = diamonds(steps, seed)
        outputs = SequentialRunner().run(built, catalog)
    seconds = time.perf_counter() - start
    expect("Kedro", outputs[last].load(), want, f"value of {last}")
    return {
        "steps": steps,
        "seconds": seconds,
        "body_seconds": BODY[0],
        "body_calls": int(BODY[1]),
    }


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {"overhead": overhead}

if __name__ == "__main__":
    run(WORKLOADS)
