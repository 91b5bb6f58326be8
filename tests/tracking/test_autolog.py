"""scikit-learn autolog: params, training metrics and the fitted model, once per fit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.registry.loading import load_model
from loopml.tracking import RunStatus

sklearn = pytest.importorskip("sklearn")  # part of the dev extra: always present in make test


@pytest.fixture(autouse=True)
def _autolog(tmp_path: Path) -> Iterator[None]:
    loopml.configure(home=str(tmp_path / "home"))
    loopml.autolog()
    yield
    loopml.autolog(disable=True)


def _iris() -> tuple[object, object]:
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def test_fit_outside_a_run_gets_its_own_run_with_params_metrics_and_model() -> None:
    from sklearn.ensemble import RandomForestClassifier

    x, y = _iris()
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    (run,) = loopml.search_runs()
    assert run.status is RunStatus.FINISHED
    assert run.name == "RandomForestClassifier"
    assert run.params["n_estimators"] == "10"
    assert run.params["criterion"] == "gini"  # str(), not repr()
    assert run.tags["estimator_name"] == "RandomForestClassifier"
    assert 0.9 <= run.metrics["training_accuracy_score"] <= 1.0
    assert {"training_f1_score", "training_log_loss", "training_roc_auc"} <= set(run.metrics)
    settings = loopml.tracking.fluent.default_client().settings
    restored = load_model(f"runs:/{run.id}/model", settings=settings)
    assert restored.flavor == "sklearn"
    assert (restored.predict(x) == model.predict(x)).all()
    assert hasattr(restored, "predict_proba")
    example = restored.input_example()
    assert example.shape == (5, 4)  # the fit's X, first rows
    assert (example == x[:5]).all()
    assert restored.signature is not None
    assert restored.signature.to_dict()["inputs"] == {
        "type": "tensor",
        "dtype": "float64",
        "shape": [-1, 4],
    }


def test_a_fit_on_a_dataframe_logs_named_columns_and_a_sparse_fit_logs_no_example() -> None:
    from scipy import sparse
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True)
    LogisticRegression(max_iter=500).fit(frame.data, frame.target)
    LogisticRegression(max_iter=500).fit(sparse.csr_matrix(frame.data.to_numpy()), frame.target)
    settings = loopml.tracking.fluent.default_client().settings
    dense, sparse_run = sorted(loopml.search_runs(), key=lambda r: r.start_time)
    named = load_model(f"runs:/{dense.id}/model", settings=settings)
    assert named.signature is not None
    assert named.signature.input_names == list(frame.data.columns)
    assert (named.predict(frame.data.head(3)) == frame.target.head(3)).all()
    unnamed = load_model(f"runs:/{sparse_run.id}/model", settings=settings)
    assert unnamed.signature is None
    assert unnamed.input_example() is None


def test_input_with_no_example_form_still_logs_the_model() -> None:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = [{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}] * 5
    make_pipeline(DictVectorizer(), LogisticRegression()).fit(rows, [0, 1] * 5)
    (run,) = loopml.search_runs()
    settings = loopml.tracking.fluent.default_client().settings
    loaded = load_model(f"runs:/{run.id}/model", settings=settings)
    assert loaded.input_example() is None
    assert loaded.predict(rows[:2]).tolist() == [0, 1]


def test_regressor_metrics_and_a_pipeline_logs_one_run_not_one_per_step() -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_diabetes()
    make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(data.data, data.target)
    (run,) = loopml.search_runs()
    assert run.name == "Pipeline"
    assert run.params["ridge__alpha"] == "0.5"
    assert {"training_r2_score", "training_mean_squared_error"} <= set(run.metrics)


def test_fit_inside_an_active_run_logs_there() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _iris()
    with loopml.start_run(experiment="auto") as outer:
        LogisticRegression(max_iter=300).fit(x, y)
        loopml.log_metric("extra", 1.0)
    (run,) = loopml.search_runs("auto")
    assert run.id == outer.id
    assert "training_accuracy_score" in run.metrics
    assert run.params["max_iter"] == "300"


def test_a_failing_fit_marks_its_run_failed_and_raises() -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 1, 2])
    (run,) = loopml.search_runs()
    assert run.status is RunStatus.FAILED


def test_disable_restores_plain_fit() -> None:
    from sklearn.linear_model import LinearRegression

    loopml.autolog(disable=True)
    LinearRegression().fit([[1.0], [2.0]], [1.0, 2.0])
    assert loopml.search_runs() == []


def test_autolog_lists_the_estimators_without_importing_torch(tmp_path: Path) -> None:
    # sklearn's estimator walk imports its array-API adapter for torch when torch is
    # installed (it is, in the dev extra): seconds in every process that calls autolog.
    pytest.importorskip("torch")
    script = "import sys, loopml; loopml.autolog(); print('torch' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "LOOPML_HOME": str(tmp_path / "home")},
    )
    assert done.stdout.strip() == "False", done.stderr
