"""Random feature data for the point-in-time property tests, and the brute-force answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
from hypothesis import strategies as st

from .conftest import T0, naive

# (entity key, seconds after T0, value or null); few keys and seconds: many ties and gaps
SOURCE_ROWS = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 30), st.none() | st.integers(0, 999)),
    max_size=40,
)
ENTITY_ROWS = st.lists(st.tuples(st.integers(0, 4), st.integers(-2, 35)), min_size=1, max_size=25)


def reference(
    files: list[list[tuple[int, int, int | None]]], key: int, t: float, ttl: int | None
) -> int | None:
    """The value a point-in-time join must give, by brute force (times in seconds)."""
    best: tuple[int, int, int, int | None] | None = None
    for f, rows in enumerate(files):
        for r, (k, ts, value) in enumerate(rows):
            if k == key and ts <= t and (best is None or (ts, f, r) > best[:3]):
                best = (ts, f, r, None if value is None else ts * 1000 + value)
    if best is None or (ttl is not None and t - best[0] > ttl):
        return None
    return best[3]


def write_files(folder: Path, files: list[list[tuple[int, int, int | None]]]) -> None:
    for old in folder.glob("*.parquet"):
        old.unlink()
    for f, rows in enumerate(files):
        pd.DataFrame(
            {
                "k": pd.Series([r[0] for r in rows], dtype="int64"),
                "ts": pd.Series(
                    [naive(T0 + timedelta(seconds=r[1])) for r in rows], dtype="datetime64[us]"
                ),
                "v": pd.Series(
                    [None if r[2] is None else r[1] * 1000 + r[2] for r in rows], dtype="Int64"
                ),
            }
        ).to_parquet(folder / f"part-{f}.parquet")
