"""Thin a metric history for a chart: at most ``max_points`` points, spikes kept.

The history is cut into equal runs of consecutive points (buckets); each bucket gives its
lowest and its highest point, in their order, so a chart of the result shows every
excursion a chart of all the points shows. NaN points are kept only when a bucket has
nothing else.

Example:
    >>> from loopml.tracking.models import Metric
    >>> points = [Metric("loss", float(v), i, i) for i, v in enumerate([1, 9, 2, 3, 0, 4])]
    >>> [p.value for p in downsample(points, 4)]
    [1.0, 9.0, 0.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Sequence

from loopml.errors import InvalidInputError
from loopml.tracking.models import Metric

__all__ = ["check_max_points", "downsample", "kept_indexes"]


def check_max_points(max_points: object) -> int:
    """``max_points`` if it is a whole number of at least 1, else InvalidInputError."""
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise InvalidInputError(
            f"max_points must be a whole number of at least 1, got {max_points!r}"
        )
    return max_points


def downsample(points: Sequence[Metric], max_points: int) -> list[Metric]:
    """At most ``max_points`` of ``points`` (in order): each bucket's min and max.

    Raises:
        InvalidInputError: ``max_points`` is not a whole number of at least 1.
    """
    kept = kept_indexes([p.value for p in points], max_points)
    return [points[i] for i in kept]


def kept_indexes(values: Sequence[float], max_points: int) -> list[int]:
    """The positions :func:`downsample` keeps of a history whose values are ``values``."""
    check_max_points(max_points)
    total = len(values)
    if total <= max_points:
        return list(range(total))
    import numpy as np  # only when a history is thinned

    array = np.asarray(values, dtype=float)
    per_bucket = 2 if max_points >= 2 else 1
    buckets = max_points // per_bucket
    kept: list[int] = []
    for bucket in range(buckets):
        start, end = total * bucket // buckets, total * (bucket + 1) // buckets
        segment = array[start:end]
        numbers = ~np.isnan(segment)
        if not numbers.any():
            kept.append(start)
            continue
        high = start + int(np.nanargmax(segment))
        if per_bucket == 1:
            kept.append(high)
            continue
        low = start + int(np.nanargmin(segment))
        kept.extend(sorted({low, high}))
    return kept
