"""ONNX beside the native model: conversion, the equivalence check, tampering, runtime='onnx'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.errors import DigestMismatchError, InvalidInputError, UnsafePathError
from loopml.packaging import load_package, read_manifest, save_package, verify_package
from loopml.packaging.onnx_export import OnnxConversionError, add_onnx, onnx_mode


def _cancer() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x, y = load_breast_cancer(return_X_y=True)
    return x, y


def _iris_frame() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    frame, target = load_iris(return_X_y=True, as_frame=True)
    return frame, np.array(["setosa", "versicolor", "virginica"])[target]


class Zeros:
    """A pyfunc model: no ONNX converter exists for it."""

    def predict(self, data: Any) -> Any:
        return np.zeros(len(data))


def _package(model: Any, folder: Path, example: Any) -> Path:
    save_package(model, folder, input_example=example)
    return folder


def test_a_forest_gets_a_checked_graph_that_answers_like_it(tmp_path: Path) -> None:
    x, y = _cancer()
    forest = RandomForestClassifier(n_estimators=15, random_state=0).fit(x, y)
    folder = _package(forest, tmp_path / "pkg", x[:5])

    report = add_onnx(folder)

    assert report.added
    assert report.reason is None
    manifest = verify_package(folder)  # model.onnx is listed with its digest and checked
    assert "model.onnx" in manifest.files
    assert manifest.onnx is not None
    assert manifest.onnx["converter"].startswith("skl2onnx==")
    assert manifest.onnx["check"]["max_abs_diff"] <= 1e-5
    native, graph = load_package(folder), load_package(folder, runtime="onnx")
    assert (graph.runtime, native.runtime) == ("onnx", "native")
    labels = graph.predict(x)
    assert labels.dtype == native.predict(x).dtype
    assert (labels == native.predict(x)).mean() > 0.99  # float32 thresholds, rows near a split
    assert np.allclose(graph.predict_proba(x), native.predict_proba(x), atol=1e-5)


def test_string_labels_from_a_frame_pipeline_come_back_equal(tmp_path: Path) -> None:
    frame, labels = _iris_frame()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    folder = _package(pipeline.fit(frame, labels), tmp_path / "pkg", frame.iloc[::30])

    add_onnx(folder)

    graph = load_package(folder, runtime="onnx")
    assert graph.predict(frame).tolist() == pipeline.predict(frame).tolist()
    with pytest.raises(InvalidInputError, match="petal width"):  # the signature still rules
        graph.predict(frame.drop(columns=["petal width (cm)"]))


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["classifier", "regressor"])
def test_boosted_trees_convert_and_answer_like_the_booster(
    tmp_path: Path, library: str, task: str
) -> None:
    frame, labels = _iris_frame()
    target: Any = labels if task == "classifier" else frame["sepal length (cm)"].to_numpy()
    features = frame if task == "classifier" else frame.drop(columns=["sepal length (cm)"])
    if library == "lightgbm":
        import lightgbm as lgb

        cls: Any = lgb.LGBMClassifier if task == "classifier" else lgb.LGBMRegressor
        model = cls(n_estimators=10, verbose=-1).fit(features, target)
    else:
        import xgboost as xgb

        if task == "classifier":
            target = np.searchsorted(np.unique(labels), labels)
        cls = xgb.XGBClassifier if task == "classifier" else xgb.XGBRegressor
        model = cls(n_estimators=10).fit(features, target)
    folder = _package(model, tmp_path / "pkg", features.iloc[::30])

    assert add_onnx(folder).added
    native, graph = load_package(folder), load_package(folder, runtime="onnx")
    if task == "classifier":
        assert graph.predict(features).tolist() == native.predict(features).tolist()
        assert np.allclose(graph.predict_proba(features), native.predict_proba(features), atol=1e-5)
    else:
        assert not hasattr(graph, "predict_proba")
        assert np.allclose(graph.predict(features), native.predict(features), rtol=1e-4)


def test_a_graph_that_differs_is_refused_naming_the_estimator_and_the_difference(
    tmp_path: Path,
) -> None:
    # float32 cannot tell 1e8 + 1 from 1e8: the graph's answers are off by whole units.
    x = (1e8 + np.arange(20.0)).reshape(-1, 1)
    folder = _package(LinearRegression().fit(x, np.arange(20.0)), tmp_path / "pkg", x[1:6])
    before = read_manifest(folder)

    with pytest.raises(OnnxConversionError, match=r"LinearRegression.*differs.*by up to"):
        add_onnx(folder)

    report = add_onnx(folder, required=False)  # not insisting: the package stays as it was
    assert not report.added
    assert "differs" in str(report.reason)
    assert read_manifest(folder).digest == before.digest
    assert not (folder / "model.onnx").exists()
    verify_package(folder, before.digest)


def test_what_cannot_be_converted_is_named(tmp_path: Path) -> None:
    x, _ = _cancer()
    scaler = _package(StandardScaler().fit(x), tmp_path / "scaler", x[:5])
    with pytest.raises(OnnxConversionError, match="StandardScaler has no predict"):
        add_onnx(scaler)
    forest = RandomForestClassifier(n_estimators=3).fit(x, x[:, 0] > 10)
    no_example = tmp_path / "no-example"
    save_package(forest, no_example)
    with pytest.raises(OnnxConversionError, match="no input example"):
        add_onnx(no_example)
    text = tmp_path / "text"
    words = pd.DataFrame({"word": ["a", "b", "a", "b"], "n": [1, 2, 3, 4]})
    save_package(Zeros(), text, input_example=words)
    with pytest.raises(OnnxConversionError, match=r"flavor pyfunc.*has no ONNX converter"):
        add_onnx(text)


def test_a_changed_graph_is_refused_by_verification_and_loading(tmp_path: Path) -> None:
    x, y = _cancer()
    folder = _package(RandomForestClassifier(n_estimators=3).fit(x, y), tmp_path / "pkg", x[:5])
    digest = add_onnx(folder).manifest.digest
    graph = folder / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))

    with pytest.raises(DigestMismatchError, match=r"model\.onnx changed"):
        verify_package(folder, digest)
    with pytest.raises(DigestMismatchError, match=r"model\.onnx"):
        load_package(folder, runtime="onnx")


def test_runtime_onnx_without_a_graph_and_unknown_runtimes_are_refused(tmp_path: Path) -> None:
    x, y = _cancer()
    folder = _package(RandomForestClassifier(n_estimators=3).fit(x, y), tmp_path / "pkg", x[:5])
    with pytest.raises(InvalidInputError, match=r"has no ONNX graph.*--onnx"):
        load_package(folder, runtime="onnx")
    with pytest.raises(InvalidInputError, match="unknown runtime 'tensorrt'"):
        load_package(folder, runtime="tensorrt")  # type: ignore[arg-type]


def test_onnx_modes_are_named_plainly() -> None:
    assert [onnx_mode(v) for v in (True, False, None, "if-possible")] == [
        "required",
        "off",
        "off",
        "if-possible",
    ]
    with pytest.raises(InvalidInputError, match="'maybe'"):
        onnx_mode("maybe")


def test_an_onnx_section_pointing_outside_the_package_is_refused(tmp_path: Path) -> None:
    import json

    x, y = _cancer()
    folder = _package(RandomForestClassifier(n_estimators=3).fit(x, y), tmp_path / "pkg", x[:5])
    add_onnx(folder)
    (tmp_path / "outside.onnx").write_bytes((folder / "model.onnx").read_bytes())
    body = json.loads((folder / "model.json").read_text())
    body["onnx"]["file"] = "../outside.onnx"  # a crafted model.json, consistent by itself
    (folder / "model.json").write_text(json.dumps(body))

    with pytest.raises(UnsafePathError, match="not one of the package's verified files"):
        load_package(folder, runtime="onnx")
