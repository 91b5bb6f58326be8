"""Registry content for the server tests: minimal packages registered with the real client."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from loopml.registry import ModelVersion, RegistryClient

_COUNTER = itertools.count()


def write_package(folder: Path, payload: bytes) -> Path:
    """A package folder the registry accepts (a made-up flavor: no ML library needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    for name, data in {"model.bin": payload, "requirements.txt": b"numpy==2.4.0\n"}.items():
        (folder / name).write_bytes(data)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = {
        "format": 1, "flavor": "sklearn", "flavor_options": {}, "model_class": "tests.Fake",
        "signature": None, "input_example": None, "requirements": ["numpy==2.4.0"],
        "python_version": "3.11.0", "loopml_version": "0.1.0", "source_run": None,
        "created_at": 0, "predict_proba": False, "files": files,
    }  # fmt: skip
    (folder / "model.json").write_text(json.dumps(manifest, sort_keys=True))
    return folder


def add_version(registry: RegistryClient, name: str, tmp_path: Path) -> ModelVersion:
    """Register a new version of ``name`` from a fresh package folder."""
    n = next(_COUNTER)
    return registry.register(write_package(tmp_path / f"pkg-{n}", f"w{n}".encode()), name)


def evaluate(registry: RegistryClient, name: str, version: int, *, passed: bool = True) -> str:
    """Store an evaluation with one gate and a slice, moving the version's status."""
    return registry.save_evaluation(
        {
            "model_uri": f"models:/{name}/{version}",
            "data": "datasets:/churn/1",
            "target": "left",
            "task": "classification",
            "metrics": {"accuracy": 0.93 if passed else 0.5},
            "slices": {"region": {"eu": {"accuracy": 0.91, "rows": 10}}},
            "gates": [{"expression": "accuracy >= 0.9", "passed": passed, "skipped": False,
                       "reason": None if passed else "accuracy was 0.5"}],
            "passed": passed,
        }
    )  # fmt: skip
