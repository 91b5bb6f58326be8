"""Comparing runs side by side: which params differ, and which run is best at each metric.

Which way is better? Higher, unless the metric's name contains one of
:data:`LOWER_IS_BETTER_WORDS` (``loss``, ``error``, ``mse``, ``mae``, ``rmse``; any case),
so ``val_loss`` and ``mean_absolute_error`` are minimised while ``accuracy`` and ``auc``
are maximised. Explicit choices (``--lower-is-better`` / ``--higher-is-better``) win over
the heuristic. NaN values never win.

Example:
    >>> lower_is_better("val_loss")
    True
    >>> lower_is_better("auc")
    False
    >>> lower_is_better("auc", lower={"auc"})
    True
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.tracking.models import Run

__all__ = [
    "LOWER_IS_BETTER_WORDS",
    "Comparison",
    "MetricRow",
    "ParamRow",
    "compare_runs",
    "lower_is_better",
]

LOWER_IS_BETTER_WORDS = ("loss", "error", "mse", "mae", "rmse")


def lower_is_better(key: str, lower: Collection[str] = (), higher: Collection[str] = ()) -> bool:
    """Whether a smaller value of metric ``key`` is better (see the module docstring)."""
    if key in lower:
        return True
    if key in higher:
        return False
    name = key.lower()
    return any(word in name for word in LOWER_IS_BETTER_WORDS)


@dataclass(frozen=True, slots=True)
class ParamRow:
    """One param across the compared runs (``None`` where a run lacks it).

    Example:
        >>> ParamRow("lr", {"a": "0.1", "b": "0.01"}, differs=True).differs
        True
    """

    key: str
    values: dict[str, str | None]
    differs: bool


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One metric across the compared runs, with the ids of the runs holding the best value.

    Example:
        >>> MetricRow("acc", {"a": 0.9}, lower_is_better=False, best=["a"]).best
        ['a']
    """

    key: str
    values: dict[str, float | None]
    lower_is_better: bool
    best: list[str]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Params and metrics of several runs, keyed by run id, rows sorted by key."""

    runs: list[Run]
    params: list[ParamRow]
    metrics: list[MetricRow]


def compare_runs(
    runs: Sequence[Run], lower: Collection[str] = (), higher: Collection[str] = ()
) -> Comparison:
    """Line up the params and latest metrics of ``runs``.

    Args:
        runs: the runs, in the order to show them.
        lower: metric names where lower is better, whatever their name says.
        higher: metric names where higher is better, whatever their name says.

    Example:
        >>> from loopml.tracking.models import Run, RunStatus
        >>> a = Run("a", "e", "a", RunStatus.FINISHED, 0, metrics={"loss": 0.3})
        >>> b = Run("b", "e", "b", RunStatus.FINISHED, 0, metrics={"loss": 0.2})
        >>> compare_runs([a, b]).metrics[0].best
        ['b']
    """
    param_keys = sorted({k for run in runs for k in run.params})
    metric_keys = sorted({k for run in runs for k in run.metrics})
    params = []
    for key in param_keys:
        texts = {run.id: run.params.get(key) for run in runs}
        params.append(ParamRow(key, texts, differs=len(set(texts.values())) > 1))
    metrics = []
    for key in metric_keys:
        numbers = {run.id: run.metrics.get(key) for run in runs}
        minimise = lower_is_better(key, lower, higher)
        metrics.append(MetricRow(key, numbers, minimise, _best(numbers, minimise)))
    return Comparison(list(runs), params, metrics)


def _best(values: dict[str, float | None], minimise: bool) -> list[str]:
    finite = {run_id: v for run_id, v in values.items() if v is not None and not math.isnan(v)}
    if not finite:
        return []
    target = min(finite.values()) if minimise else max(finite.values())
    return [run_id for run_id, v in finite.items() if v == target]
