"""Recording content already in the artifact store as a run's file (uploads that reached
the store another way: a presigned PUT, a server's staged upload)."""

from __future__ import annotations

import pytest

from loopml.artifacts import StoredFile
from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError
from loopml.tracking import TrackingClient


def test_stored_content_is_recorded_under_a_safe_path(client: TrackingClient) -> None:
    run_id = client.create_run("a").id
    artifacts = client.run_artifacts
    stored = artifacts.artifact_store.put_bytes(b"weights")
    assert artifacts.log_stored(run_id, "model/w.bin", stored) == "model/w.bin"
    assert artifacts.read_bytes(run_id, "model/w.bin") == b"weights"
    entry = artifacts.file_entry(run_id, "model/w.bin")
    assert (entry.size, entry.digest) == (7, stored.digest)

    with pytest.raises(NotFoundError, match="blob"):
        artifacts.log_stored(run_id, "x.bin", StoredFile(digest="ab" * 32, size=1))
    with pytest.raises(UnsafePathError):
        artifacts.log_stored(run_id, "../x.bin", stored)
    with pytest.raises(InvalidInputError, match="name a file"):
        artifacts.log_stored(run_id, "", stored)
    with pytest.raises(NotFoundError):
        artifacts.log_stored("no-such-run", "x.bin", stored)
    with pytest.raises(NotFoundError, match="artifact file"):
        artifacts.file_entry(run_id, "model")  # a folder is not a file
