"""Metric histories for charts: at most ``max_points`` points, spikes kept, at any length.

**The chart of a history.** A history of ``max_points`` points or fewer is drawn whole. A
longer one is cut into step ranges: aligned blocks of ``2**p`` steps, ``p`` the smallest
that leaves at most ``max_points // 2`` ranges between its first and last step. Each range
gives its lowest and its highest point (one point, the highest, when ``max_points`` is 1),
in step order, so the chart shows every excursion a chart of all the points shows and
spans the same steps. NaN points are left out of a cut history.

**Rollups.** Reading a million points to draw two thousand costs most of a second, so
ingestion also keeps, per run, metric and *level*, one row per aligned block of
``2**level`` steps: how many points it holds (and how many NaN), its first and last step,
and its lowest and highest point with their steps and times (:func:`rollups`). A chart
reads the coarsest level whose blocks are no wider than its ranges. Blocks nest inside
ranges, so each range's extremes are its blocks' extremes: the chart merges a few
thousand rows instead of a million points and keeps exactly the points :func:`thin`
keeps from the raw history.

Example:
    >>> from loopml.tracking.models import Metric
    >>> points = [Metric("loss", float(v), i, i) for i, v in enumerate([1, 9, 2, 3, 0, 4])]
    >>> [p.value for p in thin(points, 4)]
    [1.0, 9.0, 0.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.tracking.models import Metric

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "LEVELS",
    "ONE_RANGE",
    "RAW_LIMIT",
    "Candidates",
    "chart_level",
    "check_max_points",
    "range_shift",
    "rollups",
    "thin",
    "thin_candidates",
]

# Block widths kept at ingestion: 2**6 = 64 steps, then 4,096, 262,144 and 16,777,216.
LEVELS = (6, 12, 18, 24)
# A history of at most this many points is charted from its raw points.
RAW_LIMIT = 20_000
# The shift of a chart with a single range: every step in it, whatever its sign.
ONE_RANGE = 64

_INF = float("inf")


def check_max_points(max_points: object) -> int:
    """``max_points`` if it is a whole number of at least 1, else InvalidInputError."""
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise InvalidInputError(
            f"max_points must be a whole number of at least 1, got {max_points!r}"
        )
    return max_points


def range_shift(first: int, last: int, max_points: int) -> int:
    """The ``p`` whose aligned blocks of ``2**p`` steps cut ``first…last`` into at most
    ``max_points // 2`` ranges; :data:`ONE_RANGE` when only one range is allowed (a step
    range across zero never fits in one aligned block)."""
    count = max(1, max_points // 2)
    if count == 1:
        return ONE_RANGE
    shift = max(0, ((last - first + 1) // count).bit_length() - 1)
    while (last >> shift) - (first >> shift) + 1 > count:
        shift += 1
    return shift


def chart_level(total: int, first: int, last: int, max_points: int) -> int | None:
    """The rollup level a chart reads, or ``None`` to read the raw points.

    The coarsest level whose blocks are no wider than the chart's ranges; raw points when
    the history is short or every level is too coarse.
    """
    if total <= RAW_LIMIT:
        return None
    shift = range_shift(first, last, max_points)
    fitting = [level for level in LEVELS if level <= shift]
    return fitting[-1] if fitting else None


@dataclass(frozen=True)
class Candidates:
    """The points a chart picks from: each range's lowest ``low*`` and highest ``high*``."""

    low: NDArray[Any]
    low_step: NDArray[Any]
    low_ts: NDArray[Any]
    high: NDArray[Any]
    high_step: NDArray[Any]
    high_ts: NDArray[Any]

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence[Any]]) -> Candidates:
        """From stored rollup rows ``(low, low_step, low_ts, high, high_step, high_ts)``."""
        import numpy as np

        floats = np.array([(r[0], r[3]) for r in rows], dtype=np.float64).reshape(-1, 2)
        ints = np.array([(r[1], r[2], r[4], r[5]) for r in rows], dtype=np.int64).reshape(-1, 4)
        return cls(floats[:, 0], ints[:, 0], ints[:, 1], floats[:, 1], ints[:, 2], ints[:, 3])


def thin(points: Sequence[Metric], max_points: int) -> list[Metric]:
    """The chart of ``points`` (ordered by step): all of them, or each range's extremes.

    Raises:
        InvalidInputError: ``max_points`` is not a whole number of at least 1.
    """
    check_max_points(max_points)
    if len(points) <= max_points:
        return list(points)
    import numpy as np  # only when a history is cut

    values = np.array([p.value for p in points], dtype=np.float64)
    steps = np.array([p.step for p in points], dtype=np.int64)
    stamps = np.array([p.timestamp for p in points], dtype=np.int64)
    numbers = ~np.isnan(values)
    values, steps, stamps = values[numbers], steps[numbers], stamps[numbers]
    candidates = Candidates(values, steps, stamps, values, steps, stamps)
    first, last = min(p.step for p in points), max(p.step for p in points)
    return thin_candidates(points[0].key, candidates, first, last, max_points)


