"""The automation controller's values: a model's policy, a rollout plan, an agent's pass.

Example:
    >>> policy = AutomationPolicy(pipeline="train-churn", deployment="churn-api", canary_share=20)
    >>> policy.canary_ms, policy.retrains("drift"), policy.retrains("git")
    (600000, True, True)
    >>> AutomationPolicy.from_dict(policy.to_dict()) == policy
    True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

from loopml.errors import InvalidInputError

__all__ = [
    "ENDED",
    "TRIGGER_KINDS",
    "AutomationPolicy",
    "PassReport",
    "Plan",
    "parse_duration",
]

TRIGGER_KINDS = ("schedule", "dataset", "git", "webhook", "manual", "drift", "performance")
"""What may start a retrain: the registered pipeline's own triggers, a person, an alert."""

ENDED = frozenset({"promoted", "rolled_back", "rejected", "failed", "cancelled", "done", "skipped"})
"""The states a plan ends in; ``running`` and ``waiting`` plans are still in progress."""

_DURATION = re.compile(r"(?P<n>\d+)\s*(?P<unit>ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_MAX_MS = 366 * 86_400_000


def parse_duration(text: object, *, name: str) -> int:
    """``text`` (``30s``, ``10m``, ``1h``, ``2d``) in milliseconds.

    Example:
        >>> parse_duration("10m", name="canary"), parse_duration("0s", name="cooldown")
        (600000, 0)
    """
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    match = _DURATION.fullmatch(cleaned)
    if match is None or int(match["n"]) * _UNIT_MS[match["unit"]] > _MAX_MS:
        raise InvalidInputError(
            f"{name} {text!r} is not a duration; give a number and a unit, e.g. '30s', "
            "'10m', '1h' or '1d' (at most a year)"
        )
    return int(match["n"]) * _UNIT_MS[match["unit"]]


@dataclass(frozen=True, slots=True)
class AutomationPolicy:
    """What the controller may do for one model without asking anyone.

    Attributes:
        pipeline: the registered pipeline that trains the model (``loopml pipeline
            register``); its runs must log or register a version of the model.
        deployment: the deployment whose traffic the canary shares (``None``: a new
            version is promoted without a canary).
        retrain_on: which triggers start a retrain (:data:`TRIGGER_KINDS`): the
            pipeline's schedule and triggers, ``manual`` (``loopml trigger``), and the
            deployment's ``drift`` and ``performance`` alerts.
        evaluate_on: the data the new version is evaluated on, against the champion,
            with the registry policy's gates (``datasets:/churn_holdout@latest``);
            ``None``: the pipeline evaluates the version itself.
        target: the label column of ``evaluate_on``.
        alias: the alias a promotion moves (the champion's).
        canary_share: the percentage of the deployment's traffic the canary takes (1-99;
            0 promotes without a canary).
        canary_for: how long the canary is watched before it is judged.
        min_rows: the canary's rows needed to judge it; with fewer, the watch goes on
            (up to four times ``canary_for``, then the canary is rolled back).
        max_error_rate: the canary's failed-request share that rolls it back.
        max_latency_ratio: the canary's p95 latency over the champion's that rolls it
            back.
        metric: the realized metric compared once labels arrive (``accuracy``, ``rmse``).
        max_metric_drop: how far below the champion's realized metric (above, for a
            loss such as ``rmse``) the canary's may be.
        min_labels: the labelled canary rows needed before the metric is compared.
        rollback_on_drift: roll back a canary whose live inputs drifted from the data it
            was trained on.
        cooldown: the least time between two automatic retrains of the model.
        max_retrains_per_day: automatic retrains allowed in any 24 hours (a person's
            ``loopml trigger`` is never limited).
    """

    pipeline: str
    deployment: str | None = None
    retrain_on: tuple[str, ...] = TRIGGER_KINDS
    evaluate_on: str | None = None
    target: str | None = None
    alias: str = "production"
    canary_share: int = 10
    canary_for: str = "10m"
    min_rows: int = 50
    max_error_rate: float = 0.05
    max_latency_ratio: float = 3.0
    metric: str | None = None
    max_metric_drop: float = 0.05
    min_labels: int = 30
    rollback_on_drift: bool = True
    cooldown: str = "1h"
    max_retrains_per_day: int = 4
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.pipeline, str) or not self.pipeline.strip():
            raise InvalidInputError("an automation policy names the registered pipeline to run")
        unknown = sorted(set(self.retrain_on) - set(TRIGGER_KINDS))
        if unknown:
            raise InvalidInputError(
                f"retrain_on {unknown} unknown; choose from {', '.join(TRIGGER_KINDS)}"
            )
        _whole("canary_share", self.canary_share, 0, 99)
        _whole("min_rows", self.min_rows, 1, 10_000_000)
        _whole("min_labels", self.min_labels, 1, 10_000_000)
        _whole("max_retrains_per_day", self.max_retrains_per_day, 0, 10_000)
        _fraction("max_error_rate", self.max_error_rate, 0.0, 1.0)
        _fraction("max_latency_ratio", self.max_latency_ratio, 1.0, 1_000.0)
        _fraction("max_metric_drop", self.max_metric_drop, 0.0, 1e12)
        parse_duration(self.canary_for, name="canary_for")
        parse_duration(self.cooldown, name="cooldown")
        if (self.evaluate_on is None) != (self.target is None):
            raise InvalidInputError(
                "give evaluate_on and target together (the data and its label column), "
                "or neither (the pipeline evaluates the version itself)"
            )

    @property
    def canary_ms(self) -> int:
        return parse_duration(self.canary_for, name="canary_for")

    @property
    def cooldown_ms(self) -> int:
        return parse_duration(self.cooldown, name="cooldown")

    def retrains(self, kind: str) -> bool:
        """Whether a trigger of ``kind`` starts a retrain."""
        return kind in self.retrain_on

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["retrain_on"] = list(self.retrain_on)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AutomationPolicy:
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        if "retrain_on" in values:
            values["retrain_on"] = tuple(values["retrain_on"])
        return cls(**values)


