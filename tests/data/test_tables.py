"""Tables through log/load: column names that round-trip or are refused, text encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import InvalidInputError


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def test_integer_column_names_round_trip(client: DatasetClient) -> None:
    frame = pd.DataFrame(np.arange(6).reshape(3, 2))  # columns 0, 1
    mixed = pd.DataFrame({3: [1.5], "b": ["x"], np.int64(7): [2]})
    for name, original in (("ints", frame), ("mixed", mixed)):
        version = client.log(name, original)
        back = client.load(version.uri)
        assert list(back.columns) == list(original.columns)
        pd.testing.assert_frame_equal(back, original)
    # 0 and "0" are different names: different content, different digests
    texts = client.log("texts", frame.set_axis(["0", "1"], axis=1))
    assert texts.digest != client.get("ints").digest
    assert list(client.load(texts.uri).columns) == ["0", "1"]


def test_column_names_that_cannot_round_trip_are_refused(client: DatasetClient) -> None:
    columns = pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    multi = pd.DataFrame(np.arange(4).reshape(2, 2), columns=columns)
    with pytest.raises(InvalidInputError, match=r"MultiIndex columns .*flatten them"):
        client.log("multi", multi)
    with pytest.raises(
        InvalidInputError, match=r"column name 1.5 \(float\) is neither text nor an integer"
    ):
        client.log("floats", pd.DataFrame({1.5: [1]}))
    with pytest.raises(InvalidInputError, match=r"both 1 and '1'"):
        client.log("clash", pd.DataFrame({1: [1], "1": [2]}))
    assert client.list_datasets() == []


LATIN_1 = "name,city\nJosé,Zürich\nÅsa,Malmö\n".encode("latin-1")


def test_a_latin_1_csv_is_refused_naming_the_encoding_option(
    client: DatasetClient, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(LATIN_1)
    with pytest.raises(InvalidInputError) as caught:
        client.log("people", path)
    message = str(caught.value)
    assert "is not UTF-8 text" in message
    assert "encoding='latin-1'" in message
    assert "--encoding" in message
    assert client.list_datasets() == []


def test_a_csv_in_another_encoding_is_read_as_text_with_encoding(
    client: DatasetClient, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(LATIN_1)
    version = client.log("people", path, encoding="latin-1")
    assert version.schema is not None
    assert [c["type"] for c in version.schema["columns"]] == ["string", "string"]
    back = client.load(version.uri)
    assert back["name"].tolist() == ["José", "Åsa"]
    assert back["city"].tolist() == ["Zürich", "Malmö"]
    assert client.log("people", path, encoding="latin-1") == version  # same content
    with pytest.raises(InvalidInputError, match="unknown encoding 'latin-9000'"):
        client.log("people", path, encoding="latin-9000")


def test_log_dataset_takes_the_encoding_too(tmp_path: Path) -> None:
    loopml.configure(home=str(tmp_path / "home"))
    path = tmp_path / "people.csv"
    path.write_bytes(LATIN_1)
    version = loopml.log_dataset("people", path, encoding="latin-1")
    assert loopml.load_dataset(version.uri)["city"].tolist() == ["Zürich", "Malmö"]
