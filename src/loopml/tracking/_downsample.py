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

import math
from collections.abc import Sequence

from loopml.errors import InvalidInputError
from loopml.tracking.models import Metric

__all__ = ["check_max_points", "downsample"]


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
    check_max_points(max_points)
    total = len(points)
    if total <= max_points:
        return list(points)
    per_bucket = 2 if max_points >= 2 else 1
    buckets = max_points // per_bucket
    kept: list[int] = []
    for bucket in range(buckets):
        start, end = total * bucket // buckets, total * (bucket + 1) // buckets
        kept.extend(_extremes(points, start, end, per_bucket))
    return [points[i] for i in kept]


def _extremes(points: Sequence[Metric], start: int, end: int, per_bucket: int) -> list[int]:
    """The indexes of the lowest and highest numbers in ``points[start:end]``, in order."""
    numbers = [i for i in range(start, end) if not math.isnan(points[i].value)]
    if not numbers:
        return [start]
    low = min(numbers, key=lambda i: points[i].value)
    high = max(numbers, key=lambda i: points[i].value)
    if per_bucket == 1:
        return [high]
    return sorted({low, high})
