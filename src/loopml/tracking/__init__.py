"""Experiment tracking: runs with params, metrics, tags, artifacts and their environment.

Example:
    >>> from loopml.tracking import TrackingClient
    >>> client = TrackingClient()  # doctest: +SKIP
"""

from loopml.tracking._validation import check_key
from loopml.tracking.client import DEFAULT_EXPERIMENT, TrackingClient
from loopml.tracking.models import (
    Experiment,
    ExperimentSummary,
    Metric,
    Run,
    RunInput,
    RunStatus,
)
from loopml.tracking.run_artifacts import ArtifactEntry

__all__ = [
    "DEFAULT_EXPERIMENT",
    "ArtifactEntry",
    "Experiment",
    "ExperimentSummary",
    "Metric",
    "Run",
    "RunInput",
    "RunStatus",
    "TrackingClient",
    "check_key",
]
