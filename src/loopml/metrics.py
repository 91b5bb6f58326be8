"""Metrics of a task, computed from labels, predictions and (where the model has them)
class probabilities: the one definition evaluation gates and monitors share.

It sits on the lowest floor (it imports only :mod:`loopml.errors`), so evaluation and
monitoring, two components on one floor, compute the same figures the same way.

Classification: ``accuracy``, ``precision``, ``recall``, ``f1`` (two classes: the positive
class is the larger label, ``1`` of ``0/1``; more classes: averaged weighted by support),
``roc_auc`` and ``log_loss`` (they need ``predict_proba``), and ``calibration_error``: the
expected calibration error of the top-label confidence over 10 equal-width bins.
Regression: ``rmse``, ``mae``, ``r2``. Every evaluation also has ``rows``,
``latency_ms_per_row``, ``package_size_bytes`` and ``package_size_mb``
(see :data:`RUNTIME_METRICS`).

A metric that cannot be computed on the data at hand (``roc_auc`` with one class present,
``r2`` on one row) is left out, and a note says why: a missing number is honest, a NaN in
a gate is not.

Example:
    >>> import numpy as np
    >>> values, notes = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]))
    >>> round(values["accuracy"], 3), notes
    (0.667, ['roc_auc, log_loss and calibration_error need predict_proba; the model has none'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from loopml.errors import InvalidInputError, MissingDependencyError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "CLASSIFICATION_METRICS",
    "PROBABILITY_METRICS",
    "REGRESSION_METRICS",
    "RUNTIME_METRICS",
    "TASKS",
    "Task",
    "classification_metrics",
    "compute_metrics",
    "expected_calibration_error",
    "known_metrics",
    "probability_table",
    "regression_metrics",
    "resolve_classes",
]

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "calibration_error",
)
PROBABILITY_METRICS = ("roc_auc", "log_loss", "calibration_error")
REGRESSION_METRICS = ("rmse", "mae", "r2")
# Measured around the model rather than from its predictions; whole-data only.
RUNTIME_METRICS = ("rows", "latency_ms_per_row", "package_size_bytes", "package_size_mb")
CALIBRATION_BINS = 10
# predict_proba rows of float32 models sum to 1 only up to rounding; renormalise those.
_SUM_TOLERANCE = 1e-3


def known_metrics(task: str) -> tuple[str, ...]:
    """The metric names an evaluation of ``task`` reports (and gates may name).

    Raises:
        InvalidInputError: ``task`` is not ``"classification"`` or ``"regression"``.

    Example:
        >>> known_metrics("regression")
        ('rmse', 'mae', 'r2', 'rows', 'latency_ms_per_row', 'package_size_bytes', 'package_size_mb')
    """
    check_task(task)
    own = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    return own + RUNTIME_METRICS


def check_task(task: str) -> Task:
    """``task`` as a :data:`Task`, or an error naming the two tasks."""
    if task == "classification":
        return "classification"
    if task == "regression":
        return "regression"
    raise InvalidInputError(
        f"unknown task {task!r}; use task='classification' or task='regression'"
    )


def compute_metrics(
    task: Task,
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    proba: NDArray[Any] | None = None,
    classes: NDArray[Any] | None = None,
) -> tuple[dict[str, float], list[str]]:
    """The metrics of ``task`` and notes on any left out (see the module docstring)."""
    if task == "classification":
        return classification_metrics(y_true, y_pred, proba, classes)
    return regression_metrics(y_true, y_pred)


def classification_metrics(
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    proba: NDArray[Any] | None = None,
    classes: NDArray[Any] | None = None,
) -> tuple[dict[str, float], list[str]]:
    """Classification metrics of predictions, and notes on those left out.

    Args:
        y_true: the labels.
        y_pred: the predicted labels.
        proba: class probabilities, one column per class of ``classes`` (or, with two
            classes, a single column: the positive class's probability).
        classes: the labels in ``proba``'s column order (see :func:`resolve_classes`);
            by default the sorted labels seen in ``y_true`` and ``y_pred``.

    Example:
        >>> import numpy as np
        >>> y = np.array([0, 0, 1, 1])
        >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
        >>> values, _ = classification_metrics(y, p.argmax(1), p, np.array([0, 1]))
        >>> values["roc_auc"], values["recall"]
        (1.0, 1.0)
    """
    sk = _sklearn_metrics()
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = _labels(y_true, y_pred) if classes is None else np.asarray(classes)
    values: dict[str, float] = {"accuracy": float(np.mean(y_true == y_pred))}
    if len(labels) <= 2:
        averaging: dict[str, Any] = {"average": "binary", "pos_label": labels[-1]}
    else:
        averaging = {"average": "weighted", "labels": labels}
    for name, score in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        values[name] = float(score(y_true, y_pred, zero_division=0.0, **averaging))
    notes: list[str] = []
    if proba is None:
        notes.append(
            "roc_auc, log_loss and calibration_error need predict_proba; the model has none"
        )
        return values, notes
    table, problem = probability_table(proba, labels)
    if table is None:
        notes.append(f"{', '.join(PROBABILITY_METRICS)} left out: {problem}")
        return values, notes
    auc, problem = _roc_auc(y_true, table, labels)
    if auc is None:
        notes.append(f"roc_auc left out: {problem}")
    else:
        values["roc_auc"] = auc
    values["log_loss"] = float(sk.log_loss(y_true, table, labels=labels))
    values["calibration_error"] = expected_calibration_error(y_true, table, labels)
    return values, notes


def regression_metrics(
    y_true: NDArray[Any], y_pred: NDArray[Any]
) -> tuple[dict[str, float], list[str]]:
    """Regression metrics of predictions, and notes on those left out.

    Example:
        >>> import numpy as np
        >>> values, notes = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
        >>> values["mae"], round(values["rmse"], 4), values["r2"]
        (0.6666666666666666, 1.1547, -1.0)
    """
    sk = _sklearn_metrics()
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_true), -1)
    if y_pred.shape[1] == 1:
        y_pred = y_pred[:, 0]
    values = {
        "rmse": float(sk.root_mean_squared_error(y_true, y_pred)),
        "mae": float(sk.mean_absolute_error(y_true, y_pred)),
    }
    if len(y_true) < 2:
        return values, ["r2 left out: it needs at least 2 rows"]
    values["r2"] = float(sk.r2_score(y_true, y_pred))
    return values, []


def expected_calibration_error(
    y_true: NDArray[Any],
    proba: NDArray[Any],
    classes: Sequence[Any] | NDArray[Any],
    bins: int = CALIBRATION_BINS,
) -> float:
    """Expected calibration error of the top-label confidence, over equal-width bins.

    Each row's confidence is its largest probability and it is right when that class is
    its label. Rows fall into ``bins`` bins ``(0, 0.1], (0.1, 0.2], …`` of confidence;
    the error is the mean, weighted by the rows in each bin, of ``|accuracy - mean
    confidence|`` in the bin. 0 is perfectly calibrated.

    Example:
        >>> import numpy as np
        >>> p = np.array([[0.8, 0.2], [0.8, 0.2], [0.8, 0.2], [0.8, 0.2], [0.8, 0.2]])
        >>> round(expected_calibration_error(np.array([0, 0, 0, 0, 1]), p, [0, 1]), 6)
        0.0
    """
    proba = np.asarray(proba, dtype=np.float64)
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    error = 0.0
    for b in np.unique(index):
        members = index == b
        error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def resolve_classes(
    y_true: NDArray[Any], y_pred: NDArray[Any], known: Sequence[Any] | None = None
) -> NDArray[Any]:
    """The class labels, in ``predict_proba``'s column order where that is known.

    ``known`` (the model's own ``classes_``) wins; otherwise the sorted labels seen in the
    data and the predictions (scikit-learn's order). When their number does not match
    the probability columns, :func:`classification_metrics` says so and leaves the
    probability metrics out.

    Example:
        >>> import numpy as np
        >>> resolve_classes(np.array(["b", "a"]), np.array(["c", "a"]))
        array(['a', 'b', 'c'], dtype='<U1')
    """
    if known is not None and len(known) > 0:
        return np.asarray(known)
    return _labels(np.asarray(y_true), np.asarray(y_pred))


def _labels(y_true: NDArray[Any], y_pred: NDArray[Any]) -> NDArray[Any]:
    return np.unique(np.concatenate([y_true.ravel(), y_pred.ravel()]))


def probability_table(
    proba: NDArray[Any], labels: NDArray[Any]
) -> tuple[NDArray[np.float64] | None, str]:
    """``proba`` as one float64 column per class with rows summing to 1, or why not."""
    table = np.asarray(proba, dtype=np.float64)
    if table.ndim == 1 or (table.ndim == 2 and table.shape[1] == 1 and len(labels) == 2):
        positive = table.reshape(-1)
        table = np.column_stack([1.0 - positive, positive])
    if table.ndim != 2 or table.shape[1] != len(labels):
        return None, (
            f"predict_proba gave shape {table.shape} but there are {len(labels)} classes "
            f"({_preview(labels)})"
        )
    if not np.isfinite(table).all():
        return None, "predict_proba gave NaN or infinite values"
    sums = table.sum(axis=1)
    worst = int(np.abs(sums - 1.0).argmax()) if len(sums) else 0
    if len(sums) and abs(sums[worst] - 1.0) > _SUM_TOLERANCE:
        return None, (
            f"predict_proba rows do not sum to 1 (one sums to {sums[worst]:.4g}); "
            "they are not probabilities"
        )
    return table / sums[:, None], ""


def _roc_auc(
    y_true: NDArray[Any], table: NDArray[np.float64], labels: NDArray[Any]
) -> tuple[float | None, str]:
    """Binary ROC AUC, or the one-vs-rest AUC weighted by support over the classes present.

    Over every class this equals scikit-learn's ``multi_class="ovr", average="weighted"``;
    a class absent from a slice simply carries no weight, as in the weighted average.
    """
    from sklearn.metrics import roc_auc_score

    present = [(i, int(np.sum(y_true == c))) for i, c in enumerate(labels)]
    present = [(i, n) for i, n in present if n > 0]
    if len(present) < 2:
        return None, "it needs at least two classes in the labels"
    if len(labels) == 2:
        return float(roc_auc_score(y_true == labels[1], table[:, 1])), ""
    total = sum(n for _, n in present)
    auc = sum(n * roc_auc_score(y_true == labels[i], table[:, i]) for i, n in present)
    return float(auc / total), ""


def _preview(labels: NDArray[Any], limit: int = 5) -> str:
    shown = ", ".join(str(x) for x in labels[:limit])
    return shown + (", …" if len(labels) > limit else "")


def _sklearn_metrics() -> Any:
    try:
        import sklearn.metrics
    except ImportError as err:  # pragma: no cover - sklearn is in every test environment
        raise MissingDependencyError("scikit-learn", "sklearn", "model evaluation") from err
    return sklearn.metrics
