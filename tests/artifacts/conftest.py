"""Fixtures for the artifact tests: a real S3-compatible server and one store per backend.

``blob_store`` is parametrized over every backend (Hamilton's ``IMPLEMENTATIONS``
pattern), so a test that takes it runs once per backend; the S3 server starts only
when an ``s3`` case first needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer

from loopml._ids import new_id
from loopml.artifacts import ArtifactStore, BlobStore
from loopml.artifacts.local import LocalBlobStore
from loopml.artifacts.memory import MemoryBlobStore
from loopml.artifacts.s3 import S3BlobStore

IMPLEMENTATIONS = ["memory", "local", "s3"]
_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "loopml-test",
    "AWS_SECRET_ACCESS_KEY": "loopml-test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask a cloud metadata service for creds
}


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server on loopback with one bucket."""

    endpoint_url: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, Any]:
        """What an ``S3BlobStore`` needs to talk to this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": _DUMMY_ENV["AWS_ACCESS_KEY_ID"],
            "secret": _DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
            "client_kwargs": {"region_name": _DUMMY_ENV["AWS_DEFAULT_REGION"]},
        }

    def store(self, prefix: str | None = None) -> S3BlobStore:
        """A new, empty store under a fresh prefix (or ``prefix``)."""
        return S3BlobStore(self.bucket, prefix or f"t-{new_id().lower()}", **self.storage_options)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 and a free port, with the bucket ``loopml-test``."""
    werkzeug_log = logging.getLogger("werkzeug")
    old_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # one access-log line per request otherwise
    with pytest.MonkeyPatch.context() as env:
        for name, value in _DUMMY_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            s3 = S3Server(endpoint_url=f"http://{host}:{port}", bucket="loopml-test")
            client = boto3.client(
                "s3", endpoint_url=s3.endpoint_url, region_name=_DUMMY_ENV["AWS_DEFAULT_REGION"]
            )
            client.create_bucket(Bucket=s3.bucket)
            client.close()
            yield s3
        finally:
            server.stop()
            werkzeug_log.setLevel(old_level)


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
