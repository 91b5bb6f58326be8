"""Value objects of pipelines: step options, stored outputs, step runs, pipeline runs.

Example:
    >>> StepStatus.CACHED.done
    True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "COUNTED",
    "CacheVerdict",
    "OutputRef",
    "PipelineRunInfo",
    "PipelineSummary",
    "StepEvent",
    "StepOptions",
    "StepRunInfo",
    "StepStatus",
]


class StepStatus(StrEnum):
    """Where one node of a pipeline run is.

    ``pending`` -> ``running`` -> ``completed`` | ``failed``; or straight to ``cached``
    (an earlier run's outputs reused) or ``skipped`` (an upstream step failed, or the
    step's condition was false); ``killed`` when the orchestrating process died.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    KILLED = "killed"

    @property
    def done(self) -> bool:
        """Whether downstream steps can use this node's outputs."""
        return self in (StepStatus.COMPLETED, StepStatus.CACHED)

    @property
    def terminal(self) -> bool:
        return self not in (StepStatus.PENDING, StepStatus.RUNNING)


# The statuses a run's step counts name, in the order they are shown.
COUNTED = ("completed", "cached", "failed", "skipped", "killed", "running", "pending")


@dataclass(frozen=True, slots=True)
class StepOptions:
    """How a step runs and caches; set with ``@step(...)`` or ``Step.with_options``.

    Attributes:
        name: the step's name in the pipeline (default: the function's name).
        cache: reuse an earlier run's outputs when the cache key matches.
        retries: extra attempts after a failure.
        retry_delay: seconds before the first retry; doubled for each further one.
        timeout: seconds one attempt may take; ``None`` for no limit.
        outputs: names of the outputs when the function returns a tuple.
        allow_pickle: let outputs no other materializer accepts be pickled.
        materializer: force one materializer (by name) for every output.
    """

    name: str
    cache: bool = True
    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    outputs: tuple[str, ...] = ("output",)
    allow_pickle: bool = False
    materializer: str | None = None


@dataclass(frozen=True, slots=True)
class OutputRef:
    """A stored step output: its content digest and how to read it back.

    Small JSON values live inline in the metadata store (``inline`` is set, no blob);
    everything else is a blob in the artifact store.
    """

    digest: str
    materializer: str
    type_name: str
    size: int
    inline: Any = None
    is_inline: bool = False
    run_id: str = ""  # the step run that produced it
    name: str = ""  # the output's name in that step

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "digest": self.digest,
            "materializer": self.materializer,
            "type": self.type_name,
            "size": self.size,
            "run_id": self.run_id,
            "name": self.name,
        }
        if self.is_inline:
            body["inline"] = self.inline
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> OutputRef:
        return cls(
            digest=body["digest"],
            materializer=body["materializer"],
            type_name=body.get("type", ""),
            size=int(body.get("size", 0)),
            inline=body.get("inline"),
            is_inline="inline" in body,
            run_id=body.get("run_id", ""),
            name=body.get("name", ""),
        )


