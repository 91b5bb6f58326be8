"""Continuous evaluation: metrics, slices, champion-vs-challenger comparison and gates.

:func:`evaluate` measures a model on a dataset version (or a DataFrame), per slice and
beside the champion (the version ``production`` points at) on the same data, judges
the gates (``"f1 >= champion - 0.01"``, ``"gap(recall, by=sex) <= 0.05"``, ``"infra"``)
and stores the evaluation in the registry, which validates or rejects the version.
Gate grammar: :mod:`loopml.evaluation.gates`.

Names load on first use (metrics bring in scikit-learn and pandas).

Example:
    >>> from loopml.evaluation import evaluate
    >>> result = evaluate("models:/churn/4", "datasets:/churn_holdout@latest",  # doctest: +SKIP
    ...                   target="churned", slices=["region"], gates=["f1 >= champion"])
    >>> result.passed, result.reasons  # doctest: +SKIP
    (True, [])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml._lazy import lazy_getattr

if TYPE_CHECKING:
    from loopml.evaluation.evaluator import evaluate
    from loopml.evaluation.gates import Gate, parse_gate
    from loopml.evaluation.models import (
        ChampionResult,
        EvaluationResult,
        GateResult,
        InfraResult,
    )

_EXPORTS = {
    "evaluate": "loopml.evaluation.evaluator",
    "Gate": "loopml.evaluation.gates",
    "parse_gate": "loopml.evaluation.gates",
    "ChampionResult": "loopml.evaluation.models",
    "EvaluationResult": "loopml.evaluation.models",
    "GateResult": "loopml.evaluation.models",
    "InfraResult": "loopml.evaluation.models",
}

__all__ = [
    "ChampionResult",
    "EvaluationResult",
    "Gate",
    "GateResult",
    "InfraResult",
    "evaluate",
    "parse_gate",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
