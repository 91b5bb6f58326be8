"""Fixtures for the artifact tests: a real S3-compatible server and one store per backend.

``blob_store`` is parametrized over every backend (Hamilton's ``IMPLEMENTATIONS``
pattern), so a test that takes it runs once per backend; the S3 server starts only
when an ``s3`` case first needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore, BlobStore
from loopml.artifacts.local import LocalBlobStore
from loopml.artifacts.memory import MemoryBlobStore

IMPLEMENTATIONS = ["memory", "local", "s3"]
_FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], BlobStore]] = {
    "memory": lambda request, tmp_path: MemoryBlobStore(),
    "local": lambda request, tmp_path: LocalBlobStore(tmp_path / "store"),
    "s3": lambda request, tmp_path: request.getfixturevalue("s3_server").store(),
}


@pytest.fixture(params=IMPLEMENTATIONS)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A fresh, empty blob store of each backend in turn."""
    return _FACTORIES[request.param](request, tmp_path)


@pytest.fixture
def artifact_store(blob_store: BlobStore) -> ArtifactStore:
    """An ``ArtifactStore`` over each backend in turn."""
    return ArtifactStore(blob_store)


@pytest.fixture
def local_store(tmp_path: Path) -> ArtifactStore:
    """An ``ArtifactStore`` over a local directory, for tests that touch the files."""
    return ArtifactStore(LocalBlobStore(tmp_path / "store"))
