"""The demo's retraining pipeline: the one the automation agent fires.

It trains a forest on the latest version of ``churn_training_set`` (a dataset input, so a
new version changes the cache key and the run records which version it read) and logs it
as a model package; the agent registers, gates, canaries and promotes it. ``variant``
makes the challengers the demo needs to show the safety nets:

- ``standard``: the forest, with the tuned sizes of the training pipeline;
- ``noisy``: the same forest on shuffled labels (a broken join upstream; the gate must
  stop it);
- ``with-plan``: the forest plus the customer's plan, one-hot encoded. It is as good
  offline, but the CRM does not send ``plan`` yet: every request the canary gets fails
  validation, and the agent rolls it back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from training import FEATURES  # the model's inputs, as the training pipeline has them

import loopml
from loopml.pipelines import dataset

VARIANTS = ("standard", "noisy", "with-plan")


@loopml.step
def fit(data: pd.DataFrame, variant: str = "standard", seed: int = 0) -> str:
    """Train the variant on the training set; log it; return its ``runs:/`` URI."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    labels = data["churned"].to_numpy()
    if variant == "noisy":
        labels = np.random.default_rng(seed).permutation(labels)
    forest = RandomForestClassifier(n_estimators=60, max_depth=6, random_state=seed, n_jobs=1)
    columns = FEATURES + (["plan"] if variant == "with-plan" else [])
    x = data[columns].copy()
    x[FEATURES] = x[FEATURES].astype("float64")
    model: Any = forest
    if variant == "with-plan":
        encode = ColumnTransformer(
            [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
        )
        model = Pipeline([("encode", encode), ("forest", forest)])
    model.fit(x, labels)
    return loopml.log_model(model, "model", input_example=x.head()).uri


@loopml.pipeline
def churn_retraining(variant: str = "standard") -> None:
    fit(dataset("churn_training_set"), variant)
