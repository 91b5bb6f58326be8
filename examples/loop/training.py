"""The demo's training pipeline: split, tune, train, evaluate, each a tracked, cached step.

The train step also logs the fitted forest as a model package (``runs:/<step run>/model``)
that the registry can take from there. Run it on its own with
``loopml pipeline run examples/loop/training.py:churn_training`` (after ``make demo`` has
built the ``churn_training_set`` dataset).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split

import loopml
from loopml.pipelines.tune import int_range

FEATURES = [
    "tenure_days",
    "monthly_spend",
    "support_calls_30d",
    "logins_7d",
    "spend_per_login",
    "calls_per_login",
]
TARGET = "churned"


@loopml.step(outputs=("x_train", "x_test", "y_train", "y_test"))
def split(
    data: pd.DataFrame, test_size: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Hold out a test set, stratified by the label (features keep their column names)."""
    x = data[FEATURES].astype("float64").reset_index(drop=True)
    y = data[TARGET].to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return x_train, x_test, y_train, y_test


@loopml.step
def tune_forest(
    x_train: pd.DataFrame, y_train: np.ndarray, n_trials: int = 8, seed: int = 0
) -> dict[str, Any]:
    """Search the forest's size and depth by 3-fold cross-validation (trials are child runs)."""

    def objective(params: dict[str, Any]) -> float:
        model = RandomForestClassifier(**params, random_state=seed, n_jobs=1)
        return float(cross_val_score(model, x_train, y_train, cv=3).mean())

    result = loopml.tune(
        objective,
        {"n_estimators": int_range(20, 100, step=20), "max_depth": int_range(2, 8)},
        n_trials=n_trials,
        direction="maximize",
        sampler="tpe",
        seed=seed,
        executor="local",
    )
    return dict(result.best_params)


@loopml.step
def train(
    x_train: pd.DataFrame, y_train: np.ndarray, params: dict[str, Any], seed: int = 0
) -> RandomForestClassifier:
    """Fit the forest with the best parameters on the whole training split, and log it.

    The package records the forest, its signature (the feature columns and their types,
    inferred from the example rows), the example itself and pinned requirements.
    """
    model = RandomForestClassifier(**params, random_state=seed, n_jobs=1).fit(x_train, y_train)
    loopml.log_model(model, "model", input_example=x_train.head())
    return model


@loopml.step
def evaluate(
    model: RandomForestClassifier, x_test: pd.DataFrame, y_test: np.ndarray
) -> dict[str, float]:
    """Score the model on the held-out split; the scores are the step run's metrics."""
    predicted = model.predict(x_test)
    scores = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1": float(f1_score(y_test, predicted)),
        "roc_auc": float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])),
    }
    loopml.log_metrics(scores)
    return scores


@loopml.pipeline
def churn_training(n_trials: int = 8, test_size: float = 0.25, seed: int = 0) -> None:
    """From the versioned training set to an evaluated model."""
    data = loopml.dataset("churn_training_set")
    x_train, x_test, y_train, y_test = split(data, test_size=test_size, seed=seed)
    params = tune_forest(x_train, y_train, n_trials=n_trials, seed=seed)
    model = train(x_train, y_train, params, seed=seed)
    evaluate(model, x_test, y_test)
