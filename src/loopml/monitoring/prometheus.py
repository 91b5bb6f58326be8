"""Monitors as Prometheus gauges: what the latest window measured and which alerts fire.

:func:`prometheus_text` writes the text exposition format (version 0.0.4) that any
Prometheus server scrapes, so an existing Alertmanager setup can page on loopml's drift,
performance and alert state without a new integration. Everything is a gauge: each
sample is the latest window's figure, not a running count.

=================================================  ====================================
metric                                             labels
=================================================  ====================================
``loopml_monitor_drift_statistic``                 monitor, feature, method
``loopml_monitor_drift_threshold``                 monitor, feature, method
``loopml_monitor_feature_drifted`` (0/1)           monitor, feature
``loopml_monitor_drift_share``                     monitor
``loopml_monitor_dataset_drifted`` (0/1)           monitor
``loopml_monitor_prediction_drifted`` (0/1)        monitor, output
``loopml_monitor_performance``                     monitor, metric
``loopml_monitor_label_coverage``                  monitor
``loopml_monitor_error_rate``                      monitor
``loopml_monitor_latency_ms``                      monitor, quantile (p50, p95, p99, mean)
``loopml_monitor_window_end_timestamp_seconds``    monitor
``loopml_monitor_window_rows``                     monitor
``loopml_monitor_alert_firing`` (0/1)              monitor, rule, severity
=================================================  ====================================

``loopml_monitor_alert_firing`` is 1 for each firing alert and 0 for every other rule of
the monitor's configuration, so a rule that stops firing shows as resolved rather than
vanishing. A figure the window does not have (no rows, no labels yet, NaN) is left out,
never written as 0. Label values are escaped as the format requires (backslash, double
quote, newline), so feature names may hold anything.

Example:
    >>> from loopml.monitoring.models import Monitor, MonitorConfig, MonitorWindow
    >>> monitor = Monitor("churn-api", "churn-api", None, "datasets:/churn/3", "ab" * 32,
    ...                   "churn", 3, MonitorConfig(), 1, 0, None, 0)
    >>> window = MonitorWindow(1, "churn-api", 0, 3_600_000, 120, 120, (), 0.25, False,
    ...                        {}, 3_600_000)
    >>> text = prometheus_text([monitor], {"churn-api": window}, [])
    >>> 'loopml_monitor_drift_share{monitor="churn-api"} 0.25' in text
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.monitoring.models import Alert, Monitor, MonitorWindow

__all__ = ["CONTENT_TYPE", "METRICS", "prometheus_text"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# name -> help text, in the order they are written.
METRICS: dict[str, str] = {
    "loopml_monitor_drift_statistic": "The drift statistic of a feature in the monitor's "
    "latest window (the method's own scale: KS D, Wasserstein distance, PSI, JS, chi2).",
    "loopml_monitor_drift_threshold": "The threshold the feature's drift statistic is "
    "compared with (for p-value methods: the p-value level).",
    "loopml_monitor_feature_drifted": "1 when the feature drifted in the latest window.",
    "loopml_monitor_drift_share": "The (weighted) share of drifted features in the latest window.",
    "loopml_monitor_dataset_drifted": "1 when the drift share reached the monitor's share "
    "threshold in the latest window.",
    "loopml_monitor_prediction_drifted": "1 when a model output drifted against the "
    "reference's predictions in the latest window.",
    "loopml_monitor_performance": "A realized performance metric over the latest window's "
    "labelled predictions.",
    "loopml_monitor_label_coverage": "The share of the latest window's requests that have a label.",
    "loopml_monitor_error_rate": "The share of the latest window's requests that failed.",
    "loopml_monitor_latency_ms": "Request latency in the latest window, in milliseconds.",
    "loopml_monitor_window_end_timestamp_seconds": "When the latest window ends (Unix seconds).",
    "loopml_monitor_window_rows": "Predicted rows in the latest window.",
    "loopml_monitor_alert_firing": "1 while an alert of the rule fires, 0 for a rule of the "
    "monitor that does not fire.",
}
_LATENCY = ("p50", "p95", "p99", "mean")


@dataclass(slots=True)
class _Exposition:
    """Samples grouped by metric family (the format wants each family in one block)."""

    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = field(
        default_factory=lambda: {name: {} for name in METRICS}
    )

    def add(self, name: str, value: Any, **labels: str) -> None:
        number = _number(value)
        if number is not None:
            self.samples[name][tuple(labels.items())] = number

    def text(self) -> str:
        lines: list[str] = []
        for name, samples in self.samples.items():
            if not samples:
                continue
            lines.append(f"# HELP {name} {_escape_help(METRICS[name])}")
            lines.append(f"# TYPE {name} gauge")
            lines.extend(
                f"{name}{_labels(labels)} {_format(value)}" for labels, value in samples.items()
            )
        return "\n".join(lines) + "\n" if lines else ""


def prometheus_text(
    monitors: Sequence[Monitor],
    latest: Mapping[str, MonitorWindow],
    alerts: Sequence[Alert],
) -> str:
    """The monitors' latest figures and alert states in Prometheus' text format 0.0.4.

    Args:
        monitors: the monitors to expose (alerts of other monitors are left out).
        latest: each monitor's latest window, by monitor name (a monitor without one
            still exposes its alert states).
        alerts: alerts of those monitors; only ``firing`` ones count.

    Returns:
        The exposition text (``""`` when there is nothing to expose), served with
        :data:`CONTENT_TYPE`.

    Example:
        >>> prometheus_text([], {}, [])
        ''
    """
    out = _Exposition()
    for monitor in monitors:
        window = latest.get(monitor.name)
        if window is not None:
            _window(out, monitor.name, window)
        _alerts(out, monitor, [a for a in alerts if a.monitor == monitor.name])
    return out.text()


def _window(out: _Exposition, name: str, window: MonitorWindow) -> None:
    results = window.results
    drift = results.get("drift") or {}
    for column in _columns(drift):
        feature, method = str(column.get("column")), str(column.get("method"))
        out.add("loopml_monitor_drift_statistic", column.get("statistic"),
                monitor=name, feature=feature, method=method)  # fmt: skip
        out.add("loopml_monitor_drift_threshold", column.get("threshold"),
                monitor=name, feature=feature, method=method)  # fmt: skip
        out.add("loopml_monitor_feature_drifted", column.get("drifted"),
                monitor=name, feature=feature)  # fmt: skip
    if window.drift_share is not None:
        out.add("loopml_monitor_drift_share", window.drift_share, monitor=name)
        out.add("loopml_monitor_dataset_drifted", window.dataset_drifted, monitor=name)
    for column in _columns(results.get("prediction_drift") or {}):
        out.add("loopml_monitor_prediction_drifted", column.get("drifted"),
                monitor=name, output=str(column.get("column")))  # fmt: skip
    performance = results.get("performance") or {}
    for metric, value in (performance.get("metrics") or {}).items():
        out.add("loopml_monitor_performance", value, monitor=name, metric=str(metric))
    coverage = performance.get("coverage") or {}
    out.add("loopml_monitor_label_coverage", coverage.get("share"), monitor=name)
    health = results.get("health") or {}
    out.add("loopml_monitor_error_rate", health.get("error_rate"), monitor=name)
    latency = health.get("latency_ms") or {}
    for quantile in _LATENCY:
        out.add("loopml_monitor_latency_ms", latency.get(quantile), monitor=name,
                quantile=quantile)  # fmt: skip
    out.add("loopml_monitor_window_end_timestamp_seconds", window.end_ms / 1000, monitor=name)
    out.add("loopml_monitor_window_rows", window.rows, monitor=name)


def _alerts(out: _Exposition, monitor: Monitor, alerts: Iterable[Alert]) -> None:
    firing = {(a.rule, a.severity) for a in alerts if a.state == "firing"}
    firing_rules = {rule for rule, _ in firing}
    for rule in monitor.config.rules:
        if rule.name not in firing_rules:
            out.add("loopml_monitor_alert_firing", 0, monitor=monitor.name, rule=rule.name,
                    severity=rule.severity)  # fmt: skip
    # A firing alert counts even if its rule has since been edited (another severity) or
    # removed: it fires until it resolves.
    for rule_name, severity in sorted(firing):
        out.add("loopml_monitor_alert_firing", 1, monitor=monitor.name, rule=rule_name,
                severity=severity)  # fmt: skip


def _columns(drift: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in drift.get("columns") or () if isinstance(c, Mapping)]


def _number(value: Any) -> float | None:
    """A sample's value, or ``None`` to leave it out (missing, NaN, not a number)."""
    if value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _format(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels) + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
