"""loopml.log_dataset / load_dataset: dataset versions tied to the active run by lineage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml._sdk.data import dataset_client
from loopml.store.lineage import edges_of


@pytest.fixture(autouse=True)
def _fresh_store(tmp_path: Path) -> None:
    loopml.configure(home=str(tmp_path / "home"))


def _edges(run_id: str) -> list[tuple[str, str, str]]:
    with dataset_client().store.read() as conn:
        return [(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges_of(conn, ("run", run_id))]


def test_log_and_load_inside_a_run_record_inputs_and_outputs() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    with loopml.start_run() as run:
        version = loopml.log_dataset("train", frame)
        assert version.uri == "datasets:/train/1"
        loaded = loopml.load_dataset("datasets:/train@latest")
        loopml.log_dataset("predictions", frame.assign(p=0.5), role="output")
    pd.testing.assert_frame_equal(loaded, frame)
    assert sorted(_edges(run.id)) == [
        ("consumed", "dataset_version", "train/1"),
        ("produced", "dataset_version", "predictions/1"),
    ]


def test_outside_a_run_nothing_is_linked_and_same_content_is_the_same_version() -> None:
    frame = pd.DataFrame({"x": [1.5, 2.5]})
    first = loopml.log_dataset("plain", frame)
    again = loopml.log_dataset("plain", frame.copy())
    assert (first.version, again.version) == (1, 1)
    with dataset_client().store.read() as conn:
        assert edges_of(conn, ("dataset_version", "plain/1")) == []


def test_loading_an_unknown_dataset_suggests_the_close_name() -> None:
    loopml.log_dataset("customers", pd.DataFrame({"id": [1]}))
    with pytest.raises(loopml.LoopmlError, match="customers"):
        loopml.load_dataset("datasets:/customer/1")
