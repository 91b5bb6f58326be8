"""The loopml (and scipy) side of the monitoring benchmark; runs in the project's ``.venv``.

    .venv/bin/python bench/_loopml_monitoring_worker.py WORKLOAD '{...}' /tmp/dir

- ``sketch``: profile the reference Parquet file once (``sketch_table``), save the sketch
  (``ReferenceSketch.to_bytes``) where ``out`` says; timed: the sketching.
- ``window``: judge the current Parquet file against a saved sketch; timed: reading the
  sketch file and ``drift_against``. The raw reference is never opened, so the peak RSS
  of this process is the window step's.
- ``scipy``: ``scipy.stats.ks_2samp`` per column on the raw reference and current data.

Reading the Parquet files into memory is not timed on any side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _worker import peak_rss_mb, run


def sketch(home: Path, reference: str, out: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from loopml.data.sketch import sketch_table

    table = pq.read_table(reference)
    clock = time.perf_counter()
    profile = sketch_table(table)
    seconds = time.perf_counter() - clock
    data = profile.to_bytes()
    Path(out).write_bytes(data)
    return {"seconds": seconds, "rows": table.num_rows, "bytes": len(data), "rss_mb": peak_rss_mb()}


def window(home: Path, sketch: str, current: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from loopml.data.sketch import ReferenceSketch, drift_against

    table = pq.read_table(current)
    before = peak_rss_mb()
    clock = time.perf_counter()
    profile = ReferenceSketch.from_bytes(Path(sketch).read_bytes(), sketch)
    result = drift_against(profile, table)
    seconds = time.perf_counter() - clock
    return {
        "seconds": seconds,
        "rows": table.num_rows,
        "reference_rows": profile.row_count,
        "drifted": sorted(result.drifted_columns),
        "methods": sorted({column.method for column in result.columns}),
        "scores": {column.column: column.statistic for column in result.columns},
        "rss_before_mb": before,
        "rss_mb": peak_rss_mb(),
    }


def scipy(home: Path, reference: str, current: str) -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq
    from scipy import stats

    ref, cur = pq.read_table(reference), pq.read_table(current)
    columns = [(np.asarray(ref[name]), np.asarray(cur[name])) for name in ref.column_names]
    clock = time.perf_counter()
    p_values = [float(stats.ks_2samp(r, c).pvalue) for r, c in columns]
    seconds = time.perf_counter() - clock
    drifted = [name for name, p in zip(ref.column_names, p_values, strict=True) if p < 0.05]
    return {"seconds": seconds, "drifted": sorted(drifted), "rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    run({"sketch": sketch, "window": window, "scipy": scipy})
