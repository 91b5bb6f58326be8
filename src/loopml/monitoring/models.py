"""Monitoring's value objects: the payload log's segments and counters; monitors, their
configuration and alert rules, windows, alerts and events.

Example:
    >>> stats = PayloadStats(written=3, dropped=1)
    >>> stats.lost
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RULE_KINDS",
    "SEVERITIES",
    "Alert",
    "AlertRule",
    "Monitor",
    "MonitorConfig",
    "MonitorEvent",
    "MonitorWindow",
    "PayloadSegment",
    "PayloadStats",
]


@dataclass(frozen=True, slots=True)
class PayloadSegment:
    """One Parquet file of logged predictions, as indexed in the metadata store.

    A segment is indexed only after its blob is fully written, so every segment listed
    can be read.

    Attributes:
        id: the segment's id (a ULID: sortable by creation).
        deployment: the deployment whose predictions it holds.
        start_ms, end_ms: the earliest and latest ``time_ms`` of its rows (both inclusive).
        row_count: Parquet rows (one per predicted row).
        prediction_count: model calls (a request with a shadow is two).
        digest, size: the blob in the artifact store (SHA-256) and its bytes.
        models: the model versions in it, as ``(model, version)`` pairs, sorted.
        columns: its column names, in order (segments may differ in columns).
        writer: the process that wrote it (``host:pid:nonce``).
        created_at: when it was indexed (Unix ms).
    """

    id: str
    deployment: str
    start_ms: int
    end_ms: int
    row_count: int
    prediction_count: int
    digest: str
    size: int
    models: tuple[tuple[str, int], ...]
    columns: tuple[str, ...]
    writer: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deployment": self.deployment,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "row_count": self.row_count,
            "prediction_count": self.prediction_count,
            "digest": self.digest,
            "size": self.size,
            "models": [{"model": m, "version": v} for m, v in self.models],
            "columns": list(self.columns),
            "writer": self.writer,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class PayloadStats:
    """What a :class:`~loopml.monitoring.PayloadWriter` did with the predictions it got.

    Attributes:
        queued: predictions accepted and not yet written (the queue and the batch in
            flight).
        written: predictions written to indexed segments.
        rows: Parquet rows written (a prediction has one per predicted row).
        segments: segments written and indexed.
        dropped: predictions refused because the queue was full (or the writer closed).
        sampled_out: predictions not kept by the deployment's sample rate (not a loss).
        rejected: predictions that were not valid :class:`Prediction` records (a bug in
            the caller), logged and skipped.
        failed: predictions lost because writing their segment failed.
        errors: write failures (each logged); one failure can lose many predictions.
    """

    queued: int = 0
    written: int = 0
    rows: int = 0
    segments: int = 0
    dropped: int = 0
    sampled_out: int = 0
    rejected: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def lost(self) -> int:
        """Predictions that should have been logged and were not."""
        return self.dropped + self.rejected + self.failed


RULE_KINDS = (
    "drift",  # dataset drift: the share of drifted features reaches the monitor's share
    "feature_drift",  # one feature (``target``) drifted, or any feature when no target
    "prediction_drift",  # an output drifted against the reference's predictions
    "performance",  # a realized metric (``target``) below a value, or below the baseline
    "error_rate",  # the share of failed requests above a value
    "latency",  # a latency percentile (``target``: p50, p95 or p99) above a value, in ms
    "missing",  # a feature's (or any feature's) missing share above a value
)
SEVERITIES = ("warning", "critical")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """When a monitor raises an alert: a condition on each window, held for a while.

    A rule *breaches* on a window when its condition holds there. It fires after
    ``for_windows`` breaching windows in a row (one noisy window pages nobody) and
    resolves after ``clear_windows`` windows in a row that are *clear*: below
    ``clear_value`` when given (hysteresis: a value that hovers at the threshold does not
    flap), else simply not breaching. A window without the data a rule needs (no labels
    yet, no requests) neither breaches nor clears it.

    Attributes:
        name: unique within the monitor; the rule's text by default.
        kind: one of :data:`RULE_KINDS`.
        target: the feature, metric (``accuracy``) or percentile (``p95``) it looks at.
        op: ``>`` (above is bad) or ``<`` (below is bad).
        value: the threshold; ``None`` for drift rules (the drift test decides).
        baseline_margin: for ``performance``: breach when the metric is below the
            version's stored evaluation value minus this margin (``value`` is then None).
        for_windows, clear_windows: the durations above, in windows (>= 1).
        clear_value: the hysteresis threshold (``None``: the same as ``value``).
        severity: ``warning`` or ``critical``.
        text: the rule as written (``accuracy < 0.8 for 3``).
    """

    name: str
    kind: str
    target: str | None = None
    op: str = ">"
    value: float | None = None
    baseline_margin: float | None = None
    for_windows: int = 2
    clear_windows: int = 2
    clear_value: float | None = None
    severity: str = "warning"
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "op": self.op,
            "value": self.value,
            "baseline_margin": self.baseline_margin,
            "for_windows": self.for_windows,
            "clear_windows": self.clear_windows,
            "clear_value": self.clear_value,
            "severity": self.severity,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertRule:
        return cls(**{key: data[key] for key in cls.__slots__ if key in data})


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """How a monitor measures: its windows, drift options, labels and alert rules.

    Attributes:
        window: ``1h``-style time windows, or a row count (``"5000 rows"``).
        features: the input columns watched (empty: every column of the reference sketch
            that the model takes, or that the window has).
        method: ``auto`` or a drift method for every feature (see ``loopml.data.drift``).
        thresholds: fixed thresholds per method (empty: calibrated on the reference).
        correction: ``bh``, ``bonferroni`` or ``None`` for p-value methods.
        alpha: the p-value level.
        share_threshold: the share of drifted features that makes the dataset drifted.
        importance: feature -> weight for the dataset drift share (empty: unweighted).
        target: the label's column in the reference (left out of the features).
        task: ``classification`` or ``regression`` (for realized performance).
        prediction: the output column compared with labels (``predict`` by default).
        rules: the alert rules.
    """

    window: str = "1h"
    features: tuple[str, ...] = ()
    method: str = "auto"
    thresholds: dict[str, float] = field(default_factory=dict)
    correction: str | None = "bh"
    alpha: float = 0.05
    share_threshold: float = 0.5
    importance: dict[str, float] = field(default_factory=dict)
    target: str | None = None
    task: str | None = None
    prediction: str = "predict"
    probability: str | None = None
    rules: tuple[AlertRule, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "features": list(self.features),
            "method": self.method,
            "thresholds": dict(self.thresholds),
            "correction": self.correction,
            "alpha": self.alpha,
            "share_threshold": self.share_threshold,
            "importance": dict(self.importance),
            "target": self.target,
            "task": self.task,
            "prediction": self.prediction,
            "probability": self.probability,
            "rules": [rule.to_dict() for rule in self.rules],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorConfig:
        values = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        values["features"] = tuple(values.get("features", ()))
        values["rules"] = tuple(AlertRule.from_dict(rule) for rule in values.get("rules", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Monitor:
    """A monitor as stored: what it watches, against which reference, how.

    Attributes:
        name: unique; the deployment's name by default.
        deployment: the deployment whose payload log it reads (``None`` for a stream).
        source: the table stream's URI when it watches no deployment.
        reference: where the reference came from (``datasets:/churn_train/3``).
        reference_digest: the stored sketch's blob (SHA-256).
        model, version: the model version whose training data the reference is, if known.
        config: a :class:`MonitorConfig`.
        revision: grows by one with every change.
    """

    name: str
    deployment: str | None
    source: str | None
    reference: str
    reference_digest: str
    model: str | None
    version: int | None
    config: MonitorConfig
    revision: int
    created_at: int
    created_by: str | None
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "deployment": self.deployment,
            "source": self.source,
            "reference": self.reference,
            "reference_digest": self.reference_digest,
            "model": self.model,
            "version": self.version,
            "config": self.config.to_dict(),
            "revision": self.revision,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class MonitorWindow:
    """One computed window of a monitor.

    Attributes:
        id: grows with every window computed (store-wide).
        monitor: the monitor's name.
        start_ms, end_ms: the window ``[start_ms, end_ms)`` in Unix ms.
        rows: predicted rows in it (primary, answered); requests: requests of any status.
        versions: ``({"model", "version", "rows"}, …)`` that answered in it.
        drift_share: the (weighted) share of drifted features; ``None`` without rows.
        dataset_drifted: ``drift_share`` reached the monitor's share threshold.
        results: ``drift`` (a TableDrift as a dict, with distributions), ``prediction_drift``,
            ``quality``, ``health``, ``performance``, ``rules`` (each rule's verdict).
        created_at: when it was computed (Unix ms).
    """

    id: int
    monitor: str
    start_ms: int
    end_ms: int
    rows: int
    requests: int
    versions: tuple[dict[str, Any], ...]
    drift_share: float | None
    dataset_drifted: bool
    results: dict[str, Any]
    created_at: int

    @property
    def drifted_features(self) -> tuple[str, ...]:
        columns = (self.results.get("drift") or {}).get("columns", ())
        return tuple(c["column"] for c in columns if c.get("drifted"))

    def _span(self) -> dict[str, Any]:
        """What :meth:`summary` and :meth:`to_dict` both show: span, counts, drift."""
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "rows": self.rows,
            "requests": self.requests,
            "versions": [dict(v) for v in self.versions],
            "drift_share": self.drift_share,
            "dataset_drifted": self.dataset_drifted,
            "drifted_features": list(self.drifted_features),
        }

    def summary(self) -> dict[str, Any]:
        """The window at a glance (what ``status`` and ``run`` print): its span and counts,
        drift share and drifted features, realized (and estimated) performance with label
        coverage, health, and each rule's verdict; not the per-feature results."""
        performance = self.results.get("performance") or {}
        estimated = self.results.get("estimated_performance") or {}
        return {
            "id": self.id,
            **self._span(),
            "performance": performance.get("metrics") or {},
            "estimated_performance": estimated.get("metrics") or None,
            "label_coverage": (performance.get("coverage") or {}).get("share"),
            "health": self.results.get("health"),
            "rules": self.results.get("rules") or {},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "monitor": self.monitor,
            **self._span(),
            "results": self.results,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule that fired: its state, the windows that made it, what it saw.

    Attributes:
        id: grows store-wide.
        monitor, rule: where it came from.
        state: ``firing`` or ``resolved``.
        severity: the rule's severity.
        opened_at, opened_window: when it fired and on which window (its id).
        last_window: the latest window that kept it firing (or resolved it).
        resolved_at: when it resolved (``None`` while firing).
        evidence: the figures: the rule, each breaching window's value and threshold.
        acked_at, acked_by, ack_reason: an acknowledgement (it keeps firing; nobody is
            paged again for it).
    """

    id: int
    monitor: str
    rule: str
    state: str
    severity: str
    opened_at: int
    opened_window: int
    last_window: int
    resolved_at: int | None
    evidence: dict[str, Any]
    acked_at: int | None = None
    acked_by: str | None = None
    ack_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "monitor": self.monitor,
            "rule": self.rule,
            "state": self.state,
            "severity": self.severity,
            "opened_at": self.opened_at,
            "opened_window": self.opened_window,
            "last_window": self.last_window,
            "resolved_at": self.resolved_at,
            "evidence": self.evidence,
            "acked_at": self.acked_at,
            "acked_by": self.acked_by,
            "ack_reason": self.ack_reason,
        }


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """One of monitoring's events (``alert.firing``, ``alert.resolved``, ``alert.acked``,
    ``monitor.created``, ``monitor.deleted``), read by cursor: ``id`` grows in commit order."""

    id: int
    at: int
    kind: str
    monitor: str
    actor: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "kind": self.kind,
            "monitor": self.monitor,
            "actor": self.actor,
            "payload": self.payload,
        }
