"""A monitor's HTML report: one window's drift in detail, and every window over time.

:func:`render_report` writes one self-contained page on the shared rendering path
(:mod:`loopml.render`): the CSS inline, the charts drawn with plotly, whose JavaScript is
inlined once; nothing is fetched, so the page opens offline, from a CI artifact or an
e-mail. It shows, for one window (the latest by default): what was watched and when,
the summary (dataset drift share against its threshold, drifted features, firing alerts,
performance with its label coverage), a table of every feature's drift test with data
quality beside it, each feature's distribution against the reference's, and the
prediction drift; then, over all windows: drift scores, performance with label coverage,
service health; then the alert history. Every name is escaped: features, monitors and
rules are user input. :func:`report_figures` returns the same figures as plotly JSON, for
the web UI.

Example:
    >>> from loopml.monitoring.models import Monitor, MonitorConfig
    >>> monitor = Monitor("churn-api", "churn-api", None, "datasets:/churn/3", "ab" * 32,
    ...                   "churn", 3, MonitorConfig(), 1, 0, None, 0)
    >>> page = render_report(monitor, [], [])
    >>> page.startswith("<!DOCTYPE html>") and "loopml monitor run churn-api" in page
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.monitoring import _report_figures as figures
from loopml.monitoring.models import Alert, Monitor, MonitorWindow

__all__ = ["ReportFigures", "render_report", "report_figures"]

_TEMPLATE = "monitor_report.html.j2"
_MAX_UNSEEN = 5  # unseen categories listed per feature; the rest are counted
_MAX_WINDOW_ROWS = 50  # rows of the windows table (the charts draw every window)


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """The report's figures as plotly JSON (``{"data": [...], "layout": {...}}``).

    Attributes:
        distributions: feature -> its distribution against the reference's, in the
            chosen window (features without a stored distribution are left out).
        predictions: model output -> the same, for prediction drift.
        drift_scores: per-feature drift scores and the drift share, over the windows.
        performance: realized metrics and label coverage over the windows.
        health: error rate and p95 latency over the windows.
    """

    distributions: dict[str, dict[str, Any]] = field(default_factory=dict)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift_scores: dict[str, Any] | None = None
    performance: dict[str, Any] | None = None
    health: dict[str, Any] | None = None


def report_figures(
    windows: Sequence[MonitorWindow], *, window: MonitorWindow | None = None
) -> ReportFigures:
    """The figures of a report over ``windows``, with ``window``'s distributions.

    Args:
        windows: the monitor's windows, in any order (drawn by time).
        window: whose distributions to draw; by default the latest.

    Example:
        >>> report_figures([]).drift_scores is None
        True
    """
    series = _series(windows, window)
    chosen = window if window is not None else (series[-1] if series else None)
    results = chosen.results if chosen is not None else {}
    return ReportFigures(
        distributions=_distributions(results.get("drift")),
        predictions=_distributions(results.get("prediction_drift")),
        drift_scores=figures.drift_scores_figure(series),
        performance=figures.performance_figure(series),
        health=figures.health_figure(series),
    )


def render_report(
    monitor: Monitor,
    windows: Sequence[MonitorWindow],
    alerts: Sequence[Alert],
    *,
    window: MonitorWindow | None = None,
) -> str:
    """The monitor's report as one self-contained HTML page.

    Args:
        monitor: the monitor reported on.
        windows: its windows (any order); the charts over time draw all of them.
        alerts: its alerts, firing and resolved (the history table).
        window: the window shown in detail; by default the latest of ``windows``.

    Returns:
        The page, starting with ``<!DOCTYPE html>``.

    Example:
        >>> from loopml.monitoring.models import Monitor, MonitorConfig
        >>> monitor = Monitor("m", None, "datasets:/t/1", "datasets:/t/1", "0" * 64, None,
        ...                   None, MonitorConfig(), 1, 0, None, 0)
        >>> "<title>Monitor m</title>" in render_report(monitor, [], [])
        True
    """
    from loopml.render import render

    series = _series(windows, window)
    chosen = window if window is not None else (series[-1] if series else None)
    drawn = report_figures(series, window=chosen)
    return render(
        _TEMPLATE,
        package="loopml.monitoring",
        title=f"Monitor {monitor.name}",
        monitor=_monitor(monitor),
        window=_window(monitor, chosen, alerts) if chosen is not None else None,
        window_count=len(series),
        figures=drawn,
        windows=[_window_row(w, chosen) for w in reversed(series[-_MAX_WINDOW_ROWS:])],
        alerts=[_alert_row(a) for a in sorted(alerts, key=lambda a: (-a.opened_at, -a.id))],
        firing=sum(1 for a in alerts if a.state == "firing"),
    )


def _series(windows: Sequence[MonitorWindow], extra: MonitorWindow | None) -> list[MonitorWindow]:
    by_id = {w.id: w for w in windows}
    if extra is not None:
        by_id.setdefault(extra.id, extra)
    return sorted(by_id.values(), key=lambda w: (w.end_ms, w.id))


def _distributions(drift: Any) -> dict[str, dict[str, Any]]:
    return {
        str(column["column"]): figures.distribution_figure(str(column["column"]), found)
        for column in _columns(drift)
        if isinstance(found := column.get("distribution"), Mapping)
    }


def _monitor(monitor: Monitor) -> dict[str, Any]:
    model = f"{monitor.model}/{monitor.version}" if monitor.model else None
    return {
        "name": monitor.name,
        "watches": monitor.deployment or monitor.source or "-",
        "watches_kind": "deployment" if monitor.deployment else "stream",
        "reference": monitor.reference,
        "digest": monitor.reference_digest[:12],
        "model": model,
        "config": monitor.config,
        "rules": [rule.text or rule.name for rule in monitor.config.rules],
    }


def _window(monitor: Monitor, window: MonitorWindow, alerts: Sequence[Alert]) -> dict[str, Any]:
    results = window.results
    drift = results.get("drift") if isinstance(results.get("drift"), Mapping) else None
    threshold = (drift or {}).get("share_threshold", monitor.config.share_threshold)
    return {
        "id": window.id,
        "start": _when(window.start_ms),
        "end": _when(window.end_ms),
        "rows": window.rows,
        "requests": window.requests,
        "versions": [_version(v) for v in window.versions],
        "drift": drift,
        "drift_share": _share(window.drift_share),
        "share_threshold": _share(threshold),
        "dataset_drifted": window.dataset_drifted,
        "drifted": list(window.drifted_features),
        "features": [_feature_row(c) for c in _columns(drift)],
        "predictions": [_feature_row(c) for c in _columns(results.get("prediction_drift"))],
        "quality": results.get("quality") or {},
        "performance": _performance(results.get("performance")),
        "estimated": {
            str(name): _number(value)
            for name, value in (
                (results.get("estimated_performance") or {}).get("metrics") or {}
            ).items()
        },
        "health": _health(results.get("health")),
        "rules": [
            _rule_row(name, verdict) for name, verdict in (results.get("rules") or {}).items()
        ],
        "firing": [a.rule for a in alerts if a.state == "firing"],
    }


def _feature_row(column: Mapping[str, Any]) -> dict[str, Any]:
    unseen = [str(value) for value in column.get("unseen") or ()]
    more = len(unseen) - _MAX_UNSEEN
    return {
        "name": str(column.get("column")),
        "kind": column.get("kind") or "-",
        "method": column.get("method") or "-",
        "statistic": _number(column.get("statistic")),
        "p_value": _number(column.get("p_value")),
        "p_adjusted": _number(column.get("p_adjusted")),
        "threshold": _number(column.get("threshold")),
        "threshold_source": column.get("threshold_source") or "-",
        "effect_size": _number(column.get("effect_size")),
        "score": _number(figures.drift_score(column)),
        "drifted": bool(column.get("drifted")),
        "rows": column.get("rows"),
        "missing": _share(column.get("missing_share")),
        "reference_missing": _share(column.get("reference_missing_share")),
        "out_of_range": _share(column.get("out_of_range_share")),
        "unseen": unseen[:_MAX_UNSEEN],
        "unseen_more": more if more > 0 else 0,
        "note": column.get("note"),
    }


def _performance(performance: Any) -> dict[str, Any] | None:
    if not isinstance(performance, Mapping):
        return None
    coverage = performance.get("coverage") or {}
    baseline = performance.get("baseline") or {}
    return {
        "task": performance.get("task") or "-",
        "labelled_rows": performance.get("labelled_rows"),
        "coverage": _share(coverage.get("share")),
        "labelled": coverage.get("labelled"),
        "requests": coverage.get("requests"),
        "metrics": [
            {"name": str(name), "value": _number(value), "baseline": _number(baseline.get(name))}
            for name, value in (performance.get("metrics") or {}).items()
        ],
        "by_version": [
            {
                "version": str(version),
                "rows": (found or {}).get("labelled_rows"),
                "metrics": ", ".join(
                    f"{name} {_number(value)}"
                    for name, value in ((found or {}).get("metrics") or {}).items()
                ),
            }
            for version, found in (performance.get("by_version") or {}).items()
        ],
        "notes": [str(note) for note in performance.get("notes") or ()],
    }


def _health(health: Any) -> dict[str, Any] | None:
    if not isinstance(health, Mapping):
        return None
    latency = health.get("latency_ms") or {}
    return {
        "requests": health.get("requests"),
        "errors": health.get("errors"),
        "error_rate": _share(health.get("error_rate")),
        "latency": {q: _number(latency.get(q)) for q in ("p50", "p95", "p99", "mean")},
    }


def _rule_row(name: str, verdict: Any) -> dict[str, Any]:
    verdict = verdict if isinstance(verdict, Mapping) else {}
    breached = verdict.get("breached")
    state = "no data" if breached is None else ("breached" if breached else "ok")
    return {
        "name": str(name),
        "state": state,
        "value": _number(verdict.get("value")),
        "threshold": _number(verdict.get("threshold")),
        "reason": str(verdict.get("reason") or ""),
    }


def _window_row(window: MonitorWindow, chosen: MonitorWindow | None) -> dict[str, Any]:
    return {
        "id": window.id,
        "start": _when(window.start_ms),
        "end": _when(window.end_ms),
        "rows": window.rows,
        "drift_share": _share(window.drift_share),
        "dataset_drifted": window.dataset_drifted,
        "drifted": ", ".join(window.drifted_features),
        "chosen": chosen is not None and window.id == chosen.id,
    }


def _alert_row(alert: Alert) -> dict[str, Any]:
    acked = None
    if alert.acked_at is not None:
        acked = " ".join(
            part
            for part in (_when(alert.acked_at), f"by {alert.acked_by}" if alert.acked_by else "",
                         f"({alert.ack_reason})" if alert.ack_reason else "")
            if part
        )  # fmt: skip
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "opened": _when(alert.opened_at),
        "opened_window": alert.opened_window,
        "resolved": _when(alert.resolved_at) if alert.resolved_at is not None else "",
        "acked": acked,
        "evidence": _evidence(alert.evidence),
    }


def _evidence(evidence: Mapping[str, Any]) -> str:
    """The alert's figures in one line: its scalars, then its windows' value vs threshold."""
    parts = [
        f"{key} {_number(value) if isinstance(value, float) else value}"
        for key, value in evidence.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
        and key not in {"rule", "monitor"}
    ]  # fmt: skip
    windows = [w for w in evidence.get("windows") or () if isinstance(w, Mapping)]
    for found in windows[-3:]:
        value, threshold = _number(found.get("value")), _number(found.get("threshold"))
        parts.append(f"window {found.get('window', found.get('id', '?'))}: {value} vs {threshold}")
    if len(windows) > 3:
        parts.insert(len(parts) - 3, f"{len(windows)} windows, last 3:")
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:299] + "…"


def _columns(drift: Any) -> list[Mapping[str, Any]]:
    if not isinstance(drift, Mapping):
        return []
    return [c for c in drift.get("columns") or () if isinstance(c, Mapping)]


def _version(found: Mapping[str, Any]) -> str:
    rows = found.get("rows")
    name = f"{found.get('dataset', found.get('model'))}/{found.get('version')}"
    return f"{name} ({rows} rows)" if rows is not None else name


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _number(value: Any) -> str:
    if value is None or isinstance(value, str | bool):
        return "-" if value is None else str(value)
    number = float(value)
    if not math.isfinite(number):
        return "-" if math.isnan(number) else str(number)
    if number == 0 or 1e-3 <= abs(number) < 1e6:
        return f"{number:.4g}"
    return f"{number:.3e}"


def _share(value: Any) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    if math.isnan(value):
        return "-"
    if 0 < value < 0.0001:
        return "<0.01%"
    return f"{value:.2%}"
