"""The lightgbm flavor: a LightGBM ``Booster`` or scikit-learn wrapper, as native text.

The booster is saved with LightGBM's own ``save_model`` (``model.txt``: readable,
stable across versions, no pickle). A wrapper's kind and class labels go into the
options, so a loaded ``LGBMClassifier`` still has ``predict_proba`` and predicts labels.

Example:
    >>> from lightgbm import LGBMClassifier  # doctest: +SKIP
    >>> options = LightgbmFlavor().save(LGBMClassifier().fit(x, y), folder)  # doctest: +SKIP
    >>> options["kind"]  # doctest: +SKIP
    'classifier'
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loopml.packaging.flavors._boosting import (
    BoosterFlavor,
    BoosterPredictor,
    ClassifierPredictor,
    classes_of,
)
from loopml.packaging.flavors._common import require
from loopml.packaging.flavors.base import Predictor

__all__ = ["LightgbmFlavor"]

FILE = "model.txt"


class LightgbmFlavor(BoosterFlavor):
    """LightGBM boosters and ``LGBMClassifier``/``LGBMRegressor``/``LGBMRanker``.

    Example:
        >>> LightgbmFlavor().accepts(object())
        False
    """

    name = "lightgbm"
    file = FILE

    def accepts(self, model: Any) -> bool:
        lgb = sys.modules.get("lightgbm")
        return lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel)

    def requirements(self, model: Any) -> list[str]:
        return ["lightgbm"]

    @staticmethod
    def read(path: Path) -> Any:
        lgb = require("lightgbm", "lightgbm", "lightgbm", "loading a LightGBM model")
        return lgb.Booster(model_file=str(path))

    @staticmethod
    def predictor(booster: Any, options: dict[str, Any]) -> Predictor:
        if options.get("kind") == "classifier":
            return ClassifierPredictor(booster.predict, options["classes"])
        return BoosterPredictor(booster.predict)

    @staticmethod
    def booster(model: Any) -> tuple[Any, dict[str, Any]]:
        import lightgbm as lgb

        if isinstance(model, lgb.Booster):
            return model, {"kind": "booster"}
        if isinstance(model, lgb.LGBMClassifier):
            return model.booster_, {"kind": "classifier", "classes": classes_of(model)}
        kind = "ranker" if isinstance(model, lgb.LGBMRanker) else "regressor"
        return model.booster_, {"kind": kind}
