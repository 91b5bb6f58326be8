"""Every flavor: saved into a package, loaded back, predicting exactly what it did before."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInputError, NotFoundError
from loopml.packaging.flavors import FLAVORS, flavor_for, get_flavor
from loopml.packaging.loading import LoadedModel, load_package
from loopml.packaging.package import save_package


def _round_trip(model: Any, folder: Path, example: Any = None, **options: Any) -> LoadedModel:
    save_package(model, folder, input_example=example, **options)
    return load_package(folder)


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return data.data, data.target


# -- sklearn ------------------------------------------------------------------------------


def test_sklearn_classifier_regressor_and_pipeline(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _iris()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    loaded = _round_trip(forest, tmp_path / "forest", x)
    assert loaded.flavor == "sklearn"
    assert (loaded.predict(x) == forest.predict(x)).all()
    assert np.allclose(loaded.predict_proba(x), forest.predict_proba(x))
    assert (tmp_path / "forest" / "model.skops").is_file()

    ridge = Ridge().fit(x.to_numpy(), y)
    loaded = _round_trip(ridge, tmp_path / "ridge", x.to_numpy())
    assert np.allclose(loaded.predict(x.to_numpy()), ridge.predict(x.to_numpy()))
    assert not hasattr(loaded, "predict_proba")

    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3)).fit(x, y)
    loaded = _round_trip(pipeline, tmp_path / "pipeline", x)
    assert (loaded.predict(x) == pipeline.predict(x)).all()
    assert loaded.manifest.model_class == "sklearn.pipeline.Pipeline"
    assert hasattr(loaded, "predict_proba")


def test_a_sklearn_transformer_predicts_by_transforming(tmp_path: Path) -> None:
    from sklearn.preprocessing import StandardScaler

    x, _ = _iris()
    scaler = StandardScaler().fit(x)
    loaded = _round_trip(scaler, tmp_path / "scaler", x)
    assert np.allclose(loaded.predict(x), scaler.transform(x))


# -- LightGBM -----------------------------------------------------------------------------


def test_lightgbm_booster_and_classifier_keep_native_text_and_labels(tmp_path: Path) -> None:
    import lightgbm as lgb

    x, y = _iris()
    booster = lgb.train(
        {"objective": "regression", "verbose": -1}, lgb.Dataset(x, label=y), num_boost_round=5
    )
    loaded = _round_trip(booster, tmp_path / "booster", x)
    assert loaded.flavor == "lightgbm"
    assert loaded.manifest.flavor_options == {"file": "model.txt", "kind": "booster"}
    assert np.allclose(loaded.predict(x), booster.predict(x))
    assert not hasattr(loaded, "predict_proba")

    labels = y.map({0: "setosa", 1: "versicolor", 2: "virginica"})
    classifier = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(x, labels)
    loaded = _round_trip(classifier, tmp_path / "classifier", x)
    assert loaded.manifest.flavor_options["classes"] == ["setosa", "versicolor", "virginica"]
    assert (loaded.predict(x) == classifier.predict(x)).all()
    assert np.allclose(loaded.predict_proba(x), classifier.predict_proba(x))
    assert (tmp_path / "classifier" / "model.txt").read_text().startswith("tree")


def test_a_binary_lightgbm_classifier_gives_two_probability_columns(tmp_path: Path) -> None:
    import lightgbm as lgb

    x, y = _iris()
    classifier = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(x, y == 2)
    loaded = _round_trip(classifier, tmp_path / "binary", x)
    assert loaded.predict_proba(x).shape == (len(x), 2)
    assert np.allclose(loaded.predict_proba(x), classifier.predict_proba(x))
    assert (loaded.predict(x) == classifier.predict(x)).all()


# -- XGBoost ------------------------------------------------------------------------------


def test_xgboost_booster_and_classifier_keep_ubjson(tmp_path: Path) -> None:
    import xgboost as xgb

    x, y = _iris()
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(x, label=y), 5)
    loaded = _round_trip(booster, tmp_path / "booster", x)
    assert loaded.flavor == "xgboost"
    assert np.allclose(loaded.predict(x), booster.predict(xgb.DMatrix(x)))
    assert (tmp_path / "booster" / "model.ubj").is_file()
    assert not hasattr(loaded, "predict_proba")

    classifier = xgb.XGBClassifier(n_estimators=5).fit(x, y)
    loaded = _round_trip(classifier, tmp_path / "classifier", x)
    assert (loaded.predict(x) == classifier.predict(x)).all()
    assert np.allclose(loaded.predict_proba(x), classifier.predict_proba(x))
    xgboost_pin = next(r for r in loaded.manifest.requirements if r.startswith("xgboost"))
    assert xgboost_pin.partition("==")[2]  # the distribution really installed, pinned


def test_xgboost_softmax_predicts_labels_without_probabilities(tmp_path: Path) -> None:
    import xgboost as xgb

    x, y = _iris()
    classifier = xgb.XGBClassifier(n_estimators=3, objective="multi:softmax").fit(x, y)
    loaded = _round_trip(classifier, tmp_path / "softmax", x)
    assert (loaded.predict(x) == classifier.predict(x)).all()
    assert not hasattr(loaded, "predict_proba")


# -- torch --------------------------------------------------------------------------------


def _net() -> Any:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = torch.nn.Linear(4, 8)
            self.out = torch.nn.Linear(8, 3)

        def forward(self, x: Any) -> Any:
            return torch.softmax(self.out(torch.relu(self.hidden(x))), dim=-1)

    torch.manual_seed(0)
    return Net()


def test_torch_exports_with_a_dynamic_batch(tmp_path: Path) -> None:
    import torch

    net = _net()
    x = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    loaded = _round_trip(net, tmp_path / "net", x[:1])  # one row: still any batch size
    assert loaded.flavor == "torch"
    assert (tmp_path / "net" / "model.pt2").is_file()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    assert np.allclose(loaded.predict(x), expected, atol=1e-6)
    assert np.allclose(loaded.predict(x.astype("float64")), expected, atol=1e-6)  # cast
    assert loaded.signature is not None
    assert loaded.signature.to_dict()["outputs"] == {
        "type": "tensor",
        "dtype": "float32",
        "shape": [-1, 3],
    }
    assert net.training  # the export switched to eval mode only while tracing


def test_torch_named_inputs_and_a_missing_example(tmp_path: Path) -> None:
    import torch

    class Sum(torch.nn.Module):
        def forward(self, a: Any, b: Any) -> Any:
            return a * 2 + b

    module = Sum()
    a = np.ones((3, 2), dtype="float32")
    loaded = _round_trip(module, tmp_path / "sum", {"a": a, "b": a})
    out = loaded.predict({"a": np.full((5, 2), 2.0, dtype="float32"), "b": np.zeros((5, 2))})
    assert out.shape == (5, 2)
    assert (out == 4.0).all()
    with pytest.raises(InvalidInputError, match="a torch model needs an input example"):
        save_package(module, tmp_path / "no-example")
    assert not (tmp_path / "no-example").exists()  # a failed save leaves nothing behind


# -- ONNX ---------------------------------------------------------------------------------


def _onnx_graph() -> Any:
    from onnx import TensorProto, helper

    weights = helper.make_tensor("w", TensorProto.FLOAT, [3, 1], [1.0, 2.0, 3.0])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "dot",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def test_onnx_model_proto_and_bytes(tmp_path: Path) -> None:
    graph = _onnx_graph()
    x = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], dtype="float32")
    loaded = _round_trip(graph, tmp_path / "proto", x)
    assert loaded.flavor == "onnx"
    assert loaded.predict(x).tolist() == [[6.0], [2.0]]
    from_bytes = _round_trip(graph.SerializeToString(), tmp_path / "bytes")
    assert from_bytes.signature is None
    assert from_bytes.predict(x.astype("float64")).tolist() == [[6.0], [2.0]]  # graph's types
    with pytest.raises(InvalidInputError, match="not a valid ONNX model"):
        save_package(b"not a graph", tmp_path / "broken", flavor="onnx")


# -- pyfunc -------------------------------------------------------------------------------


class Threshold:
    """A pyfunc model whose attributes are plain JSON."""

    def __init__(self, cut: float) -> None:
        self.cut = cut
        self.labels = ["low", "high"]

    def predict(self, data: Any) -> Any:
        return np.where(np.asarray(data)[:, 0] > self.cut, self.labels[1], self.labels[0])


class Lookup:
    """A pyfunc model that stores itself (an array no JSON attribute could hold)."""

    def __init__(self, table: np.ndarray[Any, Any]) -> None:
        self.table = table

    def predict(self, data: Any) -> Any:
        return self.table[np.asarray(data, dtype=int)]

    def save_model(self, folder: Path) -> None:
        (folder / "table.json").write_text(json.dumps(self.table.tolist()))

    @classmethod
    def load_model(cls, folder: Path) -> Lookup:
        return cls(np.array(json.loads((folder / "table.json").read_text())))


def test_pyfunc_with_json_state_and_with_hooks(tmp_path: Path) -> None:
    x = np.array([[0.2], [0.9]])
    loaded = _round_trip(Threshold(0.5), tmp_path / "threshold", x)
    assert loaded.flavor == "pyfunc"
    assert loaded.predict(x).tolist() == ["low", "high"]
    options = loaded.manifest.flavor_options
    assert options["class"] == f"{__name__}:Threshold"
    assert options["state"] == "json"
    assert json.loads((tmp_path / "threshold" / "pyfunc" / "state.json").read_text()) == {
        "cut": 0.5,
        "labels": ["low", "high"],
    }
    assert options["code"] == f"code/{__name__}.py"  # a project file travels with the model

    loaded = _round_trip(Lookup(np.array([10, 20, 30])), tmp_path / "lookup", np.array([[0]]))
    assert loaded.manifest.flavor_options["state"] == "hooks"
    assert loaded.predict([[2], [0]]).tolist() == [[30], [10]]


class Unstorable:
    def __init__(self) -> None:
        self.weights = np.zeros(3)
        self.fine = 1
        self.pairs = (1, 2)

    def predict(self, data: Any) -> Any:
        return data


class HalfHooked(Unstorable):
    def save_model(self, folder: Path) -> None:
        pass


def test_pyfunc_refuses_what_it_cannot_store_and_says_how(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        save_package(Unstorable(), tmp_path / "a")
    message = caught.value.message
    assert "attributes weights (ndarray), pairs (tuple)" in message
    assert "save_model(self, folder) and a classmethod load_model(cls, folder)" in message
    with pytest.raises(InvalidInputError, match="defines save_model but not a classmethod"):
        save_package(HalfHooked(), tmp_path / "b")

    class Local:
        def predict(self, data: Any) -> Any:
            return data

    with pytest.raises(InvalidInputError, match="defined inside a function; move the class"):
        save_package(Local(), tmp_path / "c")


def test_pyfunc_code_is_packaged_and_loads_where_the_project_is_absent(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "shop").mkdir(parents=True)
    (project / "shop" / "__init__.py").write_text("import shop_secrets  # not packaged\n")
    (project / "shop" / "pricing.py").write_text(
        textwrap.dedent(
            """
            class Markup:
                def __init__(self, rate):
                    self.rate = rate

                def predict(self, data):
                    return [round(p * (1 + self.rate), 2) for p in data]
            """
        )
    )
    (project / "shop_secrets.py").write_text("")
    sys.path.insert(0, str(project))
    try:
        from shop.pricing import Markup

        save_package(Markup(0.25), tmp_path / "pkg")
    finally:
        sys.path.remove(str(project))
        for name in ("shop", "shop.pricing", "shop_secrets"):
            sys.modules.pop(name, None)
    assert sorted(p.name for p in (tmp_path / "pkg" / "code" / "shop").iterdir()) == [
        "__init__.py",
        "pricing.py",
    ]
    assert (tmp_path / "pkg" / "code" / "shop" / "__init__.py").read_text() == ""
    script = (
        "import sys; from loopml.packaging.loading import load_package; "
        f"print(load_package({str(tmp_path / 'pkg')!r}, trusted=sys.argv[1:]).predict([10.0, 4.0]))"
    )

    def load_elsewhere(*trusted: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, *trusted], capture_output=True, text=True, cwd=tmp_path
        )

    # Only the package's copy provides the class: importing it runs the author's code.
    refused = load_elsewhere()
    assert refused.returncode != 0
    assert "UntrustedTypesError" in refused.stderr
    assert 'trusted=["shop.pricing.Markup"]' in refused.stderr
    done = load_elsewhere("shop.pricing.Markup")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[12.5, 5.0]"
    assert not list((tmp_path / "pkg").rglob("__pycache__"))  # the package stays as verified


# -- choosing a flavor --------------------------------------------------------------------


class JsonFlavor:
    """A third-party flavor: stores a dict model as JSON."""

    name = "json-dict"

    def accepts(self, model: Any) -> bool:
        return isinstance(model, dict)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        (folder / "model.json.txt").write_text(json.dumps(model))
        return {}

    def load(self, folder: Path, options: dict[str, Any], *, trusted: Any) -> Any:
        table = json.loads((folder / "model.json.txt").read_text())

        class Predictor:
            def predict(self, data: Any) -> Any:
                return [table[str(key)] for key in data]

        return Predictor()

    def requirements(self, model: Any) -> list[str]:
        return []


def test_flavor_for_picks_by_type_and_py_names_a_third_party_flavor(tmp_path: Path) -> None:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression

    assert FLAVORS == ("sklearn", "lightgbm", "xgboost", "torch", "onnx", "pyfunc")
    assert flavor_for(LogisticRegression()).name == "sklearn"
    assert flavor_for(lgb.LGBMRegressor()).name == "lightgbm"  # not sklearn, though it is one
    assert flavor_for(xgb.XGBRegressor()).name == "xgboost"
    assert flavor_for(_net()).name == "torch"
    assert flavor_for(_onnx_graph()).name == "onnx"
    assert flavor_for(Threshold(1.0)).name == "pyfunc"
    with pytest.raises(InvalidInputError, match="has no predict method; give it a predict"):
        flavor_for(object())
    with pytest.raises(NotFoundError, match="did you mean: sklearn"):
        get_flavor("sklern")

    name = f"py:{__name__}.JsonFlavor"
    save_package({"1": "one", "2": "two"}, tmp_path / "custom", flavor=name)
    loaded = load_package(tmp_path / "custom", trusted=[f"{__name__}.JsonFlavor"])
    assert loaded.flavor == name
    assert loaded.predict([2, 1]) == ["two", "one"]
    with pytest.raises(InvalidInputError, match="flavor 'sklearn' cannot save a dict"):
        save_package({"a": 1}, tmp_path / "wrong", flavor="sklearn")