def _whole(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}"
        )


def _fraction(name: str, value: object, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidInputError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Plan:
    """A rollout plan: what one trigger started, and how far it got.

    Attributes:
        id: grows store-wide.
        key: the trigger's identity (``alert:12:churn``); one plan per key.
        pipeline: the registered pipeline it runs.
        model: the model it retrains (``None``: a plain pipeline run).
        trigger: what fired it: ``{"kind": "drift", "alert": 12, ...}``.
        state: ``running`` or ``waiting`` while in progress; then ``promoted``,
            ``rolled_back``, ``rejected``, ``failed``, ``cancelled``, ``done`` (a plan
            without a model, or with nothing new to roll out) or ``skipped`` (the policy
            held it back: cool-down, budget, a plan already in progress).
        step: ``train``, ``register``, ``evaluate``, ``approve``, ``canary``, ``watch``,
            ``promote``, ``rollback`` or ``end``.
        version: the version it trained.
        pipeline_run_id: the pipeline run that trained it.
        attempts: how many times the current step was started.
        details: the step log (``details["log"]``) and what the steps recorded (the
            previous traffic policy, the canary's start and figures).
        reason: why it waits, or why it ended as it did.
    """

    id: int
    key: str
    pipeline: str
    model: str | None
    trigger: dict[str, Any]
    state: str
    step: str
    version: int | None
    pipeline_run_id: str | None
    attempts: int
    details: dict[str, Any]
    reason: str | None
    created_at: int
    updated_at: int
    ended_at: int | None

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class PassReport:
    """What one reconciliation pass did.

    Attributes:
        acted: ``False`` when another agent holds the lease (nothing was done).
        holder: who holds the lease.
        windows: monitor windows computed.
        ingested: watched datasets whose changed source was logged as a new version.
        created: plans started (ids).
        advanced: plans that moved (id -> the state they reached).
        seconds: how long the pass took.
    """

    acted: bool
    holder: str
    windows: int = 0
    ingested: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    advanced: dict[int, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
