"""The Evidently side of the monitoring benchmark; runs in ``bench/.venv-evidently``.

    bench/.venv-evidently/bin/python bench/_evidently_worker.py report '{...}' /tmp/dir

Reads the reference and current Parquet files into pandas (not timed), then times
Evidently's ``Report([DataDriftPreset()]).run(current_data, reference_data)``: what a
notebook or a scheduled job runs for each window, refitting on the raw reference each time.
One ``BENCH_RESULT {json}`` line on stdout: seconds, the drifted columns, each column's
score (normed Wasserstein for numbers over 1,000 rows) and the peak RSS.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _worker import peak_rss_mb, run


def report(home: Path, reference: str, current: str) -> dict[str, Any]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    before = peak_rss_mb()
    clock = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    seconds = time.perf_counter() - clock
    scores: dict[str, float] = {}
    drifted: list[str] = []
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        score = float(metric["value"])
        scores[config["column"]] = score
        if score >= float(config["threshold"]):
            drifted.append(config["column"])
    method = next(
        (m["config"]["method"] for m in snapshot.dict()["metrics"] if "method" in m["config"]),
        "",
    )
    return {
        "seconds": seconds,
        "drifted": sorted(drifted),
        "scores": scores,
        "method": method,
        "rss_before_mb": before,
        "rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    run({"report": report})
