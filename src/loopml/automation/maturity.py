"""The MLOps maturity level a project has reached, from what its store shows has run.

Five levels, 0 to 4 (docs/maturity.md is their specification), in the spirit of
Microsoft's and Google's MLOps maturity models: 0 manual work; 1 tracked and versioned;
2 reproducible pipelines and gated releases; 3 automated delivery and monitoring;
4 the closed loop. Each level above 0 has criteria, each one a fact of the store (a
tracked run, a gated promotion, a computed monitor window, a plan rolled back), never a
setting alone. The level reached is the highest level whose criteria, and those of every
level below it, are all met. Each unmet criterion carries the command that adds it,
written with the store's own names where it has them.

Example:
    >>> report = assess(Settings.load())  # doctest: +SKIP
    >>> report.level, report.name  # doctest: +SKIP
    (2, 'reproducible pipelines & gated releases')
    >>> [c.command for c in report.missing]  # doctest: +SKIP
    ['loopml deployments create churn-api --model churn --alias production', ...]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from loopml.automation import _evidence
from loopml.config import Settings
from loopml.store import open_store

__all__ = ["LEVELS", "Criterion", "Level", "MaturityReport", "assess"]


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    name: str
    command: str  # with {model}, {deployment}, … from _evidence.names
    hint: str


@dataclass(frozen=True, slots=True)
class _LevelSpec:
    number: int
    name: str
    summary: str
    criteria: tuple[_Spec, ...]


LEVELS: tuple[_LevelSpec, ...] = (
    _LevelSpec(0, "manual", "models are trained and shipped by hand; nothing is tracked", ()),
    _LevelSpec(
        1,
        "tracked & versioned",
        "experiments are tracked, data is versioned and linked to the runs that used it, "
        "models live in a registry",
        (
            _Spec(
                "tracked_runs",
                "tracked runs with parameters or metrics",
                'with loopml.start_run(experiment="NAME"): loopml.log_params(params); '
                'loopml.log_metric("auc", auc)',
                "in the training script; or `loopml pipeline run FILE:PIPELINE`, where "
                "every step is a tracked run",
            ),
            _Spec(
                "dataset_lineage",
                "versioned datasets consumed by runs",
                "loopml data log {dataset} FILE --run-id {run}",
                "or loopml.log_dataset(NAME, frame) inside the run",
            ),
            _Spec(
                "registered_models",
                "registered model versions",
                "loopml models register runs:/{run}/model {model}",
                "or loopml.log_model(model, 'model', register_as=NAME)",
            ),
        ),
    ),
    _LevelSpec(
        2,
        "reproducible pipelines & gated releases",
        "training runs as a tracked pipeline; a version reaches production only through "
        "evaluation gates in the model's promotion policy",
        (
            _Spec(
                "pipeline_runs",
                "finished pipeline runs (a tracked DAG of steps)",
                "loopml pipeline run FILE:PIPELINE",
                "write the training as @loopml.step functions in a @loopml.pipeline",
            ),
            _Spec(
                "promotion_policy",
                "a promotion policy with gates",
                'loopml models policy set {model} --gate "accuracy >= 0.8"',
                "gates a version must pass before an alias may point at it",
            ),
            _Spec(
                "gated_evaluations",
                "evaluations judged by gates",
                "loopml models evaluate {model}/{version} --data datasets:/HOLDOUT@latest "
                "--target COLUMN",
                "on data held out from training, with the policy's gates (or --gate EXPR)",
            ),
            _Spec(
                "gated_promotion",
                "a version promoted under a policy with gates",
                "loopml models promote {model} {version}",
                "the promotion checks the gates; every alias move is kept",
            ),
        ),
    ),
    _LevelSpec(
        3,
        "automated delivery & monitoring",
        "a registered model is served with its predictions logged and watched for drift; "
        "training is registered to run on a schedule or on triggers",
        (
            _Spec(
                "deployment",
                "a deployment serving a registered model",
                "loopml deployments create {model}-api --model {model} --alias production",
                "then `loopml serve NAME` serves it",
            ),
            _Spec(
                "payload_log",
                "predictions in the payload log",
                "loopml serve {deployment}",
                "every prediction served is logged for monitoring",
            ),
            _Spec(
                "monitor_windows",
                "a monitor with computed windows",
                "loopml monitor create {deployment}",
                "then `loopml monitor run NAME` (or `loopml agent`) computes its windows",
            ),
            _Spec(
                "pipeline_triggers",
                "a registered pipeline with a schedule or triggers",
                'loopml pipeline register FILE:PIPELINE --schedule "0 3 * * *" '
                "--on-dataset {dataset}",
                "the agent runs it when it is due",
            ),
        ),
    ),
    _LevelSpec(
        4,
        "closed loop",
        "the agent retrains on schedules, new data and alerts, and releases on its own "
        "through gates and a canary, rolling back what fails",
        (
            _Spec(
                "automation_policy",
                "an automation policy",
                "loopml automation set {model} --pipeline {pipeline} --deployment {deployment}",
                "what the agent may do for the model on its own",
            ),
            _Spec(
                "agent", "the agent has run", "loopml agent", "or `loopml agent --once` from cron"
            ),
            _Spec(
                "canary_promotion",
                "an automatic retrain promoted through a canary",
                "loopml automation set {model} --pipeline {pipeline} "
                "--deployment {deployment} --canary 10",
                "then keep `loopml agent` running: the next schedule, data version or "
                "alert retrains, canaries and promotes",
            ),
            _Spec(
                "safety_net",
                "a plan rolled back or rejected (the safety net acted)",
                "loopml trigger {pipeline}",
                "a fire drill: a challenger that fails the gates is rejected, a canary "
                "that fails live is rolled back",
            ),
        ),
    ),
)
"""The levels and their criteria, lowest first (docs/maturity.md explains each)."""


@dataclass(frozen=True, slots=True)
class Criterion:
    """One criterion of a level, as the store shows it.

    Attributes:
        key: its stable name (``gated_promotion``).
        level: the level it belongs to.
        name: what it asks for.
        met: whether the store shows it.
        count: how many things meet it (runs, predictions, plans, …).
        example: the latest one (a URI, an id or a name), or ``None``.
        evidence: one line: counts and the latest example.
        command: when unmet, the command that adds it (else ``None``).
        hint: what else to know about the command.
    """

    key: str
    level: int
    name: str
    met: bool
    count: int
    example: str | None
    evidence: str
    command: str | None
    hint: str | None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Level:
    """A level with its criteria, as the store shows them."""

    number: int
    name: str
    summary: str
    criteria: tuple[Criterion, ...]

    @property
    def met(self) -> bool:
        """Whether every criterion of this level (not those below it) is met."""
        return all(c.met for c in self.criteria)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.number,
            "name": self.name,
            "summary": self.summary,
            "met": self.met,
            "criteria": [c.to_dict() for c in self.criteria],
        }


@dataclass(frozen=True, slots=True)
class MaturityReport:
    """The level reached, every level's criteria, and what the next level needs.

    Attributes:
        level: the highest level whose criteria and those of every level below are met.
        levels: all five levels, lowest first.
        seconds: how long the assessment took.
    """

    level: int
    levels: tuple[Level, ...]
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The name of the level reached."""
        return self.levels[self.level].name

    @property
    def next(self) -> Level | None:
        """The level above the one reached (``None`` at level 4)."""
        return self.levels[self.level + 1] if self.level + 1 < len(self.levels) else None

    @property
    def missing(self) -> tuple[Criterion, ...]:
        """The next level's unmet criteria, each with its command."""
        return () if self.next is None else tuple(c for c in self.next.criteria if not c.met)

    def criterion(self, key: str) -> Criterion:
        """The criterion ``key`` (KeyError when there is none)."""
        for level in self.levels:
            for found in level.criteria:
                if found.key == key:
                    return found
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        upcoming = self.next
        return {
            "level": self.level,
            "name": self.name,
            "levels": [level.to_dict() for level in self.levels],
            "next": None if upcoming is None else {
                "level": upcoming.number,
                "name": upcoming.name,
                "missing": [
                    {"key": c.key, "name": c.name, "command": c.command, "hint": c.hint}
                    for c in self.missing
                ],
            },
            "seconds": self.seconds,
        }  # fmt: skip