def thin_candidates(
    key: str, candidates: Candidates, first: int, last: int, max_points: int
) -> list[Metric]:
    """Each step range's lowest and highest candidate, in step order (NaN-free input)."""
    import numpy as np

    shift = range_shift(first, last, max_points)
    picked: list[tuple[int, int, float]] = []
    sides = [(candidates.high, candidates.high_step, candidates.high_ts, True)]
    if max_points >= 2:
        sides.insert(0, (candidates.low, candidates.low_step, candidates.low_ts, False))
    for values, steps, stamps, highest in sides:
        if len(values) == 0:
            continue
        slot = steps >> shift if shift < ONE_RANGE else np.zeros_like(steps)
        # Sort by range, then by value (highest first for the high side), then by step:
        # each range's first row is its extreme, the earliest one on a tie.
        order = np.lexsort((steps, -values if highest else values, slot))
        slot_sorted = slot[order]
        heads = order[np.r_[True, slot_sorted[1:] != slot_sorted[:-1]]]
        chosen = (steps[heads].tolist(), stamps[heads].tolist(), values[heads].tolist())
        picked.extend(zip(*chosen, strict=True))
    unique = sorted(set(picked))
    return [Metric(key, value, step, ts) for step, ts, value in unique]


def rollups(
    points: Sequence[tuple[str, str, float, int, int]],
) -> list[tuple[Any, ...]]:
    """The rollup rows of freshly ingested ``(run_id, key, value, step, timestamp)`` points.

    One row per run, key, level and block, to be merged into what is stored:
    ``(run_id, key, level, block, points, nans, first_step, last_step, low, low_step,
    low_ts, high, high_step, high_ts)``; a block of NaN points only has no low or high.
    """
    import numpy as np

    if not points:
        return []
    series: dict[tuple[str, str], int] = {}
    ids = [series.setdefault((p[0], p[1]), len(series)) for p in points]
    group = np.asarray(ids, dtype=np.int64)
    values = np.fromiter((p[2] for p in points), dtype=np.float64, count=len(points))
    steps = np.fromiter((p[3] for p in points), dtype=np.int64, count=len(points))
    stamps = np.fromiter((p[4] for p in points), dtype=np.int64, count=len(points))
    nan = np.isnan(values)
    ones = np.ones(len(points), dtype=np.int64)
    rows = _Blocks(
        group,
        steps,
        ones,
        nan.astype(np.int64),
        steps,
        steps,
        np.where(nan, _INF, values),
        steps,
        stamps,
        np.where(nan, -_INF, values),
        steps,
        stamps,
    )
    names = list(series)
    out: list[tuple[Any, ...]] = []
    shift = 0
    for level in LEVELS:
        rows = rows.merged(level - shift)
        shift = level
        out.extend(rows.as_rows(names, level))
    return out


@dataclass(frozen=True)
class _Blocks:
    """Rollup rows as columns: ``block`` is the step block at the current level."""

    group: NDArray[Any]
    block: NDArray[Any]
    points: NDArray[Any]
    nans: NDArray[Any]
    first: NDArray[Any]
    last: NDArray[Any]
    low: NDArray[Any]
    low_step: NDArray[Any]
    low_ts: NDArray[Any]
    high: NDArray[Any]
    high_step: NDArray[Any]
    high_ts: NDArray[Any]

    def merged(self, shift: int) -> _Blocks:
        """The rows of blocks ``2**shift`` times wider (rows of one new block merged)."""
        import numpy as np

        block = self.block >> shift
        order = np.lexsort((block, self.group))
        group, block = self.group[order], block[order]
        starts = np.flatnonzero(np.r_[True, (group[1:] != group[:-1]) | (block[1:] != block[:-1])])
        segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))

        def extreme(values: NDArray[Any], steps: NDArray[Any], reduce: Any) -> NDArray[Any]:
            best = reduce.reduceat(values, starts)
            hits = np.flatnonzero(values == best[segment])
            # On a tie, the point at the lowest step (as a chart of the raw points picks).
            hits = hits[np.lexsort((steps[hits], segment[hits]))]
            return hits[np.r_[True, segment[hits][1:] != segment[hits][:-1]]]

        low, high = self.low[order], self.high[order]
        at_low = extreme(low, self.low_step[order], np.minimum)
        at_high = extreme(high, self.high_step[order], np.maximum)
        return _Blocks(
            group[starts],
            block[starts],
            np.add.reduceat(self.points[order], starts),
            np.add.reduceat(self.nans[order], starts),
            np.minimum.reduceat(self.first[order], starts),
            np.maximum.reduceat(self.last[order], starts),
            low[at_low],
            self.low_step[order][at_low],
            self.low_ts[order][at_low],
            high[at_high],
            self.high_step[order][at_high],
            self.high_ts[order][at_high],
        )

    def as_rows(self, names: list[tuple[str, str]], level: int) -> list[tuple[Any, ...]]:
        rows = []
        columns = zip(
            self.group.tolist(),
            self.block.tolist(),
            self.points.tolist(),
            self.nans.tolist(),
            self.first.tolist(),
            self.last.tolist(),
            self.low.tolist(),
            self.low_step.tolist(),
            self.low_ts.tolist(),
            self.high.tolist(),
            self.high_step.tolist(),
            self.high_ts.tolist(),
            strict=True,
        )
        for group, block, points, nans, first, last, low, lstep, lts, high, hstep, hts in columns:
            run_id, key = names[group]
            if points == nans:  # NaN only: no extremes
                low = lstep = lts = high = hstep = hts = None
            extremes = (low, lstep, lts, high, hstep, hts)
            rows.append((run_id, key, level, block, points, nans, first, last, *extremes))
        return rows
