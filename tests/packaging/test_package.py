"""Model packages: the manifest, pinned requirements, digests, and what verification catches."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from loopml import __version__
from loopml.errors import DigestMismatchError, InvalidInputError, UntrustedTypesError
from loopml.packaging.loading import load_package
from loopml.packaging.package import read_manifest, save_package, verify_package


class Doubler(TransformerMixin, BaseEstimator):
    """A project's own transformer: skops can store it, but loading runs this code."""

    def fit(self, x: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, x: Any) -> Any:
        return np.asarray(x) * 2


def _frame(rows: int = 20) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 90, rows), "income": rng.normal(size=rows)})
    return frame, (frame["income"] > 0).to_numpy().astype(int)


def _forest(folder: Path, **options: Any) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x, y = _frame()
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    return save_package(model, folder, input_example=x, source_run="01RUN", **options)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_manifest_describes_and_digests_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    manifest = _forest(folder)
    body = json.loads((folder / "model.json").read_text())
    assert body["format"] == 1
    assert body["flavor"] == "sklearn"
    assert body["flavor_options"] == {"file": "model.skops"}
    assert body["model_class"] == "sklearn.ensemble._forest.RandomForestClassifier"
    assert body["input_example"] == "input_example.json"
    assert body["python_version"] == platform.python_version()
    assert body["loopml_version"] == __version__
    assert body["source_run"] == "01RUN"
    assert body["predict_proba"] is True
    assert body["created_at"] > 1_700_000_000_000  # Unix ms
    assert body["signature"]["inputs"]["columns"] == [
        {"name": "age", "type": "long"},
        {"name": "income", "type": "double"},
    ]
    version = importlib.metadata.version
    for name in ("scikit-learn", "skops", "numpy", "pandas"):
        assert f"{name}=={version(name)}" in body["requirements"]
    assert (folder / "requirements.txt").read_text().splitlines() == body["requirements"]
    assert sorted(body["files"]) == ["input_example.json", "model.skops", "requirements.txt"]
    for name, entry in body["files"].items():
        assert entry == {"sha256": _sha256(folder / name), "size": (folder / name).stat().st_size}
    assert manifest.digest == _sha256(folder / "model.json")
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert manifest.size_bytes == total
    assert read_manifest(folder) == manifest
    assert verify_package(folder, manifest.digest) == manifest


def test_the_example_keeps_five_rows_in_their_original_types(tmp_path: Path) -> None:
    _forest(tmp_path / "pkg")
    loaded = load_package(tmp_path / "pkg")
    example = loaded.input_example()
    x, _ = _frame()
    pd.testing.assert_frame_equal(example, x.head(5))
    assert len(loaded.predict(example)) == 5


def test_extra_requirements_are_pinned_or_kept_as_written(tmp_path: Path) -> None:
    manifest = _forest(tmp_path / "pkg", requirements=["pyarrow", "requests>=2", "numpy==1.0"])
    pins = manifest.requirements
    assert f"pyarrow=={importlib.metadata.version('pyarrow')}" in pins
    assert "requests>=2" in pins
    assert "numpy==1.0" in pins  # the caller's line replaces the automatic pin
    assert not any(p.startswith("numpy==2") for p in pins)
    with pytest.raises(InvalidInputError, match="'surely-not-installed' is not installed"):
        _forest(tmp_path / "other", requirements=["surely-not-installed"])


def test_a_folder_with_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="is not an empty folder"):
        _forest(tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_a_changed_file_is_named_when_loading(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    _forest(folder)
    skops = folder / "model.skops"
    data = bytearray(skops.read_bytes())
    data[100] ^= 0xFF  # same size, different bytes
    skops.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError) as caught:
        load_package(folder)
    (problem,) = caught.value.details["problems"]
    assert problem.startswith("file model.skops changed after it was logged (sha256 ")
    assert "re-log the model" in caught.value.message


def test_missing_extra_and_resized_files_and_a_replaced_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    manifest = _forest(folder)
    (folder / "input_example.json").unlink()
    (folder / "requirements.txt").write_text("anything==1\n")
    (folder / "sneaky.py").write_text("print('hi')")
    with pytest.raises(DigestMismatchError) as caught:
        verify_package(folder)
    assert caught.value.details["problems"] == [
        "file input_example.json is missing",
        f"file requirements.txt changed after it was logged (12 bytes, not "
        f"{manifest.files['requirements.txt'][1]})",
        "file sneaky.py is not part of the package",
    ]
    other = tmp_path / "other"
    _forest(other)
    with pytest.raises(DigestMismatchError, match=r"file model.json changed after it was logged"):
        verify_package(other, expected_manifest_digest=manifest.digest)


def test_an_untrusted_type_is_refused_by_name_until_trusted(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    x, y = _frame()
    model = make_pipeline(Doubler(), LogisticRegression()).fit(x, y)
    save_package(model, tmp_path / "pkg", input_example=x)
    name = f"{__name__}.Doubler"
    with pytest.raises(UntrustedTypesError) as caught:
        load_package(tmp_path / "pkg")
    assert caught.value.types == [name]
    assert f'trusted=["{name}"] to load_model' in caught.value.message
    assert f"--trust {name}" in caught.value.message
    loaded = load_package(tmp_path / "pkg", trusted=[name])
    assert (loaded.predict(x) == model.predict(x)).all()
    assert (load_package(tmp_path / "pkg", trusted=name).predict(x) == model.predict(x)).all()


def test_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"is not a model package: it has no model\.json"):
        read_manifest(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": 99, "flavor": "sklearn"}))
    with pytest.raises(InvalidInputError, match="format 99, newer than this loopml reads"):
        read_manifest(tmp_path)
