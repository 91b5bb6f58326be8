"""Continuous monitoring: the payload log, delayed labels, monitors, windows and alerts.

Monitoring owns the payload log: serving hands every prediction to a
:class:`~loopml.monitoring.payload.PredictionSink` (a :class:`PayloadWriter`) and never
waits for it; monitors read the log back by deployment and time window with
:func:`read_predictions`; delayed labels join them by request id (:func:`log_feedback`,
:func:`read_feedback`, :func:`label_coverage`); a :class:`MonitorClient` watches a
deployment's log against a stored reference sketch, window by window, and fires alerts
(docs/monitors.md); :func:`drift` measures one table against a reference in a notebook
or CI. It sits below serving (DESIGN.md floors), so serving imports monitoring and never
the other way round.

The log's row shape (one row per predicted row; ``request_id``, ``row``, ``time_ms``,
``deployment``, ``model``, ``version``, ``role``, ``status``, ``latency_ms``, ``error``,
then ``input.*``, ``feature.*``, ``output.*``) is described in
:mod:`loopml.monitoring._rows` and in docs/monitoring.md.

Example:
    >>> from loopml.monitoring import PayloadWriter, read_predictions
    >>> writer = PayloadWriter(None, "churn-api")  # doctest: +SKIP
    >>> read_predictions("churn-api", since="1h")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.monitoring.drift import drift
from loopml.monitoring.feedback import (
    FeedbackResult,
    LabelCoverage,
    join_labels,
    label_coverage,
    log_feedback,
    read_feedback,
)
from loopml.monitoring.models import PayloadSegment, PayloadStats
from loopml.monitoring.payload import NullSink, Prediction, PredictionSink
from loopml.monitoring.reader import read_predictions
from loopml.monitoring.segments import list_segments
from loopml.monitoring.writer import PayloadWriter, is_sampled

if TYPE_CHECKING:  # the statistics pull in scipy: imported on first use (serving stays light)
    from loopml.data.sketch import ColumnDrift, TableDrift
    from loopml.monitoring.monitors import MonitorClient

__all__ = [
    "ColumnDrift",
    "FeedbackResult",
    "LabelCoverage",
    "MonitorClient",
    "NullSink",
    "PayloadSegment",
    "PayloadStats",
    "PayloadWriter",
    "Prediction",
    "PredictionSink",
    "TableDrift",
    "drift",
    "is_sampled",
    "join_labels",
    "label_coverage",
    "list_segments",
    "log_feedback",
    "read_feedback",
    "read_predictions",
]


def __getattr__(name: str) -> Any:
    if name in ("ColumnDrift", "TableDrift"):
        from loopml.data import sketch

        return getattr(sketch, name)
    if name == "MonitorClient":
        from loopml.monitoring.monitors import MonitorClient

        return MonitorClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
