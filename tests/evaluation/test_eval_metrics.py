"""Metrics agree with scikit-learn on real data, and leave out what they cannot compute."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from sklearn import metrics as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.errors import InvalidInputError
from loopml.metrics import (
    classification_metrics,
    expected_calibration_error,
    known_metrics,
    regression_metrics,
    resolve_classes,
)


def _fitted(loader: Any) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    model.fit(X_train, y_train)
    return y_test, model.predict(X_test), model.predict_proba(X_test), model.classes_


def test_binary_metrics_equal_sklearn() -> None:
    y, pred, proba, classes = _fitted(load_breast_cancer)
    values, notes = classification_metrics(y, pred, proba, classes)
    assert notes == []
    assert values["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert values["precision"] == pytest.approx(sk.precision_score(y, pred))
    assert values["recall"] == pytest.approx(sk.recall_score(y, pred))
    assert values["f1"] == pytest.approx(sk.f1_score(y, pred))
    assert values["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba[:, 1]))
    assert values["log_loss"] == pytest.approx(sk.log_loss(y, proba))
    assert 0.0 <= values["calibration_error"] <= 1.0


def test_multiclass_metrics_are_support_weighted_like_sklearn() -> None:
    y, pred, proba, classes = _fitted(load_iris)
    values, notes = classification_metrics(y, pred, proba, classes)
    assert notes == []
    weighted = {"average": "weighted"}
    assert values["precision"] == pytest.approx(sk.precision_score(y, pred, **weighted))
    assert values["recall"] == pytest.approx(sk.recall_score(y, pred, **weighted))
    assert values["f1"] == pytest.approx(sk.f1_score(y, pred, **weighted))
    assert values["roc_auc"] == pytest.approx(
        sk.roc_auc_score(y, proba, multi_class="ovr", average="weighted")
    )
    assert values["log_loss"] == pytest.approx(sk.log_loss(y, proba))


def test_the_positive_class_is_the_larger_label() -> None:
    y = np.array(["no", "no", "yes", "yes", "yes"])
    pred = np.array(["no", "yes", "yes", "no", "no"])
    values, _ = classification_metrics(y, pred)
    assert values["precision"] == pytest.approx(0.5)  # 1 of 2 predicted "yes"
    assert values["recall"] == pytest.approx(1 / 3)  # 1 of 3 actual "yes"


def test_probability_metrics_need_predict_proba() -> None:
    values, notes = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert set(values) == {"accuracy", "precision", "recall", "f1"}
    assert notes == [
        "roc_auc, log_loss and calibration_error need predict_proba; the model has none"
    ]


def test_roc_auc_is_left_out_with_one_class_and_nothing_warns() -> None:
    # pytest turns warnings into errors: sklearn's UndefinedMetricWarning would fail this.
    y = np.array([1, 1, 1])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    values, notes = classification_metrics(y, proba.argmax(1), proba, np.array([0, 1]))
    assert "roc_auc" not in values
    assert notes == ["roc_auc left out: it needs at least two classes in the labels"]
    assert values["log_loss"] == pytest.approx(sk.log_loss(y, proba, labels=[0, 1]))


def test_multiclass_auc_weights_only_the_classes_present() -> None:
    y = np.array([0, 0, 2, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]])
    values, _ = classification_metrics(y, proba.argmax(1), proba, np.array([0, 1, 2]))
    expected = (sk.roc_auc_score(y == 0, proba[:, 0]) + sk.roc_auc_score(y == 2, proba[:, 2])) / 2
    assert values["roc_auc"] == pytest.approx(expected)


def test_a_single_probability_column_is_the_positive_class() -> None:
    y = np.array([0, 1, 1, 0])
    positive = np.array([0.1, 0.8, 0.7, 0.4])
    values, _ = classification_metrics(y, (positive > 0.5).astype(int), positive)
    assert values["roc_auc"] == pytest.approx(1.0)
    assert values["log_loss"] == pytest.approx(
        sk.log_loss(y, np.column_stack([1 - positive, positive]))
    )


def test_rows_that_are_not_probabilities_are_refused_with_a_note() -> None:
    proba = np.array([[0.9, 0.9], [0.1, 0.2]])
    values, notes = classification_metrics(np.array([0, 1]), np.array([0, 1]), proba)
    assert "log_loss" not in values
    assert "roc_auc" not in values
    assert notes[0].startswith("roc_auc, log_loss, calibration_error left out: predict_proba rows")


def test_expected_calibration_error_by_hand() -> None:
    # Bin (0.6, 0.7]: 2 rows, confidence 0.65, 1 right -> |0.5 - 0.65| = 0.15, weight 2/4.
    # Bin (0.9, 1.0]: 2 rows, confidence 0.95, both right -> |1 - 0.95| = 0.05, weight 2/4.
    proba = np.array([[0.65, 0.35], [0.35, 0.65], [0.95, 0.05], [0.05, 0.95]])
    y = np.array([0, 0, 0, 1])
    assert expected_calibration_error(y, proba, [0, 1]) == pytest.approx(0.5 * 0.15 + 0.5 * 0.05)


@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.booleans()),
        min_size=1,
        max_size=50,
    )
)
def test_calibration_error_is_between_zero_and_one(rows: list[tuple[float, bool]]) -> None:
    positive = np.array([p for p, _ in rows])
    proba = np.column_stack([1 - positive, positive])
    y = np.array([int(label) for _, label in rows])
    assert 0.0 <= expected_calibration_error(y, proba, [0, 1]) <= 1.0


def test_a_perfectly_calibrated_model_has_no_calibration_error() -> None:
    proba = np.array([[0.25, 0.75]] * 4)
    y = np.array([1, 1, 1, 0])  # 75 % right at 75 % confidence
    assert expected_calibration_error(y, proba, [0, 1]) == pytest.approx(0.0)


def test_regression_metrics_equal_sklearn() -> None:
    X, y = load_diabetes(return_X_y=True)
    pred = LinearRegression().fit(X[:300], y[:300]).predict(X[300:])
    values, notes = regression_metrics(y[300:], pred)
    assert notes == []
    assert values["rmse"] == pytest.approx(sk.root_mean_squared_error(y[300:], pred))
    assert values["mae"] == pytest.approx(sk.mean_absolute_error(y[300:], pred))
    assert values["r2"] == pytest.approx(sk.r2_score(y[300:], pred))


def test_r2_needs_two_rows() -> None:
    values, notes = regression_metrics(np.array([3.0]), np.array([[2.5]]))
    assert values == {"rmse": 0.5, "mae": 0.5}
    assert notes == ["r2 left out: it needs at least 2 rows"]


def test_classes_are_the_models_own_or_the_sorted_labels() -> None:
    assert resolve_classes(np.array([1, 1]), np.array([1, 1]), [2, 0, 1]).tolist() == [2, 0, 1]
    assert resolve_classes(np.array([2, 0]), np.array([1, 1])).tolist() == [0, 1, 2]


def test_probability_columns_that_do_not_match_the_classes_are_noted() -> None:
    y = np.array([0, 1])
    values, notes = classification_metrics(y, y, np.full((2, 3), 1 / 3))
    assert "roc_auc" not in values
    assert notes == [
        "roc_auc, log_loss, calibration_error left out: predict_proba gave shape (2, 3) "
        "but there are 2 classes (0, 1)"
    ]


def test_known_metrics_per_task() -> None:
    assert "calibration_error" in known_metrics("classification")
    assert "rmse" not in known_metrics("classification")
    assert {"rmse", "mae", "r2", "latency_ms_per_row"} <= set(known_metrics("regression"))
    with pytest.raises(InvalidInputError, match="task='classification' or task='regression'"):
        known_metrics("ranking")
