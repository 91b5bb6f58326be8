"""``diff``: schema, rows, files and statistics between two stored versions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.config import Settings
from loopml.data.diff import compare_manifests
from loopml.data.models import StatChange, TypeChange
from loopml.data.versions import DatasetClient
from loopml.errors import NotFoundError


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def test_table_diff_reports_schema_rows_and_statistics(client: DatasetClient) -> None:
    before = pd.DataFrame({"age": [20, 30, 40], "city": ["a", "b", None], "old": [1, 2, 3]})
    after = pd.DataFrame(
        {"age": [20.0, 30.0, 40.0, 50.0], "city": ["a", "b", "c", "d"], "new": [True] * 4}
    )
    client.log("people", before)
    client.log("people", after)
    diff = client.diff("datasets:/people/1", "people")
    assert (diff.a, diff.b, diff.identical) == ("datasets:/people/1", "datasets:/people/2", False)
    assert (diff.rows_a, diff.rows_b, diff.row_delta) == (3, 4, 1)
    assert diff.added_columns == ("new",)
    assert diff.removed_columns == ("old",)
    assert diff.type_changes == (TypeChange("age", "int64", "double"),)
    assert diff.schema_changed
    stats = {(s.column, s.statistic): s for s in diff.stat_changes}
    assert stats["age", "mean"] == StatChange("age", "mean", 30.0, 35.0, 5.0)
    assert stats["age", "max"] == StatChange("age", "max", 40, 50.0, 10.0)
    assert stats["city", "null_fraction"].delta == pytest.approx(-1 / 3)
    assert stats["city", "distinct"] == StatChange("city", "distinct", 2, 4, 2.0)
    assert ("age", "min") not in stats  # unchanged statistics are not listed
    assert diff.files_added == diff.files_removed == diff.files_changed == ()
    json.dumps(diff.to_dict(), allow_nan=False)


def test_folder_diff_lists_files(client: DatasetClient, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("keep.txt", "edit.txt", "drop.txt"):
        (folder / name).write_text(name)
    client.log("d", folder)
    (folder / "edit.txt").write_text("edited")
    (folder / "drop.txt").unlink()
    (folder / "add.txt").write_text("added")
    client.log("d", folder)
    diff = client.diff("datasets:/d/1", "datasets:/d/2")
    assert diff.files_added == ("add.txt",)
    assert diff.files_removed == ("drop.txt",)
    assert diff.files_changed == ("edit.txt",)
    assert diff.row_delta is None
    assert not diff.schema_changed
    assert diff.to_dict()["files_added"] == ("add.txt",)


def test_a_version_is_identical_to_itself(client: DatasetClient) -> None:
    client.log("t", pd.DataFrame({"x": [1]}))
    diff = client.diff("t", "datasets:/t/1")
    assert diff.identical
    assert diff.stat_changes == ()
    assert diff.row_delta == 0


def test_diff_of_unknown_versions_says_which(client: DatasetClient) -> None:
    client.log("t", pd.DataFrame({"x": [1]}))
    with pytest.raises(NotFoundError, match="versions of 't': 1"):
        client.diff("datasets:/t/1", "datasets:/t/2")


manifests = st.dictionaries(
    st.text("abc/", min_size=1, max_size=4), st.sampled_from(["1", "2", "3"]), max_size=6
)


@given(manifests, manifests)
def test_compare_manifests_partitions_the_paths(old: dict[str, str], new: dict[str, str]) -> None:
    added, removed, modified = compare_manifests(old, new)
    assert set(added) == new.keys() - old.keys()
    assert set(removed) == old.keys() - new.keys()
    assert all(old[p] != new[p] for p in modified)
    unchanged = (old.keys() & new.keys()) - set(modified)
    assert all(old[p] == new[p] for p in unchanged)
    assert list(added) == sorted(added)
