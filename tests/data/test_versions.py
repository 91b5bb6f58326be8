"""Dataset versions on real SQLite and PostgreSQL stores and a real local artifact store."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.config import Settings
from loopml.data.versions import DatasetClient, parse_target
from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError
from loopml.store.audit import history
from loopml.store.lineage import edges_of
from loopml.tracking import TrackingClient


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def blob_count(client: DatasetClient) -> int:
    return len(list(client.artifact_store.blob_store.iter_blobs()))


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(5, dtype="int64"),
            "score": [0.5, np.nan, 1.5, 2.5, 3.5],
            "name": ["a", "b", None, "d", "e"],
            "flag": [True, False, True, True, False],
            "kind": pd.Categorical(["x", "y", "x", "x", "y"]),
            "at": pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC"),
        }
    )


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# -- same content, same version --------------------------------------------------------


def test_same_dataframe_twice_is_one_version(client: DatasetClient) -> None:
    first = client.log("table", frame())
    again = client.log("table", frame())
    assert again == first
    assert first.version == 1
    assert first.uri == "datasets:/table/1"
    assert [v.version for v in client.list_versions("table")] == [1]


def test_dataframe_arrow_and_parquet_file_are_one_version(
    client: DatasetClient, tmp_path: Path
) -> None:
    df = frame()
    df.to_parquet(tmp_path / "t.parquet")  # pandas' own writer, its own metadata
    first = client.log("table", df)
    assert client.log("table", pa.Table.from_pandas(df, preserve_index=False)) == first
    assert client.log("table", tmp_path / "t.parquet") == first
    assert client.log("table", str(tmp_path / "t.parquet")) == first
    assert len(client.list_versions("table")) == 1


def test_same_csv_twice_is_one_version_holding_the_original_bytes(
    client: DatasetClient, tmp_path: Path
) -> None:
    csv = tmp_path / "iris.csv"
    csv.write_text("sepal,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n")
    first = client.log("iris", csv)
    assert client.log("iris", csv) == first
    assert (first.kind, first.format, first.row_count) == ("table", "csv", 3)
    assert first.schema == {
        "columns": [
            {"name": "sepal", "type": "double", "nullable": True},
            {"name": "species", "type": "string", "nullable": True},
        ]
    }
    written = client.download(first.uri, tmp_path / "out")
    assert written.name == "iris.csv"
    assert written.read_bytes() == csv.read_bytes()
    loaded = client.load(first.uri)
    assert isinstance(loaded, pd.DataFrame)
    assert loaded["species"].tolist() == ["setosa", "setosa", "virginica"]


def test_csv_can_be_converted_to_parquet(client: DatasetClient, tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    frame()[["id", "score"]].to_csv(csv, index=False)
    version = client.log("t", csv, format="parquet")
    assert version.format == "parquet"
    loaded = client.load(version.uri)
    pd.testing.assert_frame_equal(loaded, frame()[["id", "score"]])


def test_same_folder_twice_is_one_version(client: DatasetClient, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", {"a.bin": b"a" * 100, "sub/b.bin": b"b"})
    first = client.log("imgs", folder)
    assert client.log("imgs", folder) == first
    assert (first.kind, first.format, first.file_count, first.byte_size) == (
        "files", "files", 2, 101,
    )  # fmt: skip
    assert first.row_count is None
    assert [e.path for e in client.files(first.uri)] == ["a.bin", "sub/b.bin"]


# -- new content, new version ----------------------------------------------------------


def test_a_changed_table_is_version_2_and_latest(client: DatasetClient) -> None:
    df = frame()
    client.log("t", df)
    changed = df.assign(score=df["score"] * 2)
    second = client.log("t", changed)
    assert second.version == 2
    assert client.get("datasets:/t@latest") == second
    assert client.get("t") == second
    assert client.get("t@latest") == second
    assert client.get("t", 1).version == 1
    pd.testing.assert_frame_equal(client.load("datasets:/t/1"), df)
    pd.testing.assert_frame_equal(client.load("t/2"), changed)


def test_load_returns_exactly_the_data(client: DatasetClient) -> None:
    df = frame()
    version = client.log("t", df)
    loaded = client.load(version.uri)
    pd.testing.assert_frame_equal(loaded, df)
    assert loaded.dtypes.to_dict() == df.dtypes.to_dict()
    table = client.load(version.uri, as_arrow=True)
    assert isinstance(table, pa.Table)
    expected = pa.Table.from_pandas(df, preserve_index=False)
    assert table.equals(expected)


def test_a_meaningful_index_is_kept(client: DatasetClient) -> None:
    df = frame().set_index("id")
    version = client.log("t", df)
    assert version.schema is not None
    assert version.schema["index_columns"] == ["id"]
    pd.testing.assert_frame_equal(client.load(version.uri), df)
    # the same values with 'id' as a plain column are other content
    assert client.log("t", frame()).version == 2


def test_table_version_records_schema_profile_and_who(
    client: DatasetClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_USER", "ada")
    version = client.log("t", frame(), description="five rows")
    assert version.row_count == 5
    assert version.file_count == 1
    assert version.created_by == "ada"
    assert version.source == "pandas.DataFrame"
    assert version.profile is not None
    assert version.profile["row_count"] == 5
    assert version.profile["columns"]["score"]["nulls"] == 1
    assert [c["name"] for c in version.schema["columns"]] == list(frame().columns)  # type: ignore[index]
    [dataset] = client.list_datasets()
    assert (dataset.name, dataset.description, dataset.latest_version) == ("t", "five rows", 1)
    with client.store.read() as conn:
        [row] = history(conn, "dataset_version", "t/1")
    assert (row["action"], row["actor"]) == ("dataset.log", "ada")
    assert client.get("t") == version  # what log returned is what is stored


def test_versions_are_immutable_snapshots(client: DatasetClient, tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("x\n1\n")
    first = client.log("t", csv)
    csv.write_text("x\n2\n")
    client.log("t", csv)
    assert client.load(first.uri)["x"].tolist() == [1]


# -- folders ---------------------------------------------------------------------------


def test_an_unchanged_file_is_stored_once(client: DatasetClient, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", {"a.txt": b"same", "b.txt": b"same", "c.txt": b"other"})
    client.log("d", folder)
    assert blob_count(client) == 2  # a.txt and b.txt share their content
    (folder / "c.txt").write_bytes(b"changed")
    (folder / "d.txt").write_bytes(b"new")
    second = client.log("d", folder)
    assert second.version == 2
    assert blob_count(client) == 4  # only the two new contents were added


def test_a_folder_loads_into_the_cache_and_is_reused(client: DatasetClient, tmp_path: Path) -> None:
    files = {"a.txt": b"alpha", "deep/er/b.txt": b"beta"}
    version = client.log("d", make_folder(tmp_path / "d", files))
    loaded = client.load(version.uri)
    assert isinstance(loaded, Path)
    assert loaded == (client.settings.home / "cache" / "datasets" / version.digest).absolute()
    assert {p.relative_to(loaded).as_posix(): p.read_bytes() for p in _files(loaded)} == files
    before = os.stat(loaded / "a.txt").st_mtime_ns
    assert client.load(version.uri) == loaded
    assert os.stat(loaded / "a.txt").st_mtime_ns == before  # reused, not rewritten


def test_a_damaged_materialised_file_is_rewritten(client: DatasetClient, tmp_path: Path) -> None:
    version = client.log("d", make_folder(tmp_path / "d", {"a.txt": b"alpha"}))
    dest = tmp_path / "out"
    client.load(version.uri, dest=dest)
    (dest / "a.txt").write_bytes(b"tampered")
    (dest / "extra.txt").write_bytes(b"mine")
    assert client.load(version.uri, dest=dest) == dest.absolute()
    assert (dest / "a.txt").read_bytes() == b"alpha"
    assert (dest / "extra.txt").read_bytes() == b"mine"  # not part of the version: left alone


def test_download_refuses_to_write_through_a_linked_folder(
    client: DatasetClient, tmp_path: Path
) -> None:
    version = client.log("d", make_folder(tmp_path / "d", {"deep/b.txt": b"beta"}))
    dest, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir()
    (dest / "deep").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="deep is a symbolic link inside"):
        client.download(version.uri, dest)
    assert list(elsewhere.iterdir()) == []


def test_a_single_file_can_be_versioned_as_files(client: DatasetClient, tmp_path: Path) -> None:
    model = tmp_path / "weights.bin"
    model.write_bytes(b"\x00\x01")
    version = client.log("w", model, format="files")
    assert (version.kind, version.file_count) == ("files", 1)
    assert (
        client.load(version.uri, dest=tmp_path / "o") / "weights.bin"
    ).read_bytes() == b"\x00\x01"


# -- lineage ---------------------------------------------------------------------------


def test_lineage_edges_link_runs(client: DatasetClient, settings: Settings) -> None:
    tracking = TrackingClient(settings, capture_env=False)
    try:
        run = tracking.create_run("exp")
        consumed = client.log("t", frame(), run_id=run.id)
        produced = client.log("u", frame().head(2), run_id=run.id, role="output")
        client.log("t", frame(), run_id=run.id)  # same version again: no second edge
    finally:
        tracking.close()
    with client.store.read() as conn:
        edges = edges_of(conn, ("run", run.id), "out")
    assert [(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges] == [
        ("consumed", "dataset_version", "t/1"),
        ("produced", "dataset_version", "u/1"),
    ]
    assert consumed.run_id == run.id
    assert produced.run_id == run.id


def test_an_unknown_run_is_refused_before_anything_is_written(client: DatasetClient) -> None:
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        client.log("t", frame(), run_id="nope")
    assert client.list_datasets() == []


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ([1, 2, 3], InvalidInputError, "cannot version a builtins.list"),
        ("missing.csv", NotFoundError, "path '.*missing.csv' not found"),
        (pd.DataFrame({"x": [1, "a", 2.5]}), InvalidInputError, "single type"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), InvalidInputError, "repeated column"),
    ],
)
def test_bad_sources_are_refused_and_leave_nothing(
    client: DatasetClient, source: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        client.log("t", source)
    assert client.list_datasets() == []
    assert blob_count(client) == 0


def test_empty_folder_unreadable_files_and_unknown_names_are_refused(
    client: DatasetClient, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="has no files"):
        client.log("t", tmp_path / "empty")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b"a,b\n1,2\n3,4,5\n")  # a row with three fields
    with pytest.raises(InvalidInputError, match="not a readable CSV file"):
        client.log("t", bad_csv)
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="not a readable CSV file"):
        client.log("t", empty_csv)
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("hello")
    with pytest.raises(InvalidInputError, match="not a readable Parquet file"):
        client.log("t", not_parquet)
    other = tmp_path / "notes.txt"
    other.write_text("hi")
    with pytest.raises(InvalidInputError, match="cannot tell the format"):
        client.log("t", other)
    with pytest.raises(InvalidInputError, match="unknown dataset format 'xlsx'"):
        client.log("t", frame(), format="xlsx")
    with pytest.raises(InvalidInputError, match="stored as Parquet"):
        client.log("t", frame(), format="csv")
    assert client.list_datasets() == []


@pytest.mark.parametrize("name", ["", "a b", "../x", "x/1", "-x", "a" * 251])
def test_bad_dataset_names_are_refused(client: DatasetClient, name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid dataset name"):
        client.log(name, frame())


def test_bad_role_is_refused(client: DatasetClient) -> None:
    with pytest.raises(InvalidInputError, match="role must be 'input'"):
        client.log("t", frame(), role="both")  # type: ignore[arg-type]


def test_special_files_inside_a_folder_are_refused(client: DatasetClient, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", {"a.txt": b"a"})
    os.mkfifo(folder / "pipe")
    with pytest.raises(InvalidInputError, match="not a regular file"):
        client.log("d", folder)


def test_symlinks_inside_a_folder_are_refused(client: DatasetClient, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", {"a.txt": b"a"})
    (folder / "link").symlink_to(folder / "a.txt")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        client.log("d", folder)
    assert client.list_datasets() == []


def test_unknown_datasets_and_versions_say_what_exists(client: DatasetClient) -> None:
    client.log("churn", frame())
    client.log("churn", frame().head(3))
    with pytest.raises(NotFoundError, match="did you mean: churn"):
        client.get("chrun")
    with pytest.raises(NotFoundError, match="versions of 'churn': 1, 2"):
        client.load("datasets:/churn/7")
    with pytest.raises(NotFoundError, match="dataset 'nothing' not found"):
        client.list_versions("nothing")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runs:/01J0", "is a runs URI"),
        ("datasets:/x@prod", "no alias 'prod'"),
        ("datasets:/x/1/file.csv", "names a file inside"),
        ("a/b/c", "is not a dataset name or URI"),
        ("datasets:x", "is not a dataset name or URI"),
        ("", "give a dataset name"),
    ],
)
def test_bad_uris_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_target(text)


def test_version_argument_must_agree_with_the_uri() -> None:
    assert parse_target("datasets:/x/2", 2) == ("x", 2)
    with pytest.raises(InvalidInputError, match="names version 2, not 3"):
        parse_target("datasets:/x/2", 3)
    with pytest.raises(InvalidInputError, match="start at 1"):
        parse_target("x", 0)


def test_parquet_written_by_loopml_is_deterministic(client: DatasetClient, tmp_path: Path) -> None:
    version = client.log("t", frame())
    [entry] = client.files(version.uri)
    first = client.artifact_store.get_bytes(entry.digest)
    pq.write_table(pq.read_table(pa.BufferReader(first)), tmp_path / "re.parquet")
    other = DatasetClient(Settings.load(home=tmp_path / "h2", db_url=f"sqlite:///{tmp_path}/h2.db"))
    again = other.log("t", frame())
    [entry2] = other.files(again.uri)
    assert entry2.digest == entry.digest  # byte-identical Parquet from the same table
    assert again.digest == version.digest


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_one_parquet_file_in_two_datasets(client: DatasetClient, tmp_path: Path) -> None:
    frame().to_parquet(tmp_path / "t.parquet")
    first = client.log("a", tmp_path / "t.parquet")
    second = client.log("b", tmp_path / "t.parquet")  # digest known from the cache: re-read
    assert (first.digest, first.name, second.name) == (second.digest, "a", "b")
    assert client.files(first.uri) == client.files(second.uri)
    pd.testing.assert_frame_equal(client.load(second.uri), frame())


def test_a_linked_source_is_followed_but_links_inside_are_not(
    client: DatasetClient, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "real", {"a.txt": b"a"})
    (tmp_path / "alias").symlink_to(folder)
    (tmp_path / "file.csv").write_text("x\n1\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "file.csv")
    assert client.log("d", tmp_path / "alias") == client.log("d", folder)
    assert client.log("t", tmp_path / "link.csv") == client.log("t", tmp_path / "file.csv")
