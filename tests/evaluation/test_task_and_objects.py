"""evaluate(): the task is inferred (or a stated one that cannot fit is refused), and a fitted
model object is evaluated without touching the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sqlalchemy import func, select

from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.evaluation import EvaluationResult, evaluate
from loopml.registry.loading import load_model
from loopml.store import open_store
from loopml.store.schema import metadata

from .conftest import FEATURES, Cancer, Register

QUICK = {"infra_check": False}


@pytest.fixture(scope="module")
def diabetes() -> tuple[LinearRegression, pd.DataFrame]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LinearRegression().fit(X.iloc[:300], y.iloc[:300])
    return model, X.iloc[300:].assign(progression=y.iloc[300:])


def _rows_per_table(settings: Settings) -> dict[str, int]:
    with open_store(settings.db_url).read() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in metadata.tables.items()
        }


def test_a_regressor_with_the_default_task_is_evaluated_as_regression(
    settings: Settings, register: Register, diabetes: tuple[LinearRegression, pd.DataFrame]
) -> None:
    model, holdout = diabetes
    version = register(model, holdout.drop(columns="progression").head(5), name="diabetes")
    result = evaluate(
        version.uri, holdout, "progression", gates=["r2 >= 0.3"], settings=settings, **QUICK
    )
    pred = model.predict(holdout.drop(columns="progression"))
    assert result.task == "regression"
    assert result.metrics["rmse"] == pytest.approx(
        sk.root_mean_squared_error(holdout["progression"], pred)
    )
    assert result.passed is True
    guessed = evaluate(_Constant(150.0), holdout, "progression", settings=settings, **QUICK)
    assert guessed.task == "regression"
    assert guessed.notes[0].startswith("task: regression, inferred from the target")


def test_a_classifier_and_integer_labels_infer_classification(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    model = LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y)
    version = register(model, cancer.X.head(5))
    result = evaluate(version.uri, cancer.holdout, "target", settings=settings, **QUICK)
    assert result.task == "classification"
    assert "accuracy" in result.metrics


def test_a_stated_task_the_model_or_target_cannot_fit_is_refused(
    settings: Settings,
    register: Register,
    cancer: Cancer,
    diabetes: tuple[LinearRegression, pd.DataFrame],
) -> None:
    model, holdout = diabetes
    regressor = register(model, holdout.drop(columns="progression").head(5), name="diabetes")
    with pytest.raises(InvalidInputError, match=r"regressor.*pass task='regression'"):
        evaluate(regressor.uri, holdout, "progression", task="classification", settings=settings)
    classifier = register(LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y), cancer.X)
    with pytest.raises(InvalidInputError, match=r"classifier.*pass task='classification'"):
        evaluate(classifier.uri, cancer.holdout, "target", task="regression", settings=settings)
    # A model object loopml cannot classify: the target gives it away.
    as_text = cancer.holdout.assign(target=np.where(cancer.holdout["target"] == 1, "yes", "no"))
    with pytest.raises(InvalidInputError, match=r"'target' holds labels.*task='classification'"):
        evaluate(_Constant(0.5), as_text, "target", task="regression", settings=settings)
    with pytest.raises(InvalidInputError, match=r"continuous values.*task='regression'"):
        evaluate(_Constant(0.5), holdout, "progression", task="classification", settings=settings)


class _Constant:
    """A pyfunc-style model (any class with ``predict``): one value for every row."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return np.full(len(data), self.value)


def test_a_model_object_is_evaluated_without_registry_side_effects(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    champion = register(LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y), cancer.X)
    model = LogisticRegression(max_iter=5000).fit(cancer.X[FEATURES[:3]], cancer.y)
    before = _rows_per_table(settings)

    result = evaluate(
        model,
        cancer.holdout,
        "target",
        gates=["accuracy >= 0.5", "f1 >= champion - 0.5"],
        settings=settings,
        **QUICK,
    )
    assert isinstance(result, EvaluationResult)
    assert (result.id, result.model, result.version, result.status) == ("", None, None, None)
    assert result.model_uri == "<sklearn.linear_model._logistic.LogisticRegression object>"
    pred = model.predict(cancer.holdout[FEATURES[:3]])
    assert result.metrics["accuracy"] == pytest.approx(
        sk.accuracy_score(cancer.holdout["target"], pred)
    )
    first, change = result.gates
    assert first.passed
    assert change.skipped
    assert "pass champion='models:/<name>@<alias>'" in change.reason

    compared = evaluate(
        model,
        cancer.holdout,
        "target",
        gates=["f1 >= champion - 0.5"],
        champion=champion.uri,
        settings=settings,
        **QUICK,
    )
    assert compared.champion is not None
    assert compared.champion.version == champion.version
    assert compared.passed is True
    assert _rows_per_table(settings) == before


def test_a_model_object_that_no_flavor_accepts_is_refused(
    settings: Settings, cancer: Cancer
) -> None:
    with pytest.raises(InvalidInputError, match=r"a model URI .* or a fitted model object"):
        evaluate(object(), cancer.holdout, "target", settings=settings)


def test_a_loaded_model_is_evaluated_as_it_is_and_not_stored(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y), cancer.X)
    loaded = load_model(version.uri, settings=settings)
    before = _rows_per_table(settings)
    result = evaluate(loaded, cancer.holdout, "target", settings=settings, **QUICK)
    assert result.model_uri == f"<loaded model {version.uri}>"
    assert (result.id, result.task) == ("", "classification")
    assert _rows_per_table(settings) == before
    narrow = LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y)
    with pytest.raises(InvalidInputError, match="fitted on columns the data lacks: mean radius"):
        evaluate(narrow, cancer.holdout.drop(columns="mean radius"), "target", settings=settings)
