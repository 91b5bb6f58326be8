"""Pictures of the monitoring report, as plain plotly JSON (drawing needs no plotly import).

- a feature's distribution in one window beside the reference's:
  :func:`loopml.render.distribution.distribution_figure`, which the validation report
  draws too;
- drift scores over time: per feature, how far the window's figure is past its threshold
  (1 is the threshold; see :func:`drift_score`), with the dataset's drift share;
- realized performance over time with the label coverage on a second axis;
- service health over time: error rate and p95 latency.

Example:
    >>> drift_score({"statistic": 0.2, "threshold": 0.1, "p_value": None})
    2.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.monitoring.models import MonitorWindow
from loopml.render.distribution import COLORS, distribution_figure

__all__ = [
    "MAX_SCORE",
    "distribution_figure",
    "drift_score",
    "drift_scores_figure",
    "health_figure",
    "performance_figure",
]

# A p-value of 0 would make an infinite score; the chart stops here.
MAX_SCORE = 10.0
_DARK = "#101828"


def _layout(**changes: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "margin": {"l": 55, "r": 55, "t": 10, "b": 40},
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hovermode": "x unified",
    }
    layout.update(changes)
    return layout


def drift_score(column: Mapping[str, Any]) -> float | None:
    """How far a feature's drift figure is past its threshold: above 1 is drifted.

    For a statistic compared with a threshold (calibrated or fixed): statistic /
    threshold. For a p-value test: log(p) / log(level), with the corrected p-value when
    there is one, so both read the same way (1 at the threshold, larger is worse), capped
    at :data:`MAX_SCORE`. ``None`` when the figures are missing.

    Example:
        >>> drift_score({"statistic": 0.3, "threshold": 0.1, "threshold_source": "fixed"})
        3.0
        >>> drift_score({"p_value": 0.0025, "p_adjusted": None, "threshold": 0.05,
        ...              "threshold_source": "p-value"})
        2.0
    """
    threshold = _finite(column.get("threshold"))
    if threshold is None or threshold <= 0:
        return None
    if column.get("threshold_source") == "p-value":
        p_value = _finite(column.get("p_adjusted"))
        p_value = _finite(column.get("p_value")) if p_value is None else p_value
        if p_value is None or threshold >= 1:
            return None
        score = MAX_SCORE if p_value <= 0 else math.log(p_value) / math.log(threshold)
    else:
        statistic = _finite(column.get("statistic"))
        if statistic is None:
            return None
        score = statistic / threshold
    return round(min(max(score, 0.0), MAX_SCORE), 6)


def drift_scores_figure(windows: Sequence[MonitorWindow]) -> dict[str, Any] | None:
    """One line per feature (its drift score per window) and the drift share on the right."""
    times = [_time(w.end_ms) for w in windows]
    features: dict[str, list[float | None]] = {}
    for i, window in enumerate(windows):
        for column in _columns(window.results.get("drift")):
            scores = features.setdefault(str(column.get("column")), [None] * len(windows))
            scores[i] = drift_score(column)
    shares = [_finite(w.drift_share) for w in windows]
    if not features and all(share is None for share in shares):
        return None
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": times, "y": scores}
        for name, scores in sorted(features.items())
    ]
    data.append(
        {
            "type": "scatter", "mode": "lines", "name": "drift share", "x": times,
            "y": shares, "yaxis": "y2", "line": {"color": _DARK, "dash": "dot", "width": 3},
        }
    )  # fmt: skip
    layout = _layout(
        yaxis={"title": {"text": "drift score (1 = threshold)"}, "rangemode": "tozero"},
        yaxis2=_right_axis("drift share", ".0%", (0, 1)),
        shapes=[_level(1.0, "y")],
    )
    return {"data": data, "layout": layout}


def performance_figure(windows: Sequence[MonitorWindow]) -> dict[str, Any] | None:
    """Realized metrics per window, with the label coverage as bars on the right axis."""
    times = [_time(w.end_ms) for w in windows]
    metrics: dict[str, list[float | None]] = {}
    baselines: dict[str, list[float | None]] = {}
    coverage: list[float | None] = []
    for i, window in enumerate(windows):
        performance = window.results.get("performance") or {}
        coverage.append(_finite((performance.get("coverage") or {}).get("share")))
        for name, value in (performance.get("metrics") or {}).items():
            metrics.setdefault(str(name), [None] * len(windows))[i] = _finite(value)
        for name, value in (performance.get("baseline") or {}).items():
            baselines.setdefault(str(name), [None] * len(windows))[i] = _finite(value)
    if not metrics and all(share is None for share in coverage):
        return None
    data: list[dict[str, Any]] = [
        {
            "type": "bar", "name": "label coverage", "x": times, "y": coverage,
            "yaxis": "y2", "opacity": 0.25, "marker": {"color": COLORS["reference"]},
        }
    ]  # fmt: skip
    for name, values in sorted(metrics.items()):
        data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": times,
                     "y": values})  # fmt: skip
    for name, values in sorted(baselines.items()):
        data.append({"type": "scatter", "mode": "lines", "name": f"{name} (evaluation)",
                     "x": times, "y": values, "line": {"dash": "dash"}})  # fmt: skip
    layout = _layout(
        yaxis={"title": {"text": "metric"}},
        yaxis2=_right_axis("label coverage", ".0%", (0, 1)),
    )
    return {"data": data, "layout": layout}


def health_figure(windows: Sequence[MonitorWindow]) -> dict[str, Any] | None:
    """Each window's error rate, and its p95 latency on the right axis."""
    times = [_time(w.end_ms) for w in windows]
    errors: list[float | None] = []
    latency: list[float | None] = []
    for window in windows:
        health = window.results.get("health") or {}
        errors.append(_finite(health.get("error_rate")))
        latency.append(_finite((health.get("latency_ms") or {}).get("p95")))
    if all(value is None for value in errors + latency):
        return None
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": "error rate", "x": times,
         "y": errors, "line": {"color": "#b42318"}},
        {"type": "scatter", "mode": "lines+markers", "name": "p95 latency (ms)", "x": times,
         "y": latency, "yaxis": "y2", "line": {"color": COLORS["current"]}},
    ]  # fmt: skip
    layout = _layout(
        yaxis={"title": {"text": "error rate"}, "tickformat": ".1%", "rangemode": "tozero"},
        yaxis2=_right_axis("p95 latency (ms)", "", None),
    )
    return {"data": data, "layout": layout}


def _right_axis(title: str, tickformat: str, bounds: tuple[float, float] | None) -> Any:
    axis: dict[str, Any] = {"title": {"text": title}, "overlaying": "y", "side": "right",
                            "showgrid": False, "rangemode": "tozero"}  # fmt: skip
    if tickformat:
        axis["tickformat"] = tickformat
    if bounds is not None:
        axis["range"] = list(bounds)
    return axis


def _level(value: float, axis: str) -> dict[str, Any]:
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": axis, "y0": value,
            "y1": value, "line": {"color": "#b42318", "dash": "dash", "width": 1}}  # fmt: skip


def _columns(drift: Any) -> list[Mapping[str, Any]]:
    if not isinstance(drift, Mapping):
        return []
    return [c for c in drift.get("columns") or () if isinstance(c, Mapping)]


def _time(ms: int) -> str:
    # plotly reads this form as a date; the axis is UTC because the text is.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, str | bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
