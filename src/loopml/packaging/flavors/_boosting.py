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

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loopml.packaging.flavors.base import Predictor

__all__ = [
    "BoosterFlavor",
    "BoosterPredictor",
    "ClassifierPredictor",
    "LabelPredictor",
    "classes_of",
]


class BoosterFlavor(ABC):
    """What the boosting flavors share: the native booster saved in its library's own
    format (``file``) with the wrapper's options, and rebuilt the same way from a saved
    folder (``load``) as from a live model (``wrap``).

    A flavor says how to get the booster and options out of a model (:meth:`booster`),
    how to read a saved booster (:meth:`read`) and how to predict with it
    (:meth:`predictor`).
    """

    file: str

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        booster, options = self.booster(model)
        booster.save_model(str(folder / self.file))
        return {"file": self.file, **options}

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Sequence[str]) -> Predictor:
        return self.predictor(self.read(folder / options.get("file", self.file)), options)

    def wrap(self, model: Any) -> Predictor:
        """The model as loading gives it back."""
        booster, options = self.booster(model)
        return self.predictor(booster, options)

    @staticmethod
    @abstractmethod
    def booster(model: Any) -> tuple[Any, dict[str, Any]]:
        """The model's native booster and the options that rebuild the wrapper."""

    @staticmethod
    @abstractmethod
    def read(path: Path) -> Any:
        """The booster saved at ``path``."""

    @staticmethod
    @abstractmethod
    def predictor(booster: Any, options: dict[str, Any]) -> Predictor:
        """The booster as a predictor with the wrapper's behaviour."""


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
