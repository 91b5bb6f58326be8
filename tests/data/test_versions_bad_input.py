"""Wrong arguments to the dataset API are clear errors that write nothing, not tracebacks."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import InvalidInputError, NotFoundError, UnsafePathError


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    datasets = DatasetClient(settings)
    datasets.log("t", pd.DataFrame({"a": [1, 2]}))
    return datasets


@pytest.mark.parametrize("format", [None, "parquet", "csv"])
def test_download_to_a_file_is_refused_and_leaves_it_alone(
    client: DatasetClient, tmp_path: Path, format: str | None
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    victim = etc / "hostname"  # stands for /etc/hostname: any file that is not a folder
    victim.write_text("precious\n")
    with pytest.raises(InvalidInputError, match=r"hostname' is a file, not a folder; give a"):
        client.download("t", victim, format=format)
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in etc.iterdir()) == ["hostname"]


def test_download_to_etc_hostname_is_refused_before_anything_is_written(
    client: DatasetClient,
) -> None:
    before = Path("/etc/hostname").read_bytes()
    with pytest.raises(InvalidInputError, match="'/etc/hostname' is a file, not a folder"):
        client.download("t", "/etc/hostname")
    assert Path("/etc/hostname").read_bytes() == before


@pytest.mark.parametrize("format", ["parquet", "csv"])
def test_download_refuses_a_planted_symlink_instead_of_writing_through_it(
    client: DatasetClient, tmp_path: Path, format: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / f"t.{format}").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="is a symbolic link inside"):
        client.download("t", out, format=format)
    assert victim.read_text() == "precious\n"
    assert [p.name for p in out.iterdir()] == [f"t.{format}"]
    assert (out / f"t.{format}").is_symlink()


def test_download_needs_a_path(client: DatasetClient) -> None:
    with pytest.raises(InvalidInputError, match="dest must be the path of a folder"):
        client.download("t", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, 5, ["t"]])
def test_a_dataset_name_must_be_text(client: DatasetClient, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="a dataset is named by a string"):
        client.get(bad)  # type: ignore[arg-type]


def test_load_dataset_none_is_a_clear_error(tmp_path: Path) -> None:
    loopml.configure(home=str(tmp_path / "home"))
    with pytest.raises(InvalidInputError, match="a dataset is named by a string, got NoneType"):
        loopml.load_dataset(None)  # type: ignore[arg-type]


def test_a_huge_dataset_name_is_quoted_shortened(client: DatasetClient) -> None:
    with pytest.raises((NotFoundError, InvalidInputError)) as caught:
        client.get("d" * 100_000)
    assert "…' (100000 characters)" in str(caught.value)
    assert len(str(caught.value)) < 500


def test_a_converting_download_never_writes_through_a_planted_partial_file(
    client: DatasetClient, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    # The name the conversion once wrote to first: predictable, so a link could wait there.
    (out / f".t.csv.{os.getpid()}.partial").symlink_to(victim)
    written = client.download("t", out, format="csv")
    assert written.read_text().splitlines() == ['"a"', "1", "2"]
    assert victim.read_text() == "precious\n"
