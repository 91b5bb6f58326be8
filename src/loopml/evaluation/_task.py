"""Which task an evaluation is: stated, or inferred from the model and the labels.

The model speaks first: a scikit-learn estimator says whether it is a classifier or a
regressor, and a model that gives class probabilities (``predict_proba``) classifies. Else
the labels decide: text, booleans and categories are classes; numbers with a fraction are
continuous; whole numbers are classes when there are few distinct ones
(:data:`MAX_INFERRED_CLASSES`), else a regression target. A stated task the model or the
labels clearly contradict is refused, saying which task to pass, rather than failing deep
inside scikit-learn's metrics.

Example:
    >>> import numpy as np
    >>> infer_task(None, object(), np.array([1.5, 2.25, 3.0]), "price", "the model")
    ('regression', "task: regression, inferred from the target ('price' holds continuous values (1.5, 2.25, 3)); pass task= to say otherwise")
"""  # noqa: E501

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInputError
from loopml.metrics import Task

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["MAX_INFERRED_CLASSES", "check_predictions", "infer_task"]

# Whole-number labels with at most this many distinct values are taken as classes.
MAX_INFERRED_CLASSES = 20


def infer_task(
    stated: Task | None, model: Any, labels: NDArray[Any], target: str, name: str
) -> tuple[Task, str | None]:
    """The task, and a note when it was inferred from the labels (a guess worth showing).

    Args:
        stated: the task the caller gave, or ``None`` to infer it.
        model: a loaded model (or anything with ``predict``).
        labels: the target column's values.
        target: the target column's name (for messages).
        name: how to call the model in messages (its URI).

    Raises:
        InvalidInputError: the stated (or the model's) task cannot fit the model or the
            labels; the message says which task to pass.
    """
    by_model, model_why = _model_task(model)
    by_labels, labels_why, sure = _labels_task(labels, target)
    if stated is not None:
        if by_model is not None and by_model != stated:
            raise _mismatch(stated, by_model, f"{name} {model_why}")
        if sure and by_labels != stated:
            raise _mismatch(stated, by_labels, f"target column {labels_why}")
        return stated, None
    if by_model is not None:
        if sure and by_labels != by_model:
            raise InvalidInputError(
                f"{name} {model_why}, but target column {labels_why}; evaluate it on "
                f"{'class labels' if by_model == 'classification' else 'numbers'}, or check "
                "that target= names the right column"
            )
        return by_model, None  # the model says what it is: nothing to warn about
    note = (
        f"task: {by_labels}, inferred from the target ({labels_why}); pass task= to say otherwise"
    )
    return by_labels, note


def check_predictions(task: Task, predictions: NDArray[Any], name: str) -> None:
    """Refuse continuous predictions in a classification (scikit-learn's metrics would fail
    with "can't handle a mix of … targets").

    Example:
        >>> check_predictions("classification", np.array([0.25, 1.0]), "m")
        Traceback (most recent call last):
        ...
        loopml.errors.InvalidInputError: m predicted continuous values (0.25, 1), not class \
labels, so it cannot be evaluated as a classification; pass task='regression' (or wrap the \
model so predict returns labels)
    """
    if task == "classification" and _fractional(predictions):
        raise InvalidInputError(
            f"{name} predicted continuous values ({_preview(predictions)}), not class labels, "
            "so it cannot be evaluated as a classification; pass task='regression' (or wrap "
            "the model so predict returns labels)"
        )


def _model_task(model: Any) -> tuple[Task | None, str]:
    """What the model says it is, and how it says so."""
    estimator = getattr(model, "model", model)  # a loaded model keeps the flavor's object
    kind = _sklearn_kind(estimator)
    label = type(estimator).__name__
    if kind == "classifier":
        return "classification", f"is a scikit-learn classifier ({label})"
    if kind == "regressor":
        return "regression", f"is a scikit-learn regressor ({label})"
    if callable(getattr(model, "predict_proba", None)):
        return "classification", "gives class probabilities (predict_proba)"
    return None, ""


def _sklearn_kind(estimator: Any) -> str | None:
    # Only estimators carry scikit-learn's tags; asking anything else raises.
    if not hasattr(estimator, "__sklearn_tags__"):
        return None
    try:
        from sklearn.utils import get_tags

        kind = get_tags(estimator).estimator_type
    except Exception:  # a half-made estimator's tags: say nothing rather than guess
        return None
    return kind if isinstance(kind, str) else None


def _labels_task(labels: NDArray[Any], target: str) -> tuple[Task, str, bool]:
    """The task the labels suggest, why, and whether no other task could fit them."""
    values = np.asarray(labels)
    if values.dtype.kind in "biu" or values.dtype.kind == "f":
        if values.dtype.kind == "f" and _fractional(values):
            return "regression", f"{target!r} holds continuous values ({_preview(values)})", True
        if values.dtype.kind == "b":
            return "classification", f"{target!r} holds booleans", True
        distinct = len(np.unique(values))
        if distinct <= MAX_INFERRED_CLASSES:
            return "classification", f"{target!r} holds {distinct} distinct whole numbers", False
        return "regression", f"{target!r} holds {distinct} distinct whole numbers", False
    return "classification", f"{target!r} holds labels ({_preview(values)}), not numbers", True


def _fractional(values: NDArray[Any]) -> bool:
    if values.dtype.kind != "f":
        return False
    finite = values[np.isfinite(values)]
    return bool(np.any(finite != np.round(finite)))


def _preview(values: NDArray[Any], limit: int = 3) -> str:
    seen = list(dict.fromkeys(np.asarray(values).ravel()[: limit * 10].tolist()))[:limit]
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in seen)
    return shown + (", …" if len(np.unique(values)) > limit else "")


def _mismatch(stated: Task, wanted: Task, evidence: str) -> InvalidInputError:
    return InvalidInputError(
        f"task={stated!r} does not fit: {evidence}; pass task={wanted!r} "
        "(or leave task unset to infer it)",
        details={"task": stated, "expected": wanted},
    )
