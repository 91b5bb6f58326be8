"""Continuous monitoring: the payload log first; monitors, drift windows and alerts next.

Monitoring owns the payload log: serving hands every prediction to a
:class:`~loopml.monitoring.payload.PredictionSink` and never waits for it; monitors read
the log back by deployment and time window. It sits below serving (DESIGN.md floors), so
serving imports monitoring and never the other way round.
"""

from __future__ import annotations

from loopml.monitoring.payload import NullSink, Prediction, PredictionSink

__all__ = ["NullSink", "Prediction", "PredictionSink"]
