"""One stored file of a version as a verified stream, and a version's recorded source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import DigestMismatchError, NotFoundError


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def test_a_stored_file_is_opened_and_verified(client: DatasetClient, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "deep").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "deep" / "b.txt").write_bytes(b"beta")
    version = client.log("images", folder)
    entry, stream = client.open_file(version.uri, "deep/b.txt")
    with stream:
        assert stream.read() == b"beta"
    assert (entry.path, entry.size) == ("deep/b.txt", 4)
    with pytest.raises(NotFoundError, match=r"a\.txt"):  # the error lists the files there are
        client.open_file(version.uri, "c.txt")
    # A stored blob changed behind loopml's back is caught as it is read.
    blob = next(p for p in client.settings.home.rglob(entry.digest[2:]) if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(b"BETA")
    entry, stream = client.open_file(version.uri, "deep/b.txt")
    with pytest.raises(DigestMismatchError), stream:
        stream.read()


def test_a_source_label_is_recorded_instead_of_the_path(
    client: DatasetClient, tmp_path: Path
) -> None:
    path = tmp_path / "upload.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(path)
    version = client.log("t", path, source_label="/laptop/train.parquet")
    assert version.source == "/laptop/train.parquet"
    assert client.get(version.uri).source == "/laptop/train.parquet"


def test_a_version_round_trips_through_plain_data(client: DatasetClient) -> None:
    from loopml.data.models import DatasetVersion
    from loopml.errors import InvalidInputError

    version = client.log("t", pd.DataFrame({"x": [1.5, None]}))
    assert DatasetVersion.from_dict(version.to_dict()) == version
    with pytest.raises(InvalidInputError, match="digest"):
        DatasetVersion.from_dict({k: v for k, v in version.to_dict().items() if k != "digest"})


def test_an_input_without_a_context_is_what_load_records(
    client: DatasetClient, settings: Settings
) -> None:
    from loopml.tracking import TrackingClient

    version = client.log("t", pd.DataFrame({"x": [1]}))
    tracking = TrackingClient(settings, capture_env=False)
    run_id = tracking.create_run("x").id
    client.log_input(version, run_id, None)
    client.log_input(version, run_id, None)  # once only
    assert [(i.uri, i.context) for i in tracking.get_run(run_id).inputs] == [(version.uri, None)]
    tracking.close()
