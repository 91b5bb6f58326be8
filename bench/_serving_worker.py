"""Prepares what each side of the serving benchmark serves; runs in that side's interpreter.

    bench/.venv-mlflow/bin/python bench/_serving_worker.py mlflow '{}' /tmp/d
    bench/.venv-bentoml/bin/python bench/_serving_worker.py bentoml '{}' /tmp/d
    .venv/bin/python bench/_serving_worker.py loopml '{"onnx": true}' /tmp/d

Every side fits the same model in its own interpreter (``RandomForestClassifier(
n_estimators=50, random_state=0)`` on scikit-learn's breast-cancer data: the same trees
wherever the scikit-learn version is the same), stores it the way that tool serves it,
and times the model's own ``predict`` on one row in that interpreter: the forest fitted on
the NumPy array, called with a one-row array, median of many calls after a warm-up. That
number is what "server overhead" (p50 latency minus predict) subtracts.

- ``mlflow``: ``mlflow.sklearn.save_model`` to ``DIRECTORY/model`` (MLflow's default
  format, skops, naming the forest's ``Tree`` type as trusted), with an input example.
- ``bentoml``: the forest pickled to ``DIRECTORY/forest.pkl`` and a minimal service file
  ``DIRECTORY/service.py`` (one worker, one ``predict`` API taking ``inputs`` as an array).
- ``loopml``: a fresh store in ``DIRECTORY`` with ``bc`` v1 (the forest), ``bc-swap`` v1
  (the forest) and v2 (another forest, ``random_state=1``, fitted to v1's labels: the
  alias swap's two versions), ``identity`` v1 (a pyfunc returning its input), each with
  ``production`` -> v1 (their policy does not protect ``production``, so the benchmark can
  move it); when ``onnx`` is asked and the registry can convert, ``bc-onnx`` v1 registered
  with its ONNX conversion, and the predict time of that conversion loaded with
  ``load_model(..., runtime="onnx")`` (one row, a DataFrame, through loopml's wrapper).

Prints one ``BENCH_RESULT {json}`` line: the predict timings and what was made.
This file imports loopml, MLflow or BentoML only inside the workload of that side.
"""

from __future__ import annotations

import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _worker import FOREST_TREES, breast_cancer_forest, run, temp_inside

PREDICT_CALLS = 300
TRUSTED = ["sklearn.tree._tree.Tree"]

BENTOML_SERVICE = '''\
"""The BentoML side of bench/serving.py: the pickled forest behind one predict API."""

import pickle
from pathlib import Path

import bentoml
import numpy as np

MODEL = Path(__file__).resolve().parent / "forest.pkl"


@bentoml.service(workers=1)
class Forest:
    def __init__(self) -> None:
        with MODEL.open("rb") as file:
            self.model = pickle.load(file)

    @bentoml.api
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self.model.predict(inputs)
'''

IDENTITY_MODULE = '''\
"""A model that returns its input: what serving costs with no model work at all."""


class Identity:
    def predict(self, data):
        return data
'''


def _predict_timing(model: Any, row: Any) -> float:
    """Median seconds of ``model.predict(row)`` over many calls, after a warm-up."""
    for _ in range(20):
        model.predict(row)
    timings = []
    for _ in range(PREDICT_CALLS):
        start = time.perf_counter()
        model.predict(row)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _own_predict() -> dict[str, Any]:
    """The forest's own predict on one row in this interpreter, and library versions."""
    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    features, target = load_breast_cancer(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=0)
    forest.fit(features, target)
    row = features[:1]
    return {
        "predict_seconds": _predict_timing(forest, row),
        "label_row0": int(forest.predict(row)[0]),
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
    }


