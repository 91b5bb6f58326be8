"""Remote mode for datasets: ``loopml.log_dataset`` and ``load_dataset`` with
``LOOPML_TRACKING_URI`` set log to and load from the server, making the versions a local
log of the same content makes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.errors import InvalidInputError
from loopml.tracking import TrackingClient

from ._support import live_server

FRAME = pd.DataFrame({"x": [1.5, 2.5, None], "kind": ["a", "b", "a"]})


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "server-home")


def test_datasets_go_to_the_server_and_come_back_the_same(
    tmp_path: Path, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "images"
    (folder / "deep").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "deep" / "b.bin").write_bytes(bytes(range(256)) * 50)
    csv = tmp_path / "plain.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    with live_server(store_settings) as server:
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client"))
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        with loopml.start_run(experiment="remote-data") as run:
            table = loopml.log_dataset("train", FRAME)
            again = loopml.log_dataset("train", FRAME.copy())
            files = loopml.log_dataset("images", folder)
            plain = loopml.log_dataset("plain", csv, description="two rows")
            loaded = loopml.load_dataset(table.uri)
            dest = loopml.load_dataset(files.uri, dest=tmp_path / "out")
            loopml.log_input(plain.uri, context="validation")
        served = DatasetClient(store_settings)
        assert (table.version, again.version) == (1, 1)
        assert served.get("datasets:/train/1") == table
        assert table.source == "pandas.DataFrame"
        assert files.source == str(folder.absolute())
        assert (files.kind, files.file_count) == ("files", 2)
        assert (plain.format, plain.row_count) == ("csv", 2)
        pd.testing.assert_frame_equal(loaded, FRAME)
        assert isinstance(dest, Path)
        assert (dest / "deep" / "b.bin").read_bytes() == bytes(range(256)) * 50
        assert (dest / "a.txt").read_bytes() == b"alpha"
        inputs = TrackingClient(store_settings, capture_env=False).get_run(run.id).inputs
        assert {(i.uri, i.context) for i in inputs} >= {
            ("datasets:/train/1", None),
            ("datasets:/plain/1", "validation"),
        }
    # The same content logged locally elsewhere is the same version (same digest).
    local = DatasetClient(Settings.load(home=tmp_path / "elsewhere"))
    assert local.log("train", FRAME).digest == table.digest
    assert local.log("images", folder).digest == files.digest
    assert local.log("plain", csv).digest == plain.digest
    assert not (tmp_path / "client" / "loopml.db").exists()


def test_a_folder_with_a_link_is_refused_before_anything_is_sent(
    tmp_path: Path, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "outside.txt").write_text("secret")
    with live_server(store_settings) as server:
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client"))
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        with pytest.raises(InvalidInputError, match="link"):
            loopml.log_dataset("linked", folder)
        assert DatasetClient(store_settings).list_datasets() == []
