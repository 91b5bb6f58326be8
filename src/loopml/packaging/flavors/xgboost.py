"""The xgboost flavor: an XGBoost ``Booster`` or scikit-learn wrapper, as native UBJSON.

The booster is saved with XGBoost's own ``save_model`` (``model.ubj``, the binary JSON
format; no pickle). A wrapper's kind, class labels and early-stopping best iteration
go into the options, so loading predicts exactly what the wrapper did.

Example:
    >>> import xgboost  # doctest: +SKIP
    >>> options = XgboostFlavor().save(xgboost.XGBRegressor().fit(x, y), folder)  # doctest: +SKIP
    >>> options["kind"]  # doctest: +SKIP
    'regressor'
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loopml.packaging.flavors._boosting import (
    BoosterFlavor,
    BoosterPredictor,
    ClassifierPredictor,
    LabelPredictor,
    classes_of,
)
from loopml.packaging.flavors._common import first_installed, require
from loopml.packaging.flavors.base import Predictor

__all__ = ["XgboostFlavor"]

FILE = "model.ubj"
# Objectives whose booster output is a class index or a margin, not probabilities.
_LABEL_OBJECTIVES = ("multi:softmax", "binary:hinge", "binary:logitraw")


class XgboostFlavor(BoosterFlavor):
    """XGBoost boosters and ``XGBClassifier``/``XGBRegressor``/``XGBRanker``.

    Example:
        >>> XgboostFlavor().accepts(object())
        False
    """

    name = "xgboost"
    file = FILE

    def accepts(self, model: Any) -> bool:
        xgb = sys.modules.get("xgboost")
        return xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel)

    def requirements(self, model: Any) -> list[str]:
        return [first_installed("xgboost", "xgboost-cpu")]

    @staticmethod
    def read(path: Path) -> Any:
        xgb = require("xgboost", "xgboost-cpu", "xgboost", "loading an XGBoost model")
        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster

    @staticmethod
    def predictor(booster: Any, options: dict[str, Any]) -> Predictor:
        return _predictor(booster, options)

    @staticmethod
    def booster(model: Any) -> tuple[Any, dict[str, Any]]:
        import xgboost as xgb

        if isinstance(model, xgb.Booster):
            return model, {"kind": "booster", **_best(model)}
        booster = model.get_booster()
        options = _best(model)
        if isinstance(model, xgb.XGBClassifier):
            objective = model.objective if isinstance(model.objective, str) else None
            options.update(classes=classes_of(model), objective=objective)
            return booster, {"kind": "classifier", **options}
        kind = "ranker" if isinstance(model, xgb.XGBRanker) else "regressor"
        return booster, {"kind": kind, **options}


def _best(model: Any) -> dict[str, Any]:
    try:  # set only when training stopped early
        return {"best_iteration": int(model.best_iteration)}
    except AttributeError:
        return {}


def _predictor(booster: Any, options: dict[str, Any]) -> Predictor:
    best = options.get("best_iteration")
    limit = (0, best + 1) if best is not None else (0, 0)

    def raw(data: Any) -> Any:
        return booster.inplace_predict(data, iteration_range=limit)

    if options.get("kind") != "classifier":
        return BoosterPredictor(raw)
    objective = options.get("objective")
    if objective in _LABEL_OBJECTIVES:
        return LabelPredictor(raw, options["classes"], binary=objective != "multi:softmax")
    return ClassifierPredictor(raw, options["classes"])
