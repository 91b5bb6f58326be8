"""The value objects of an evaluation: gate outcomes, the champion's side, the whole result.

All are frozen and have ``to_dict()`` giving plain JSON-able data (what ``--json`` prints
and what :meth:`loopml.registry.client.RegistryClient.save_evaluation` stores).

Example:
    >>> gate = GateResult("accuracy >= 0.9", passed=False, skipped=False,
    ...                   reason="accuracy 0.85 < 0.9", observed=0.85, threshold=0.9)
    >>> gate.failed
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChampionResult", "EvaluationResult", "GateResult", "InfraResult", "SliceMetrics"]

# slice name (a column, or a named condition) -> group value (as text) -> metric -> value.
SliceMetrics = dict[str, dict[str, dict[str, float]]]


@dataclass(frozen=True, slots=True)
class GateResult:
    """How one gate judged the candidate.

    A skipped gate (a change gate with no champion to compare with) neither passes nor
    fails; it does not make the evaluation fail, and ``reason`` says why it was skipped.

    Attributes:
        expression: the gate as it was written (``"f1 >= champion - 0.01"``).
        passed: whether the candidate met it (``False`` when skipped).
        skipped: whether it could not apply (no champion).
        reason: what was compared, in words (``"f1 0.91 >= 0.9 (champion 0.91 - 0.01)"``).
        observed: the candidate's value, when there is one.
        threshold: the value it was compared with, when there is one.
        kind: ``"absolute"``, ``"budget"``, ``"change"``, ``"gap"`` or ``"infra"``.

    Example:
        >>> GateResult("infra", True, False, "loaded and predicted", kind="infra").failed
        False
    """

    expression: str
    passed: bool
    skipped: bool
    reason: str
    observed: float | None = None
    threshold: float | None = None
    kind: str = "absolute"

    @property
    def failed(self) -> bool:
        """Whether this gate refuses the candidate (not passed and not skipped)."""
        return not self.passed and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        """The gate outcome as plain data; ``gate`` repeats ``expression`` for the store."""
        return {
            "gate": self.expression,
            "kind": self.kind,
            "passed": self.passed,
            "skipped": self.skipped,
            "reason": self.reason,
            "observed": self.observed,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        """Rebuild a gate outcome from :meth:`to_dict`'s shape."""
        return cls(
            expression=str(data.get("gate", data.get("expression", ""))),
            passed=bool(data["passed"]),
            skipped=bool(data.get("skipped", False)),
            reason=str(data.get("reason", "")),
            observed=data.get("observed"),
            threshold=data.get("threshold"),
            kind=str(data.get("kind", "absolute")),
        )


@dataclass(frozen=True, slots=True)
class ChampionResult:
    """The version the candidate was compared with, measured on the same data.

    Attributes:
        uri: how it was named (``"models:/churn@production"``).
        version: the version the alias pointed at.
        metrics: its metrics on the evaluation data.
        slices: its metrics per slice group.

    Example:
        >>> ChampionResult("models:/churn@production", 3, {"f1": 0.9}).to_dict()["version"]
        3
    """

    uri: str
    version: int
    metrics: dict[str, float]
    slices: SliceMetrics = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The champion's side as plain data."""
        return {
            "uri": self.uri,
            "version": self.version,
            "metrics": self.metrics,
            "slices": self.slices,
        }