def assess(settings: Settings | None = None) -> MaturityReport:
    """The maturity level the store at ``settings`` has reached (see the module docstring).

    One read transaction of COUNT and latest-row queries; nothing is written.

    Example:
        >>> assess(Settings.load()).missing[0].command  # doctest: +SKIP
        'loopml monitor create churn-api'
    """
    began = time.monotonic()
    settings = settings or Settings.load()
    store = open_store(settings.db_url)
    with store.read() as conn:
        known = _evidence.names(conn)
        found = {key: measure(conn) for key, measure in _evidence.MEASURES.items()}
    levels = tuple(_level(spec, found, known) for spec in LEVELS)
    reached = 0
    for level in levels[1:]:
        if not level.met:
            break
        reached = level.number
    return MaturityReport(reached, levels, seconds=time.monotonic() - began)


def _level(spec: _LevelSpec, found: dict[str, _evidence.Found], known: dict[str, str]) -> Level:
    criteria = []
    for one in spec.criteria:
        shown = found[one.key]
        met = shown.is_met
        criteria.append(
            Criterion(
                key=one.key, level=spec.number, name=one.name, met=met, count=shown.count,
                example=shown.example, evidence=shown.evidence,
                command=None if met else _command(one, known),
                hint=None if met else one.hint,
            )
        )  # fmt: skip
    return Level(spec.number, spec.name, spec.summary, tuple(criteria))


def _command(spec: _Spec, known: dict[str, str]) -> str:
    """The spec's command with the store's names, adjusted to how far the store is."""
    if spec.key == "monitor_windows" and known["monitor"] != "MONITOR":
        return f"loopml monitor run {known['monitor']}"  # a monitor exists: compute windows
    if spec.key == "canary_promotion" and known["canary_model"]:
        return "loopml agent"  # a policy has a canary: the loop only needs to run
    if spec.key == "deployment" and known["model"] == "MODEL":
        return "loopml deployments create NAME --model MODEL --alias production"
    return spec.command.format(**known)
