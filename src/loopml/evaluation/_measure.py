"""Running a loaded model over the evaluation data: predictions, probabilities, latency.

Latency is the best of a few timed ``predict`` passes over the whole data divided by its
rows (loading is not counted; input checking against the signature is, as in serving).
The best pass, not the mean, because the others only add noise from the machine.

Example:
    >>> measured = measure(loaded, features, "classification")  # doctest: +SKIP
    >>> measured.latency_ms_per_row  # doctest: +SKIP
    0.0031
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["MAX_PASSES", "Measured", "measure"]

MAX_PASSES = 3
# After this many seconds of predicting, one pass is enough: the data is large.
_PASS_BUDGET_S = 2.0


@dataclass(frozen=True, slots=True)
class Measured:
    """What one model did on the data."""

    predictions: NDArray[Any]
    proba: NDArray[Any] | None
    latency_ms_per_row: float
    package_size_bytes: int
    classes: tuple[Any, ...] | None = None
    notes: list[str] = field(default_factory=list)


def measure(model: Any, features: pd.DataFrame, task: str, y_true: NDArray[Any]) -> Measured:
    """Predict ``features`` with ``model`` (a loaded model), timed, plus its probabilities.

    Raises:
        InvalidInputError: predictions that are not one value per row.
    """
    raw, best = None, float("inf")
    spent = 0.0
    for _ in range(MAX_PASSES):
        start = time.perf_counter()
        raw = model.predict(features)
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > _PASS_BUDGET_S:
            break
    notes: list[str] = []
    predictions = _one_per_row(np.asarray(raw), len(features), task, y_true, notes)
    proba = None
    if task == "classification" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(features))
    return Measured(
        predictions=predictions,
        proba=proba,
        latency_ms_per_row=best * 1000.0 / len(features),
        package_size_bytes=int(model.manifest.size_bytes),
        classes=_classes(model),
        notes=notes,
    )


def _one_per_row(
    values: NDArray[Any], rows: int, task: str, y_true: NDArray[Any], notes: list[str]
) -> NDArray[Any]:
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 2 and task == "classification":
        labels = np.unique(y_true)
        if values.shape[1] == len(labels):
            notes.append(
                f"predict gave {values.shape[1]} scores per row; each row's label is the class "
                "with the highest score, classes in sorted order"
            )
            chosen: NDArray[Any] = labels[values.argmax(axis=1)]
            return chosen
    if values.ndim != 1 or len(values) != rows:
        raise InvalidInputError(
            f"predict gave values of shape {values.shape} for {rows} rows; evaluation needs one "
            f"{'label' if task == 'classification' else 'number'} per row (wrap the model in a "
            "pyfunc class whose predict returns that)"
        )
    return values


def _classes(model: Any) -> tuple[Any, ...] | None:
    """The classes in ``predict_proba`` column order, when the loaded model says
    (scikit-learn's ``classes_``; the boosting flavors keep it too)."""
    classes = getattr(getattr(model, "model", None), "classes_", None)
    if classes is None:
        return None
    return tuple(np.asarray(classes).tolist())
