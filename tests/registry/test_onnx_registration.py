"""ONNX at registration: register(..., onnx=...), load_model(..., runtime="onnx"), tampering."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

import loopml
from loopml._sdk.models import log_model
from loopml.config import Settings
from loopml.errors import DigestMismatchError, InvalidInputError
from loopml.packaging.onnx_export import OnnxConversionError
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_model


@pytest.fixture(autouse=True)
def _fluent(settings: Settings) -> None:
    loopml.configure(home=str(settings.home), db_url=settings.db_url)


def _logged(model: Any, x: Any) -> str:
    with loopml.start_run(experiment="onnx"):
        return log_model(model, input_example=x[:5]).uri


def _forest() -> tuple[Any, np.ndarray[Any, Any]]:
    x, y = load_breast_cancer(return_X_y=True)
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y), x


def test_a_version_registered_with_onnx_serves_the_graph_on_request(settings: Settings) -> None:
    forest, x = _forest()
    source = _logged(forest, x)
    registry = RegistryClient(settings)

    version = registry.register(source, "cancer", onnx=True)

    run_package = load_model(source, settings=settings)  # the run's package is unchanged
    assert run_package.manifest.onnx is None
    assert version.package_digest != run_package.manifest.digest
    native = load_model(version.uri, settings=settings)
    graph = load_model(version.uri, settings=settings, runtime="onnx")
    assert native.runtime == "native"
    assert "model.onnx" in graph.manifest.files
    assert (graph.predict(x) == native.predict(x)).mean() > 0.99
    assert np.allclose(graph.predict_proba(x), forest.predict_proba(x), atol=1e-5)
    [event] = registry.list_events(model="cancer", kinds=["model_version.created"])
    assert event.payload["onnx"]["added"] is True
    assert event.payload["run_id"] == run_package.manifest.source_run  # lineage kept


def test_a_model_without_a_converter_is_refused_when_insisted_on(settings: Settings) -> None:
    x, _ = load_breast_cancer(return_X_y=True)
    source = _logged(StandardScaler().fit(x), x)
    registry = RegistryClient(settings)

    with pytest.raises(OnnxConversionError, match="StandardScaler has no predict"):
        registry.register(source, "scaler", onnx=True)
    assert registry.list_models() == []  # nothing registered

    version = registry.register(source, "scaler", onnx="if-possible")
    assert version.version == 1
    [event] = registry.list_events(model="scaler", kinds=["model_version.created"])
    assert event.payload["onnx"] == {
        "added": False,
        "reason": event.payload["onnx"]["reason"],
    }
    assert "StandardScaler has no predict" in event.payload["onnx"]["reason"]
    with pytest.raises(InvalidInputError, match="has no ONNX graph"):
        load_model(version.uri, settings=settings, runtime="onnx")


def test_a_bad_onnx_value_is_refused_before_anything_is_stored(settings: Settings) -> None:
    forest, x = _forest()
    registry = RegistryClient(settings)
    with pytest.raises(InvalidInputError, match="onnx must be True, False"):
        registry.register(_logged(forest, x), "cancer", onnx="yes")  # type: ignore[arg-type]
    assert registry.list_models() == []


def test_a_changed_cached_graph_is_caught_and_fetched_again(
    settings: Settings, tmp_path: Path
) -> None:
    forest, x = _forest()
    version = RegistryClient(settings).register(_logged(forest, x), "cancer", onnx=True)
    first = load_model(version.uri, settings=settings, runtime="onnx")
    (first.folder / "model.onnx").write_bytes(b"not a graph")

    again = load_model(version.uri, settings=settings, runtime="onnx")  # refetched, verified
    assert (again.predict(x[:3]) == first.predict(x[:3])).all()

    copy = tmp_path / "copy"
    shutil.copytree(again.folder, copy)
    (copy / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(DigestMismatchError, match=r"model\.onnx changed"):
        RegistryClient(settings).register(copy, "cancer")


def test_log_model_with_onnx_puts_the_graph_in_the_runs_package(settings: Settings) -> None:
    forest, x = _forest()
    with loopml.start_run(experiment="onnx"):
        info = log_model(forest, input_example=x[:5], onnx=True, register_as="cancer")

    assert "model.onnx" in info.files
    assert info.registered is not None
    assert info.registered.package_digest == info.package_digest  # registered as logged
    graph = load_model(info.registered.uri, settings=settings, runtime="onnx")
    assert (graph.predict(x[:20]) == forest.predict(x[:20])).all()
