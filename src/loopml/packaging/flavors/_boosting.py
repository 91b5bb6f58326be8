"""Predictors over a gradient-boosting library's native booster (LightGBM, XGBoost).

A package keeps the booster in the library's own format, never the scikit-learn
wrapper; what the wrapper added (the class labels, and that ``predict`` picks the
likeliest one) is kept as options and rebuilt here.

Example:
    >>> import numpy as np
    >>> model = ClassifierPredictor(lambda x: np.array([0.2, 0.9]), ["no", "yes"])
    >>> model.predict(None).tolist(), model.predict_proba(None).shape
    (['no', 'yes'], (2, 2))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["BoosterPredictor", "ClassifierPredictor", "LabelPredictor", "classes_of"]


class BoosterPredictor:
    """``predict`` is the booster's raw prediction (regression, ranking, plain boosters)."""

    def __init__(self, raw: Callable[[Any], Any]) -> None:
        self._raw = raw

    def predict(self, data: Any) -> Any:
        return np.asarray(self._raw(data))


class ClassifierPredictor(BoosterPredictor):
    """A classifier: ``predict_proba`` per class, ``predict`` the likeliest class label."""

    def __init__(self, raw: Callable[[Any], Any], classes: Sequence[Any]) -> None:
        super().__init__(raw)
        self.classes_ = np.asarray(classes)

    def predict_proba(self, data: Any) -> Any:
        proba = np.asarray(self._raw(data))
        if proba.ndim == 1:  # binary: the booster gives P(second class)
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def predict(self, data: Any) -> Any:
        return self.classes_[np.argmax(self.predict_proba(data), axis=1)]


class LabelPredictor(BoosterPredictor):
    """A classifier whose booster gives class indices or scores: labels, no probabilities.

    XGBoost's ``multi:softmax`` gives class indices; a binary objective without
    probabilities (``binary:hinge``, ``binary:logitraw``) gives a score, and the
    second class wins above 0.5, as ``XGBClassifier.predict`` decides.
    """

    def __init__(self, raw: Callable[[Any], Any], classes: Sequence[Any], *, binary: bool) -> None:
        super().__init__(raw)
        self.classes_ = np.asarray(classes)
        self._binary = binary

    def predict(self, data: Any) -> Any:
        out = np.asarray(self._raw(data))
        return self.classes_[(out > 0.5).astype(int) if self._binary else out.astype(int)]


def classes_of(model: Any) -> list[Any]:
    """A fitted classifier's labels as JSON values (numpy scalars made plain)."""
    return np.asarray(model.classes_).tolist()  # type: ignore[no-any-return]