@dataclass(frozen=True, slots=True)
class StepRunInfo:
    """One node of a pipeline run, as stored."""

    node: str
    step: str
    status: StepStatus
    run_id: str | None
    cache_key: str | None
    cached_from: str | None
    attempts: int
    started_at: int | None
    ended_at: int | None
    outputs: dict[str, OutputRef]
    reason: str | None = None
    error: str | None = None
    traceback: str | None = None
    key_parts: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (outputs without their inline values, traceback left out)."""
        return {
            "node": self.node,
            "step": self.step,
            "status": str(self.status),
            "run_id": self.run_id,
            "cached_from": self.cached_from,
            "cache_key": self.cache_key,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_ms": self.duration_ms,
            "reason": self.reason,
            "error": self.error,
            "outputs": {
                name: {"digest": ref.digest, "type": ref.type_name, "size": ref.size}
                for name, ref in self.outputs.items()
            },
        }


@dataclass(frozen=True, slots=True)
class PipelineRunInfo:
    """A pipeline run with its steps, as stored."""

    id: str
    pipeline: str
    status: str
    params: dict[str, Any]
    executor: str
    cache: bool
    entrypoint: str | None
    resumed_from: str | None
    created_at: int
    ended_at: int | None
    spec: dict[str, Any]
    steps: dict[str, StepRunInfo] = field(default_factory=dict)

    @property
    def failed_steps(self) -> list[str]:
        return [n for n, s in self.steps.items() if s.status is StepStatus.FAILED]

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.created_at) / 1000

    @property
    def templates(self) -> set[str]:
        """The ids of the map templates in the spec (they finish when their items do)."""
        return {node["id"] for node in self.spec.get("nodes", []) if node.get("map")}

    def step_counts(self) -> dict[str, int]:
        """How many steps ended in each of :data:`COUNTED` (map templates not counted), and
        ``total``."""
        skip = self.templates
        counts = Counter(str(s.status) for node, s in self.steps.items() if node not in skip)
        return {**{status: counts.get(status, 0) for status in COUNTED}, "total": counts.total()}

    def to_dict(self, *, steps: bool = True) -> dict[str, Any]:
        """The JSON shape: the run's fields, its step counts and (with ``steps``) every step."""
        data: dict[str, Any] = {
            "id": self.id,
            "pipeline": self.pipeline,
            "status": self.status,
            "params": self.params,
            "executor": self.executor,
            "cache": self.cache,
            "entrypoint": self.entrypoint,
            "resumed_from": self.resumed_from,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "counts": self.step_counts(),
            "failed_steps": self.failed_steps,
        }
        if steps:
            data["steps"] = [step.to_dict() for step in self.steps.values()]
        return data

    def _repr_html_(self) -> str:
        """A compact table for notebooks, with one line per step (at most 100)."""
        from loopml._html import html_table, when

        steps = list(self.steps.items())
        records = [
            [
                node,
                str(step.status),
                "" if step.duration_ms is None else f"{step.duration_ms / 1000:.1f} s",
                step.cached_from or "",
                step.reason or "",
            ]
            for node, step in steps[:100]
        ]
        if len(steps) > 100:
            records.append([f"… {len(steps) - 100} more steps", "", "", "", ""])
        return html_table(
            f"Pipeline run {self.pipeline}",
            [
                ("id", self.id),
                ("status", self.status),
                ("executor", self.executor),
                ("params", self.params),
                ("resumed from", self.resumed_from),
                ("created", when(self.created_at)),
                ("ended", when(self.ended_at)),
            ],
            columns=["step", "status", "duration", "cached from", "reason"],
            records=records,
        )


@dataclass(frozen=True, slots=True)
class PipelineSummary:
    """A pipeline that has runs: how many, and its latest run (id, status, time, entrypoint)."""

    name: str
    runs: int
    last_run_id: str
    last_status: str
    last_run_at: int
    entrypoint: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "runs": self.runs,
            "last_run_id": self.last_run_id,
            "last_status": self.last_status,
            "last_run_at": self.last_run_at,
            "entrypoint": self.entrypoint,
        }


@dataclass(frozen=True, slots=True)
class CacheVerdict:
    """Whether one step of a pipeline run reused an earlier run's outputs, and why (not).

    ``verdict`` is ``hit``, ``miss``, ``failed`` (it ran, was a miss, then failed),
    ``skipped``, ``map`` (a map finishes with its items) or ``not run``. A hit names the
    run it reused (``cached_from``); a step that got a cache key names the earlier run it
    was compared with (``compared_with``, ``None`` when there was none to compare).
    """

    node: str
    status: str
    run_id: str | None
    verdict: str
    reasons: list[str]
    cached_from: str | None = None
    compared_with: str | None = None
    compared: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: ``cached_from`` only on a hit, ``compared_with`` once compared."""
        found: dict[str, Any] = {
            "node": self.node,
            "status": self.status,
            "run_id": self.run_id,
            "verdict": self.verdict,
            "reasons": self.reasons,
        }
        if self.verdict == "hit":
            found["cached_from"] = self.cached_from
        if self.compared:
            found["compared_with"] = self.compared_with
        return found


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A change of one node's status, for live displays (``on_event`` callbacks)."""

    pipeline_run_id: str
    node: str
    status: StepStatus
    duration_ms: int | None = None
    reason: str | None = None
    nodes: tuple[str, ...] = ()  # every node known so far (grows when a map expands)