@dataclass(frozen=True, slots=True)
class InfraResult:
    """Whether the package loads and predicts in a fresh Python process.

    Attributes:
        ok: it loaded and predicted its input example.
        reason: what happened, in words (on failure: what failed, with the child's last
            line of stderr).
        seconds: how long the child process took.
        notes: things worth knowing that did not fail the check (version differences).

    Example:
        >>> InfraResult(ok=False, reason="timed out after 60 s", seconds=60.0).ok
        False
    """

    ok: bool
    reason: str
    seconds: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The check's outcome as plain data."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "seconds": self.seconds,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """What :func:`loopml.evaluate` measured and decided about one model on one dataset.

    Attributes:
        id: the stored evaluation's id.
        model_uri: the model as it was named.
        model: the registered model's name (``None`` for a run's package or a folder).
        version: the registered version (``None`` likewise).
        data: the dataset version URI, or a description of the DataFrame.
        target: the label column.
        task: ``"classification"`` or ``"regression"``.
        metrics: metric name -> value over the whole data.
        slices: metrics per slice group (each group also has ``rows``).
        champion: the champion measured on the same data, or ``None`` (see ``notes``).
        gates: each gate's outcome, in the order given.
        passed: ``True``/``False`` when gates were asked for, ``None`` without gates.
        infra: the fresh-process check's outcome, or ``None`` when it did not run.
        notes: what could not be measured and why (no ``predict_proba``, no champion, …).
        status: the version's status after the evaluation (``None`` when it did not move
            or there is no version).
        figures: name -> plotly figure (ROC, precision-recall, calibration, confusion
            matrix; residuals for regression; the headline metric per slice), stored
            with the evaluation (:meth:`RegistryClient.evaluation_figures` reads them
            back); see :mod:`loopml.evaluation.figures`.

    Example:
        >>> result = loopml.evaluate("models:/churn/4", "datasets:/churn@latest",  # doctest: +SKIP
        ...                          target="churned", gates=["f1 >= 0.8"])
        >>> result.passed, result.reasons  # doctest: +SKIP
        (False, ['f1 0.74 < 0.8'])
    """

    id: str
    model_uri: str
    model: str | None
    version: int | None
    data: str
    target: str
    task: str
    metrics: dict[str, float]
    slices: SliceMetrics
    champion: ChampionResult | None
    gates: list[GateResult]
    passed: bool | None
    infra: InfraResult | None = None
    notes: list[str] = field(default_factory=list)
    status: str | None = None
    figures: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def reasons(self) -> list[str]:
        """Why the evaluation failed: one line per failed gate (empty when it passed)."""
        return [f"{gate.expression}: {gate.reason}" for gate in self.gates if gate.failed]

    @property
    def skipped(self) -> list[GateResult]:
        """The gates that could not apply (and why, in their ``reason``)."""
        return [gate for gate in self.gates if gate.skipped]

    def to_dict(self) -> dict[str, Any]:
        """The whole result as plain data."""
        return {
            "id": self.id,
            "model_uri": self.model_uri,
            "model": self.model,
            "version": self.version,
            "data": self.data,
            "target": self.target,
            "task": self.task,
            "metrics": self.metrics,
            "slices": self.slices,
            "champion": self.champion.to_dict() if self.champion else None,
            "gates": [gate.to_dict() for gate in self.gates],
            "passed": self.passed,
            "reasons": self.reasons,
            "infra": self.infra.to_dict() if self.infra else None,
            "notes": list(self.notes),
            "status": self.status,
            "figures": sorted(self.figures),
        }

    def _repr_html_(self) -> str:
        """A compact table for notebooks: metrics, gates and the decision."""
        from loopml._html import html_table

        verdict = {True: "passed", False: "failed", None: "no gates"}[self.passed]
        gates = {
            gate.expression: ("skipped" if gate.skipped else "pass" if gate.passed else "FAIL")
            + f": {gate.reason}"
            for gate in self.gates
        }
        return html_table(
            f"Evaluation of {self.model_uri}",
            [
                ("id", self.id),
                ("data", self.data),
                ("target", self.target),
                ("task", self.task),
                ("result", verdict),
                ("metrics", self.metrics),
                ("gates", gates),
                ("champion", self.champion.uri if self.champion else None),
                ("status after", self.status),
                ("notes", list(self.notes)),
                ("figures", sorted(self.figures)),
            ],
        )

    def to_html(self) -> str:
        """The evaluation as one self-contained HTML page: verdict, metrics beside the
        champion's, gates, notes and every figure (plotly inlined; opens offline).

        Example:
            >>> Path("evaluation.html").write_text(result.to_html())  # doctest: +SKIP
        """
        from loopml.render import render

        champion = self.champion.metrics if self.champion else {}
        return render(
            "evaluation_report.html.j2",
            package="loopml.evaluation",
            title=f"Evaluation of {self.model_uri}",
            result=self,
            metrics=[(name, value, champion.get(name)) for name, value in self.metrics.items()],
        )
