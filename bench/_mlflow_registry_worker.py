"""The MLflow side of the model-registry benchmark; runs in ``bench/.venv-mlflow``.

    bench/.venv-mlflow/bin/python bench/_mlflow_registry_worker.py load '{"loads": 20}' /tmp/d
    bench/.venv-mlflow/bin/python bench/_mlflow_registry_worker.py registry \
        '{"versions": 1000, "repeats": 20}' /tmp/d

The mirror image of ``_loopml_registry_worker.py``: same workload names and parameters, a
fresh store in the given directory (``sqlite:///DIRECTORY/mlflow.db`` for tracking and the
registry, a file artifact root), one ``BENCH_RESULT {json}`` line on stdout. Only the
workload is timed: fitting the forest, logging it and registering the first versions are
not.

- ``load``: logs the 50-tree forest with ``mlflow.sklearn.log_model`` (MLflow's default
  format outside Databricks, skops; the forest's ``sklearn.tree._tree.Tree`` must be named
  in ``skops_trusted_types`` or MLflow refuses to save it), loads it once untimed (imports,
  caches), then times ``loads`` loads of ``runs:/<run>/model`` with
  ``mlflow.pyfunc.load_model`` (the line's number), then as many with
  ``mlflow.sklearn.load_model``, then, for reference, as many of the same forest logged in
  MLflow's pickle format. Every load returns a fresh object.
- ``registry``: registers ``versions`` versions of one model with
  ``MlflowClient.create_model_version`` (untimed), then times, ``repeats`` times each,
  registering one more version, moving an alias (``set_registered_model_alias``) and
  resolving it (``get_model_version_by_alias``).

MLflow refuses to deserialize any model, skops included, unless
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``; this worker sets it for itself.

This file must run with MLflow's interpreter only: it imports nothing from loopml.
"""

from __future__ import annotations

import os
import statistics
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _worker import (
    breast_cancer_forest,
    expect,
    folder_bytes,
    positives,
    repeat,
    run,
    temp_inside,
)

EXPERIMENT = "bench"
MODEL = "forest"
ALIAS = "champion"
TRUSTED = ["sklearn.tree._tree.Tree"]


def _open(home: Path) -> tuple[Any, Any]:
    """MLflow and a client on a fresh store in ``home`` (an experiment set as current)."""
    import mlflow
    from mlflow import MlflowClient

    temp_inside(home)
    uri = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        EXPERIMENT, artifact_location=(home / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return mlflow, client


def _log_forest(mlflow: Any, forest: Any, features: Any, **options: Any) -> tuple[Any, Any]:
    """Log ``forest`` as ``model`` in a new run; the run and MLflow's ModelInfo."""
    with mlflow.start_run() as active:
        info = mlflow.sklearn.log_model(
            forest, name="model", input_example=features.head(5), **options
        )
    return active, info


def load(home: Path, loads: int) -> dict[str, Any]:
    """Load the logged forest ``loads`` times per loader (after one untimed load each)."""
    mlflow, client = _open(home)
    forest, features = breast_cancer_forest()
    want = positives(forest.predict(features))
    skops_run, skops_info = _log_forest(mlflow, forest, features, skops_trusted_types=TRUSTED)
    pickle_run, _ = _log_forest(mlflow, forest, features, serialization_format="pickle")
    skops_uri = f"runs:/{skops_run.info.run_id}/model"
    pickle_uri = f"runs:/{pickle_run.info.run_id}/model"
    location = client.get_logged_model(skops_info.model_id).artifact_location
    package = Path(urllib.parse.urlparse(location).path)

    loaders: dict[str, Callable[[], Any]] = {
        "pyfunc": lambda: mlflow.pyfunc.load_model(skops_uri),
        "sklearn": lambda: mlflow.sklearn.load_model(skops_uri),
        "sklearn_pickle": lambda: mlflow.sklearn.load_model(pickle_uri),
    }
    timings: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    for name, loader in loaders.items():
        start = time.perf_counter()
        model = loader()
        first[name] = time.perf_counter() - start
        expect(f"MLflow {name}", positives(model.predict(features)), want, "positive rows")
        timings[name] = repeat(lambda loader=loader: id(loader()), loads)[0]
    return {
        "loads": loads,
        "seconds": statistics.median(timings["pyfunc"]),
        "sklearn_seconds": statistics.median(timings["sklearn"]),
        "pickle_seconds": statistics.median(timings["sklearn_pickle"]),
        "first_seconds": first,
        "package_bytes": folder_bytes(package),
        "positives": want,
        "timings": timings,
    }


def registry(home: Path, versions: int, repeats: int) -> dict[str, Any]:
    """``versions`` versions of one model, then time register / move alias / resolve."""
    mlflow, client = _open(home)
    forest, features = breast_cancer_forest()
    active, info = _log_forest(mlflow, forest, features, skops_trusted_types=TRUSTED)
    run_id = active.info.run_id
    # What mlflow.register_model("runs:/<run>/model", ...) passes once it has looked up
    # the run's logged model: its artifact location, the run and the model id.
    source = client.get_logged_model(info.model_id).artifact_location

    def register() -> int:
        made = client.create_model_version(MODEL, source, run_id=run_id, model_id=info.model_id)
        return int(made.version)

    start = time.perf_counter()
    client.create_registered_model(MODEL)
    for _ in range(versions):
        register()
    populate_seconds = time.perf_counter() - start

    register()  # warm-up, untimed, like the first move and the first resolve below
    register_timings, last = repeat(register, repeats)
    expect("MLflow", last, versions + 1 + repeats, "as the last version number")

    targets = iter([2 + i % (versions - 1) for i in range(repeats + 1)])

    def move() -> int:
        version = next(targets)
        client.set_registered_model_alias(MODEL, ALIAS, str(version))
        return version

    move()
    alias_timings, moved_to = repeat(move, repeats)

    def resolve() -> int:
        return int(client.get_model_version_by_alias(MODEL, ALIAS).version)

    resolve()
    resolve_timings, resolved = repeat(resolve, repeats)
    expect("MLflow", resolved, moved_to, f"as the version {ALIAS} points at")
    return {
        "versions": versions,
        "repeats": repeats,
        "populate_seconds": populate_seconds,
        "register": statistics.median(register_timings),
        "set_alias": statistics.median(alias_timings),
        "resolve": statistics.median(resolve_timings),
        "timings": {
            "register": register_timings,
            "set_alias": alias_timings,
            "resolve": resolve_timings,
        },
    }


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {"load": load, "registry": registry}

if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    run(WORKLOADS, as_script_in_directory=True)