def mlflow(home: Path) -> dict[str, Any]:
    import mlflow as mlflow_module
    import mlflow.sklearn

    temp_inside(home)
    forest, features = breast_cancer_forest()
    mlflow.sklearn.save_model(
        forest,
        str(home / "model"),
        input_example=features.head(5),
        skops_trusted_types=TRUSTED,
    )
    return {
        **_own_predict(),
        "predict_frame_seconds": _predict_timing(forest, features.head(1)),
        "model": str(home / "model"),
        "mlflow": mlflow_module.__version__,
    }


def bentoml(home: Path) -> dict[str, Any]:
    import importlib.metadata

    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    features, target = load_breast_cancer(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=0)
    with (home / "forest.pkl").open("wb") as file:
        pickle.dump(forest.fit(features, target), file)
    (home / "service.py").write_text(BENTOML_SERVICE)
    return {
        **_own_predict(),
        "service": str(home / "service.py"),
        "bentoml": importlib.metadata.version("bentoml"),
    }


def loopml(home: Path, onnx: bool = False) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier

    import loopml as loopml_module
    from loopml.registry.client import RegistryClient
    from loopml.registry.loading import load_model
    from loopml.registry.models import PromotionPolicy

    temp_inside(home)
    loopml_module.configure(home=str(home))
    client = RegistryClient(loopml_module.Settings.load(home=home))
    forest, features = breast_cancer_forest()
    challenger = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=1)
    challenger.fit(features, forest.predict(features))  # agrees with v1: any swap is valid
    (home / "bench_identity.py").write_text(IDENTITY_MODULE)
    sys.path.insert(0, str(home))
    from bench_identity import Identity  # type: ignore[import-not-found]

    example = features.head(5)
    with loopml_module.start_run(experiment="bench-serving"):
        bc = loopml_module.log_model(forest, "bc", input_example=example)
        v2 = loopml_module.log_model(challenger, "bc_v2", input_example=example)
        identity = loopml_module.log_model(Identity(), "identity", input_example=example)
    # An empty protected_aliases reads back as ("production",), so protect another alias.
    open_policy = PromotionPolicy(protected_aliases=("bench-locked",))
    registered = (
        (bc.uri, "bc"),
        (bc.uri, "bc-swap"),
        (v2.uri, "bc-swap"),
        (identity.uri, "identity"),
    )
    for source, name in registered:
        client.register(source, name)
    for name in ("bc", "bc-swap", "identity"):
        client.set_policy(name, open_policy)
        client.set_alias(name, "production", 1)
    result: dict[str, Any] = {**_own_predict(), "home": str(home)}
    result["onnx"] = _register_onnx(client, bc.uri, open_policy) if onnx else "not asked"
    if result["onnx"] == "ok":  # the converted graph's own predict, through onnxruntime
        try:
            converted = load_model(
                "models:/bc-onnx@production", settings=client.settings, runtime="onnx"
            )
        except TypeError as err:
            result["onnx"] = f"not available: load_model has no runtime='onnx' ({err})"
        else:
            result["onnx_predict_seconds"] = _predict_timing(converted, features.head(1))
    served = load_model("models:/bc@production", settings=client.settings)
    result["loopml_predict_frame_seconds"] = _predict_timing(served, features.head(1))
    result["predict_frame_seconds"] = _predict_timing(forest, features.head(1))
    result["identity_predict_seconds"] = _predict_timing(Identity(), features.head(1))
    result["loopml"] = loopml_module.__version__
    return result


def _register_onnx(client: Any, source: str, policy: Any) -> str:
    """Register ``bc-onnx`` with its ONNX conversion: "ok", or why that is not available."""
    try:
        client.register(source, "bc-onnx", onnx=True)
    except TypeError as err:  # the registry has no ONNX conversion (yet)
        return f"not available: RegistryClient.register refuses onnx=True ({err})"
    except Exception as err:
        return f"not available: ONNX conversion failed: {type(err).__name__}: {err}"
    client.set_policy("bc-onnx", policy)
    client.set_alias("bc-onnx", "production", 1)
    return "ok"


if __name__ == "__main__":
    run({"mlflow": mlflow, "bentoml": bentoml, "loopml": loopml})
