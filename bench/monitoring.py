"""Monitoring: loopml's drift against a stored reference sketch vs Evidently, in one run.

    .venv/bin/python bench/monitoring.py [--quick] [--json PATH]

One data set for every side, written once per run as Parquet: a reference of 100,000 rows x
20 float64 columns (normal, each with its own mean and scale) and a current window of the
same size where 5 columns moved by half a standard deviation; plus a 1,000,000-row window
and a 10,000,000-row reference drawn alike.

- Evidently 0.7 (``bench/.venv-evidently``): ``Report([DataDriftPreset()]).run(current,
  reference)`` on pandas frames, which refits on the raw reference for every window;
- scipy: ``ks_2samp`` per column on the raw data;
- loopml: the reference is sketched once (``sketch_table``, timed on its own line) and
  saved; each window is ``drift_against`` the saved sketch (reading it included).

Every measurement runs in a fresh worker process; the sides alternate (the one going first
rotates each repetition) and the median is reported. Loading the Parquet files is never
timed. The window's peak RSS is its worker's: the raw reference is never opened there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import (
    BENCH_DIR,
    LOOPML_PYTHON,
    Row,
    alternate,
    count,
    failure,
    fresh_dir,
    median_of,
    python_one_liner,
    run_worker,
    say,
    script_main,
    secs,
)

EVIDENTLY_PYTHON = BENCH_DIR / ".venv-evidently" / "bin" / "python"
LOOPML_WORKER = BENCH_DIR / "_loopml_monitoring_worker.py"
EVIDENTLY_WORKER = BENCH_DIR / "_evidently_worker.py"
COLUMNS = 20
SHIFTED = 5  # the first columns of the current windows move by SHIFT standard deviations
SHIFT = 0.5
CHUNK_ROWS = 1_000_000  # rows generated and written at a time


METHOD = (
    "One data set for every side, written once as Parquet (reading it is never timed): a "
    "reference of 100,000 rows x 20 float64 columns (normal, column i with mean i and scale "
    "1 + i/10) and a 100,000-row window where the first 5 columns moved by half a standard "
    "deviation; a 1,000,000-row window and a 10,000,000-row reference drawn alike. "
    "Evidently: `Report([DataDriftPreset()]).run(current, reference)` on pandas frames (it "
    "refits on the raw reference for every window). scipy: `ks_2samp` per column on the raw "
    "data. loopml: the reference is sketched once (`sketch_table`, its own line) and saved; "
    "a window is `ReferenceSketch.from_bytes` + `drift_against` (method auto: Wasserstein "
    "against the stored quantiles, calibrated thresholds). Each measurement is a fresh "
    "worker process; the window sides (loopml against the 100k and the 10M sketch, "
    "Evidently, scipy) alternate, and each line is the median repetition. Peak RSS is the "
    "worker's (VmHWM)."
)


@dataclass(frozen=True)
class Sizes:
    reps: int
    reference: int
    window: int
    big_window: int
    big_reference: int


FULL = Sizes(
    reps=5, reference=100_000, window=100_000, big_window=1_000_000, big_reference=10_000_000
)
QUICK = Sizes(reps=1, reference=10_000, window=10_000, big_window=100_000, big_reference=200_000)


def write_table(path: Path, rows: int, seed: int, *, shifted: bool) -> None:
    """``rows`` x COLUMNS normal values; column i has mean i and scale 1 + i / 10."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, CHUNK_ROWS):
        size = min(CHUNK_ROWS, rows - start)
        columns = {}
        for i in range(COLUMNS):
            scale = 1 + i / 10
            move = SHIFT * scale if shifted and i < SHIFTED else 0.0
            columns[f"f{i:02d}"] = rng.normal(i + move, scale, size)
        batch = pa.table(columns)
        writer = writer or pq.ParquetWriter(path, batch.schema)
        writer.write_table(batch)
    assert writer is not None
    writer.close()


def job(python: Path, script: Path, workload: str, **params: Any) -> Callable[[], dict[str, Any]]:
    def call() -> dict[str, Any]:
        with fresh_dir(workload) as directory:
            return run_worker(python, script, workload, params, directory)

    return call


