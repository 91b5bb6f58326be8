"""The Feast side of the feature-store benchmarks; runs in ``bench/.venv-feast``.

    bench/.venv-feast/bin/python bench/_feast_worker.py WORKLOAD '{"source": ...}' /tmp/fresh-dir

The mirror image of ``_loopml_features_worker.py``: same workload names and parameters,
one ``BENCH_RESULT {json}`` line on stdout. The given directory is a Feast feature repo:
``feature_store.yaml`` (provider ``local``, a file registry ``data/registry.db``, the SQLite
online store ``data/online.db``, the ``file`` (pandas/Dask) or ``duckdb`` offline store),
definitions registered through ``FeatureStore(repo_path).apply([...])``. Only the
workload is timed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _worker import online_check, peak_rss_mb, percentiles, report, run, training_check

VIEW = "stats"
FEATURE_COUNT = 10

REPO_CONFIG = """\
project: bench
provider: local
registry: data/registry.db
online_store:
  type: sqlite
  path: data/online.db
offline_store:
  type: {offline_store}
entity_key_serialization_version: 3
"""


def _refs() -> list[str]:
    return [f"{VIEW}:f{i}" for i in range(FEATURE_COUNT)]


def _store(
    repo: Path, source: str | None = None, ttl_days: float = 0, offline_store: str = "file"
) -> Any:
    """The feature repo in ``repo``; with ``source``, a fresh one with the view applied."""
    from feast import FeatureStore

    if source is None:
        return FeatureStore(repo_path=str(repo))
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    (repo / "data").mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text(REPO_CONFIG.format(offline_store=offline_store))
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name=VIEW,
        entities=[driver],
        ttl=timedelta(days=ttl_days),
        schema=[Field(name=f"f{i}", dtype=Float64) for i in range(FEATURE_COUNT)],
        source=FileSource(name="stats_source", path=source, timestamp_field="ts"),
        online=True,
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([driver, view])
    return store


def materialize(
    repo: Path,
    source: str,
    entities: int,
    ttl_days: float,
    start: str,
    end: str,
    offline_store: str = "file",
) -> dict[str, Any]:
    """``materialize(start, end)`` of every entity's latest row into the SQLite online store."""
    store = _store(repo, source, ttl_days, offline_store)
    begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
    before = peak_rss_mb()
    clock = time.perf_counter()
    store.materialize(begin, finish)
    seconds = time.perf_counter() - clock
    _expect(_entities_online(repo), entities, "entities materialized")
    return {"n": entities, "seconds": seconds, "rss_before_mb": before}


def _entities_online(repo: Path) -> int:
    import sqlite3

    with sqlite3.connect(repo / "data" / "online.db") as con:
        [(n,)] = con.execute(f"SELECT count(DISTINCT entity_key) FROM bench_{VIEW}").fetchall()
    return int(n)


def online(
    repo: Path, entities: int, batches: list[int], lookups: list[int], warmup: list[int], seed: int
) -> dict[str, Any]:
    """Lookup latencies over a repo :func:`materialize` filled (a fresh copy of it)."""
    import random

    store = _store(repo)
    refs = _refs()
    rng = random.Random(seed)
    first = [{"driver_id": i} for i in range(100)]
    check = store.get_online_features(features=refs, entity_rows=first).to_dict()
    result: dict[str, Any] = {"check": online_check(check)}
    for batch, measured, ignored in zip(batches, lookups, warmup, strict=True):
        samples = []
        for i in range(ignored + measured):
            rows = [{"driver_id": rng.randrange(entities)} for _ in range(batch)]
            start = time.perf_counter_ns()
            got = store.get_online_features(features=refs, entity_rows=rows).to_dict()
            took = time.perf_counter_ns() - start
            if i >= ignored:
                samples.append(took / 1e9)
        _expect(len(got["f0"]), batch, "rows returned")
        result[f"p50_{batch}"], result[f"p99_{batch}"] = percentiles(samples)
    return result


def training(
    repo: Path,
    source: str,
    entity_df: str,
    ttl_days: float,
    warmup_rows: int,
    offline_store: str = "file",
    deadline_s: float | None = None,
) -> dict[str, Any]:
    """``get_historical_features(entity_df, features).to_df()`` for the ``entity_df`` file.

    With ``deadline_s``, a call still running after that many seconds is abandoned: the
    worker reports ``{"skipped": ...}`` and exits.
    """
    import pandas as pd

    store = _store(repo, source, ttl_days, offline_store)
    frame = pd.read_parquet(entity_df)
    refs = _refs()
    clock = time.perf_counter()
    store.get_historical_features(entity_df=frame.head(warmup_rows), features=refs).to_df()
    cold = time.perf_counter() - clock
    before = peak_rss_mb()
    if deadline_s is not None:
        _watchdog(deadline_s, len(frame))
    clock = time.perf_counter()
    out = store.get_historical_features(entity_df=frame, features=refs).to_df()
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


def _watchdog(deadline_s: float, n: int) -> None:
    def give_up() -> None:
        report(
            {
                "n": n,
                "skipped": f"still running after {deadline_s:.0f} s, abandoned",
                "rss_mb": peak_rss_mb(),
            }
        )
        os._exit(0)

    timer = threading.Timer(deadline_s, give_up)
    timer.daemon = True
    timer.start()


def _expect(got: int, want: int, what: str) -> None:
    if got != want:
        raise SystemExit(f"expected {want} {what}, Feast gave {got}")


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "materialize": materialize,
    "online": online,
    "training": training,
}

if __name__ == "__main__":
    run(WORKLOADS)
