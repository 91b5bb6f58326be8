"""Value objects returned by the tracking API.

Example:
    >>> m = Metric(key="acc", value=0.9, step=3, timestamp=1700000000000)
    >>> m.value
    0.9
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from loopml.uris import run_uri

__all__ = ["Experiment", "Metric", "Run", "RunInput", "RunStatus"]


class RunStatus(StrEnum):
    """Lifecycle of a run. ``running`` ends in exactly one of the other three."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"

    @property
    def terminal(self) -> bool:
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs, with its tags (``tags.<key>`` in experiment searches).

    ``deleted_at`` is set (Unix milliseconds) once the experiment is deleted.
    """

    id: str
    name: str
    created_at: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    deleted_at: int | None = None


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    """An experiment with how many live runs it holds and when the latest one started."""

    experiment: Experiment
    runs: int = 0
    last_run_start: int | None = None


class Metric(NamedTuple):
    """One logged point of a metric; ``timestamp`` is Unix milliseconds.

    A named tuple: a history can hold millions of points, so each must be cheap.
    """

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Run:
    """A run with its data: params, the latest value of each metric, and tags.

    Times are Unix milliseconds; ``end_time`` is ``None`` while the run is running.
    """

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    parent_run_id: str | None = None
    user: str | None = None
    host: str | None = None
    deleted_at: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: tuple[RunInput, ...] = ()

    @property
    def uri(self) -> str:
        """``runs:/<id>``: the root of this run's artifacts."""
        return run_uri(self.id)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_time is None else (self.end_time - self.start_time) / 1000

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``status`` as its string)."""
        return {
            "id": self.id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "status": str(self.status),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "parent_run_id": self.parent_run_id,
            "user": self.user,
            "host": self.host,
            "deleted_at": self.deleted_at,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "tags": dict(self.tags),
            "inputs": [i.to_dict() for i in self.inputs],
        }

    def _repr_html_(self) -> str:
        """A compact table for notebooks (system ``loopml.*`` tags left out)."""
        from loopml._html import html_table, when

        duration = self.duration_s
        return html_table(
            f"Run {self.name}",
            [
                ("id", self.id),
                ("status", str(self.status)),
                ("experiment id", self.experiment_id),
                ("parent run", self.parent_run_id),
                ("started", when(self.start_time)),
                ("ended", when(self.end_time)),
                ("duration", None if duration is None else f"{duration:.1f} s"),
                ("user", self.user),
                ("params", self.params),
                ("metrics", self.metrics),
                ("tags", {k: v for k, v in self.tags.items() if not k.startswith("loopml.")}),
                ("inputs", [f"{i.uri} ({i.context or 'input'})" for i in self.inputs]),
            ],
        )


@dataclass(frozen=True, slots=True)
class RunInput:
    """Something a run consumed: a lineage edge ``run --consumed--> node``.

    Attributes:
        kind: the node's kind: ``dataset_version``, ``step_output``, ``feature_view``…
        id: the node's id (``name/version`` for a dataset version).
        uri: ``datasets:/name/version`` for a dataset version, else ``kind:id``.
        context: what the run used it for (``training``, ``evaluation``…), if said.

    Example:
        >>> RunInput("dataset_version", "iris/2", "datasets:/iris/2", "training").uri
        'datasets:/iris/2'
    """

    kind: str
    id: str
    uri: str
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "uri": self.uri, "context": self.context}