def loopml(workload: str, **params: Any) -> Callable[[], dict[str, Any]]:
    return job(LOOPML_PYTHON, LOOPML_WORKER, workload, **params)


def run(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    sizes = QUICK if quick else FULL
    versions = collect_versions()
    with fresh_dir("monitoring-data") as data:
        files = {
            "reference": (sizes.reference, 1, False),
            "current": (sizes.window, 2, True),
            "big_current": (sizes.big_window, 3, True),
            "big_reference": (sizes.big_reference, 4, False),
        }
        for name, (rows, seed, shifted) in files.items():
            say(f"  writing {name}: {count(rows)} rows x {COLUMNS}")
            write_table(data / f"{name}.parquet", rows, seed, shifted=shifted)
        path = {name: str(data / f"{name}.parquet") for name in files}
        sketch, big_sketch = str(data / "reference.sketch"), str(data / "big_reference.sketch")
        built = alternate(
            sizes.reps,
            {"sketch": loopml("sketch", reference=path["reference"], out=sketch)},
            "sketch 100k",
        )
        big_built = alternate(
            1,
            {"sketch": loopml("sketch", reference=path["big_reference"], out=big_sketch)},
            "sketch 10M",
        )
        # The same window against both sketches, alternating with the anchors, so that all
        # four see the same load on the machine.
        windows = alternate(
            sizes.reps,
            {
                "loopml": loopml("window", sketch=sketch, current=path["current"]),
                "evidently": job(
                    EVIDENTLY_PYTHON,
                    EVIDENTLY_WORKER,
                    "report",
                    reference=path["reference"],
                    current=path["current"],
                ),
                "scipy": loopml("scipy", reference=path["reference"], current=path["current"]),
                "loopml-10M": loopml("window", sketch=big_sketch, current=path["current"]),
            },
            "window",
        )
        big = alternate(
            sizes.reps,
            {"loopml": loopml("window", sketch=sketch, current=path["big_current"])},
            "1M window",
        )
    rows = make_rows(sizes, built["sketch"], windows, big["loopml"], big_built["sketch"], quick)
    versions["method"] = METHOD
    return rows, versions


def _ok(results: list[dict[str, Any]]) -> bool:
    return bool(results) and failure(results) is None


def make_rows(
    sizes: Sizes,
    built: list[dict[str, Any]],
    windows: dict[str, list[dict[str, Any]]],
    big: list[dict[str, Any]],
    big_built: list[dict[str, Any]],
    quick: bool,
) -> list[Row]:
    shape = f"{count(sizes.window)} rows x {COLUMNS} numeric"
    rows: list[Row] = []
    ours, theirs, ks = windows["loopml"], windows["evidently"], windows["scipy"]
    on_big = windows["loopml-10M"]
    expected = [f"f{i:02d}" for i in range(SHIFTED)]
    if _ok(ours) and _ok(theirs):
        mine, other = median_of(ours), median_of(theirs)
        ratio = other / mine
        agree = ours[-1]["drifted"] == theirs[-1]["drifted"]
        gap = max(abs(ours[-1]["scores"][c] - theirs[-1]["scores"][c]) for c in ours[-1]["scores"])
        note = (
            f"drifted columns: loopml {ours[-1]['drifted']}, Evidently {theirs[-1]['drifted']} "
            f"({'agree' if agree else 'DISAGREE'}; expected {expected}); loopml "
            f"{'/'.join(ours[-1]['methods'])} vs Evidently's {theirs[-1]['method']}, largest "
            f"score gap {gap:.2g}; peak RSS loopml {ours[-1]['rss_mb']:.0f} MiB, Evidently "
            f"{theirs[-1]['rss_mb']:.0f} MiB"
        )
        passed = None if quick else (mine < 0.45 and ratio >= 15 and agree)
        rows.append(
            Row(
                f"drift of a {shape} window",
                secs(mine),
                secs(other),
                ratio,
                "< 0.45 s, >= 15x, same flags",
                passed,
                note,
                {"loopml": ours, "evidently": theirs},
            )
        )
    else:
        rows.append(_crashed(f"drift of a {shape} window", ours, theirs))
    if _ok(ours) and _ok(ks):
        mine, other = median_of(ours), median_of(ks)
        rows.append(
            Row(
                "same window: scipy ks_2samp per column (raw data)",
                secs(mine),
                secs(other),
                other / mine,
                "—",
                None,
                f"scipy flags {ks[-1]['drifted']} at p < 0.05",
                {"scipy": ks},
            )
        )
    if _ok(built):
        rows.append(
            Row(
                f"sketch a {count(sizes.reference)}-row reference (once)",
                secs(median_of(built)),
                "— (refits every window)",
                None,
                "—",
                None,
                f"{built[-1]['bytes'] / 1024:.0f} KiB saved",
                {"loopml": built},
            )
        )

    if _ok(big):
        took = median_of(big)
        passed = None if quick else took < 3
        rows.append(
            Row(
                f"drift of a {count(sizes.big_window)}-row window",
                secs(took),
                "—",
                None,
                "< 3 s",
                passed,
                f"flags {big[-1]['drifted']}; peak RSS {big[-1]['rss_mb']:.0f} MiB",
                {"loopml": big},
            )
        )
    if _ok(big_built):
        rows.append(
            Row(
                f"sketch a {count(sizes.big_reference)}-row reference (once)",
                secs(median_of(big_built)),
                "—",
                None,
                "—",
                None,
                f"peak RSS {big_built[-1]['rss_mb']:.0f} MiB, "
                f"{big_built[-1]['bytes'] / 1024:.0f} KiB saved",
                {"loopml": big_built},
            )
        )
    if _ok(on_big) and _ok(ours):
        took, base = median_of(on_big), median_of(ours)
        rss, base_rss = on_big[-1]["rss_mb"], ours[-1]["rss_mb"]
        flat = took < base * 1.25 + 0.02 and rss < base_rss * 1.1 + 10
        rows.append(
            Row(
                f"{count(sizes.window)}-row window vs the {count(sizes.big_reference)} sketch",
                secs(took),
                f"{secs(base)} vs the {count(sizes.reference)} one",
                base / took,
                "same time and memory",
                None if quick else flat,
                f"peak RSS {rss:.0f} MiB vs {base_rss:.0f} MiB; flags {on_big[-1]['drifted']}",
                {"loopml": on_big},
            )
        )
    return rows


def _crashed(workload: str, *sides: list[dict[str, Any]]) -> Row:
    errors = [failure(side) for side in sides if side and failure(side)]
    return Row(workload, "crashed", "—", None, "—", None, "; ".join(map(str, errors))[:500])


_VERSIONS_CODE = """
import importlib.metadata as m, json, platform
out = {{n: m.version(n) for n in {names!r}}}
out["python"] = platform.python_version()
print(json.dumps(out))
"""


def collect_versions() -> dict[str, Any]:
    ours = json.loads(
        python_one_liner(
            LOOPML_PYTHON, _VERSIONS_CODE.format(names=["loopml", "numpy", "scipy", "pyarrow"])
        )
    )
    names = ["evidently", "pandas", "numpy", "scipy"]
    theirs = json.loads(python_one_liner(EVIDENTLY_PYTHON, _VERSIONS_CODE.format(names=names)))
    summary = (
        f"loopml {ours['loopml']} (numpy {ours['numpy']}, scipy {ours['scipy']}, PyArrow "
        f"{ours['pyarrow']}, Python {ours['python']}); Evidently {theirs['evidently']} (pandas "
        f"{theirs['pandas']}, numpy {theirs['numpy']}, scipy {theirs['scipy']}, Python "
        f"{theirs['python']})"
    )
    return {
        "loopml": ours["loopml"],
        "evidently": theirs["evidently"],
        "loopml_env": ours,
        "evidently_env": theirs,
        "summary": summary,
    }


if __name__ == "__main__":
    script_main("monitoring", "Evidently", run)
