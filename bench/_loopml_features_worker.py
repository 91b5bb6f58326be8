"""The loopml side of the feature-store benchmarks; runs in the project's ``.venv``.

    .venv/bin/python bench/_loopml_features_worker.py WORKLOAD '{"source": ...}' /tmp/fresh-dir

The mirror image of ``_feast_worker.py``: same workload names and parameters, a store in
the given directory (``Settings.load(home=directory)``: SQLite metadata and the default
SQLite online store ``<directory>/online.db``), one ``BENCH_RESULT {json}`` line on stdout.
Only the workload is timed. Also holds the bare pandas ``merge_asof`` floor (no loopml).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _worker import online_check, peak_rss_mb, percentiles, run, training_check

VIEW = "stats"
FEATURE_COUNT = 10


def _refs() -> list[str]:
    return [f"{VIEW}:f{i}" for i in range(FEATURE_COUNT)]


def _store(home: Path, source: str | None = None, ttl_days: float | None = None) -> Any:
    """A feature store in ``home``; with ``source``, the driver entity and view applied."""
    from loopml import Settings
    from loopml.features import Entity, Feature, FeatureStore, FeatureView

    store = FeatureStore(Settings.load(home=home))
    if source is not None:
        driver = Entity("driver", join_keys=["driver_id"])
        view = FeatureView(
            VIEW,
            entities=[driver],
            source=source,
            timestamp_field="ts",
            features=[Feature(f"f{i}", "float64") for i in range(FEATURE_COUNT)],
            ttl=timedelta(days=ttl_days) if ttl_days is not None else None,
        )
        store.apply([driver, view])
    return store


def materialize(
    home: Path, source: str, entities: int, ttl_days: float, start: str, end: str
) -> dict[str, Any]:
    """Materialize every entity's latest row of ``source`` into the SQLite online store."""
    store = _store(home, source, ttl_days)
    begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
    before = peak_rss_mb()
    clock = time.perf_counter()
    [done] = store.materialize(begin, finish)
    seconds = time.perf_counter() - clock
    store.close()
    _expect(done.rows, entities, "entities materialized")
    return {"n": entities, "seconds": seconds, "rss_before_mb": before}


def online(
    home: Path, entities: int, batches: list[int], lookups: list[int], warmup: list[int], seed: int
) -> dict[str, Any]:
    """Lookup latencies over a store :func:`materialize` filled (a fresh copy of it)."""
    import random

    store = _store(home)
    refs = _refs()
    rng = random.Random(seed)
    check = store.get_online_features([{"driver_id": i} for i in range(100)], refs).to_dict()
    result: dict[str, Any] = {"check": online_check(check)}
    for batch, measured, ignored in zip(batches, lookups, warmup, strict=True):
        samples = []
        for i in range(ignored + measured):
            rows = [{"driver_id": rng.randrange(entities)} for _ in range(batch)]
            start = time.perf_counter_ns()
            got = store.get_online_features(rows, refs).to_dict()
            took = time.perf_counter_ns() - start
            if i >= ignored:
                samples.append(took / 1e9)
        _expect(len(got["f0"]), batch, "rows returned")
        result[f"p50_{batch}"], result[f"p99_{batch}"] = percentiles(samples)
    store.close()
    return result


def training(
    home: Path, source: str, entity_df: str, ttl_days: float, warmup_rows: int, **_: Any
) -> dict[str, Any]:
    """A point-in-time training set for every row of the ``entity_df`` Parquet file."""
    import pandas as pd

    store = _store(home, source, ttl_days)
    frame = pd.read_parquet(entity_df)
    refs = _refs()
    clock = time.perf_counter()
    store.get_training_set(frame.head(warmup_rows), refs)
    cold = time.perf_counter() - clock
    before = peak_rss_mb()
    clock = time.perf_counter()
    out = store.get_training_set(frame, refs)
    seconds = time.perf_counter() - clock
    peak = peak_rss_mb()  # before the checks below allocate anything
    return {
        "n": len(frame),
        "seconds": seconds,
        "rss_mb": peak,
        "warmup_seconds": cold,
        "rss_before_mb": before,
        **training_check(out),
    }


def merge_asof_floor(
    home: Path, source: str, entity_df: str, ttl_days: float, **_: Any
) -> dict[str, Any]:
    """The same join done by hand with ``pandas.merge_asof``: the floor, not a feature store."""
    import pandas as pd

    del home
    frame = pd.read_parquet(entity_df)
    clock = time.perf_counter()
    rows = pd.read_parquet(source)
    read = time.perf_counter() - clock
    clock = time.perf_counter()
    left = frame.sort_values("event_timestamp", kind="stable")
    right = rows.sort_values("ts", kind="stable")
    out = pd.merge_asof(
        left,
        right,
        left_on="event_timestamp",
        right_on="ts",
        by="driver_id",
        direction="backward",
        tolerance=pd.Timedelta(days=ttl_days),
    )
    seconds = time.perf_counter() - clock
    peak = peak_rss_mb()  # before the checks below allocate anything
    return {
        "n": len(frame),
        "seconds": seconds,
        "rss_mb": peak,
        "read_seconds": read,
        **training_check(out),
    }


def _expect(got: int, want: int, what: str) -> None:
    if got != want:
        raise SystemExit(f"expected {want} {what}, loopml gave {got}")


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "materialize": materialize,
    "online": online,
    "training": training,
    "merge_asof": merge_asof_floor,
}

if __name__ == "__main__":
    run(WORKLOADS)
