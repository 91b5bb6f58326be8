"""The mlflow flavor: MLflow's sklearn files load via skops, or as a pickle only when trusted."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from sklearn.linear_model import LinearRegression

from loopml.errors import InvalidInputError, UntrustedTypesError
from loopml.packaging.flavors import check_flavor, get_flavor

X = [[0.0], [1.0], [2.0]]
Y = [1.0, 3.0, 5.0]


def _options(file: str, serialization: str) -> dict[str, object]:
    return {
        "mlflow_flavors": ["python_function", "sklearn"],
        "mlflow_flavor": "sklearn",
        "file": file,
        "serialization_format": serialization,
    }


def test_a_skops_file_loads_without_trust(tmp_path: Path) -> None:
    import skops.io as sio

    sio.dump(LinearRegression().fit(X, Y), tmp_path / "model.skops")
    model = get_flavor("mlflow").load(tmp_path, _options("model.skops", "skops"), trusted=())
    assert model.predict([[3.0]])[0] == pytest.approx(7.0)


def test_a_pickle_loads_only_when_the_caller_trusts_pickle(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(LinearRegression().fit(X, Y)))
    flavor = get_flavor("mlflow")
    options = _options("model.pkl", "cloudpickle")
    with pytest.raises(UntrustedTypesError, match='trusted=\\["pickle"\\]') as refused:
        flavor.load(tmp_path, options, trusted=())
    assert refused.value.types == ["pickle"]
    model = flavor.load(tmp_path, options, trusted=["pickle"])
    assert model.predict([[3.0]])[0] == pytest.approx(7.0)


def test_other_mlflow_flavors_are_refused_by_name_and_nothing_is_saved(tmp_path: Path) -> None:
    check_flavor("mlflow", "model.json")  # registrable
    flavor = get_flavor("mlflow")
    with pytest.raises(InvalidInputError, match="python_function, transformers"):
        flavor.load(tmp_path, {"mlflow_flavors": ["python_function", "transformers"]}, trusted=())
    with pytest.raises(InvalidInputError, match="'onnx' format"):
        flavor.load(tmp_path, _options("model.onnx", "onnx"), trusted=["pickle"])
    assert not flavor.accepts(LinearRegression())
    with pytest.raises(InvalidInputError, match="MLflow logged"):
        flavor.save(LinearRegression(), tmp_path)
