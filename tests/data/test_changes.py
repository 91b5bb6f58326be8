"""``changed``: drift of a source from a dataset's latest version, and the digest cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data.changes import changed
from loopml.data.versions import DatasetClient
from loopml.errors import NotFoundError

HOUR_AGO = time.time() - 3600


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def quiet_folder(root: Path, files: dict[str, bytes]) -> Path:
    """Files last modified an hour ago, so their digests may be cached at once."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    return root


def test_an_unchanged_folder_is_not_hashed_again(client: DatasetClient, tmp_path: Path) -> None:
    folder = quiet_folder(tmp_path / "d", {"a.txt": b"a", "b/c.txt": b"c", "d.txt": b"d"})
    version = client.log("d", folder)
    report = client.changed("d", folder)
    assert not report
    assert (report.changed, report.version, report.uri) == (False, 1, version.uri)
    assert report.digest == report.latest_digest == version.digest
    assert (report.hashed_files, report.cached_files) == (0, 3)  # log filled the cache
    assert (report.added, report.removed, report.modified) == ((), (), ())


def test_added_removed_and_modified_files_are_reported(
    client: DatasetClient, tmp_path: Path
) -> None:
    folder = quiet_folder(tmp_path / "d", {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})
    client.log("d", folder)
    (folder / "a.txt").write_bytes(b"A")
    (folder / "b.txt").unlink()
    quiet_folder(folder, {"new/e.txt": b"e"})
    report = client.changed("d", folder)
    assert report
    assert report.added == ("new/e.txt",)
    assert report.removed == ("b.txt",)
    assert report.modified == ("a.txt",)
    assert report.hashed_files == 2  # the edited and the new file; c.txt came from the cache
    assert report.cached_files == 1


def test_a_changed_file_of_the_same_size_and_mtime_is_noticed(
    client: DatasetClient, tmp_path: Path
) -> None:
    folder = quiet_folder(tmp_path / "d", {"a.txt": b"1234"})
    client.log("d", folder)
    (folder / "a.txt").write_bytes(b"abcd")
    os.utime(folder / "a.txt", (HOUR_AGO, HOUR_AGO))  # same size, same mtime: ctime moved
    report = client.changed("d", folder)
    assert report.modified == ("a.txt",)
    assert report.hashed_files == 1


def test_recently_modified_files_are_always_hashed(client: DatasetClient, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "fresh.txt").write_bytes(b"just written")
    client.log("d", folder)
    for _ in range(2):  # a write within the same clock tick could keep the timestamps
        report = client.changed("d", folder)
        assert not report.changed
        assert report.hashed_files == 1


def test_tables_compare_by_content(client: DatasetClient, tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [1, 2, 3]})
    client.log("t", df)
    assert not client.changed("t", df.copy())
    assert client.changed("t", df.assign(x=[1, 2, 4])).changed
    df.to_parquet(tmp_path / "t.parquet")
    assert not client.changed("t", tmp_path / "t.parquet")


def test_csv_files_compare_by_bytes(client: DatasetClient, tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("x\n1\n")
    client.log("t", csv)
    assert not client.changed("t", csv)
    csv.write_text("x\n2\n")
    report = client.changed("t", csv)
    assert report.changed
    assert report.modified == ()  # file lists are for folders


def test_it_compares_with_the_latest_version(client: DatasetClient) -> None:
    first, second = pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [2]})
    client.log("t", first)
    client.log("t", second)
    assert client.changed("t", first).changed  # it is version 1, not the latest
    assert not client.changed("t", second).changed


def test_the_module_function_opens_the_store_from_settings(
    settings: Settings, tmp_path: Path
) -> None:
    folder = quiet_folder(tmp_path / "d", {"a.txt": b"a"})
    DatasetClient(settings).log("d", folder)
    assert not changed("d", folder, settings=settings)
    with pytest.raises(NotFoundError, match="did you mean: d"):
        changed("dd", folder, settings=settings)


def test_a_broken_cache_only_costs_hashing(settings: Settings, tmp_path: Path) -> None:
    client = DatasetClient(settings)
    client.cache.path.parent.mkdir(parents=True, exist_ok=True)
    client.cache.path.mkdir()  # a folder where the SQLite file should be
    folder = quiet_folder(tmp_path / "d", {"a.txt": b"a", "b.txt": b"b"})
    version = client.log("d", folder)
    report = client.changed("d", folder)
    assert not report.changed
    assert (report.hashed_files, report.cached_files) == (2, 0)
    assert client.log("d", folder) == version


def test_progress_is_reported_in_bytes(client: DatasetClient, tmp_path: Path) -> None:
    folder = quiet_folder(tmp_path / "d", {"a.bin": b"a" * 1000, "b.bin": b"b" * 500})
    calls: list[tuple[int, int]] = []
    client.log("d", folder, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3000, 3000)  # 1500 bytes hashed + 1500 bytes stored
    assert all(done <= total for done, total in calls)
    calls.clear()
    client.changed("d", folder, progress=lambda done, total: calls.append((done, total)))
    assert calls == []  # everything came from the cache: nothing to hash
