"""The retraining pipeline the automation tests register (importable as ``_loop_pipeline``).

``retrain(kind)`` trains a logistic regression on the latest ``churn_train`` version and
logs it; ``kind="worse"`` trains it on shuffled labels (a challenger the gate must stop);
``kind="slow"`` first touches the file ``$LOOPML_TEST_MARKER`` and sleeps a minute, unless
that file exists (so a test can kill the agent mid-training, and the retry is quick).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import loopml
from loopml.pipelines import dataset

FEATURES = ["x1", "x2"]


@loopml.step
def fit(rows: Any, kind: str) -> str:
    from sklearn.linear_model import LogisticRegression

    if kind == "slow":
        marker = Path(os.environ["LOOPML_TEST_MARKER"])
        if not marker.exists():
            marker.touch()
            time.sleep(60)
    labels = rows["churned"].to_numpy()
    if kind == "worse":
        labels = np.random.default_rng(0).permutation(labels)
    model = LogisticRegression().fit(rows[FEATURES], labels)
    return loopml.log_model(model, "model", input_example=rows[FEATURES].head(3)).uri


@loopml.pipeline
def retrain(kind: str = "good") -> None:
    fit(dataset("churn_train"), kind)
