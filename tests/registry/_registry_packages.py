"""Minimal model packages for registry tests: a ``model.json`` and one file, no ML library.

The registry only reads ``model.json`` and checks file digests, so a package with a
made-up flavor is enough to test registration, aliases, governance and events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The log_package fixture: logs a minimal package in a new run, returns its runs:/ URI.
LogPackage = Callable[..., str]


def write_package(
    folder: Path,
    payload: bytes = b"weights",
    *,
    flavor: str = "sklearn",
    lie_about: str | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Write a package folder; ``lie_about`` names a file whose listed digest is wrong."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    for name, data in {"model.bin": payload, "requirements.txt": b"numpy==2.4.0\n"}.items():
        (folder / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if name == lie_about:
            digest = "0" * 64
        files[name] = {"sha256": digest, "size": len(data)}
    for name, data in (extra or {}).items():  # beside the package, not listed in model.json
        (folder / name).write_bytes(data)
    manifest = {
        "format": 1,
        "flavor": flavor,
        "flavor_options": {},
        "model_class": "tests.FakeModel",
        "signature": None,
        "input_example": None,
        "requirements": ["numpy==2.4.0"],
        "python_version": "3.11.0",
        "loopml_version": "0.1.0",
        "source_run": None,
        "created_at": 0,
        "predict_proba": False,
        "files": files,
    }
    (folder / "model.json").write_text(json.dumps(manifest, sort_keys=True))
    return folder


def manifest_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.json").read_bytes()).hexdigest()
