"""loopml.log_input: a dataset version as a run's input, in lineage and on the run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import loopml
from loopml.cli import app
from loopml.errors import InvalidInputError, NotFoundError
from loopml.tracking import RunInput


@pytest.fixture(autouse=True)
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    loopml.configure(home=str(home))
    return home


def test_log_input_links_a_version_object_and_a_uri_with_their_context() -> None:
    train = loopml.log_dataset("train", pd.DataFrame({"x": [1, 2, 3]}))
    loopml.log_dataset("test", pd.DataFrame({"x": [4]}))
    with loopml.start_run() as run:
        assert loopml.log_input(train).uri == "datasets:/train/1"
        recorded = loopml.log_input("datasets:/test@latest", context="evaluation")
        loopml.log_input(train)  # the same again changes nothing

    assert recorded.uri == "datasets:/test/1"
    assert loopml.get_run(run.id).inputs == (
        RunInput("dataset_version", "train/1", "datasets:/train/1", "training"),
        RunInput("dataset_version", "test/1", "datasets:/test/1", "evaluation"),
    )
    assert run.info.to_dict()["inputs"][1] == {
        "kind": "dataset_version",
        "id": "test/1",
        "uri": "datasets:/test/1",
        "context": "evaluation",
    }
    found = loopml.search_runs()[0]
    assert [i.uri for i in found.inputs] == ["datasets:/train/1", "datasets:/test/1"]


def test_a_loaded_dataset_gets_the_context_and_other_contexts_add_inputs() -> None:
    loopml.log_dataset("train", pd.DataFrame({"x": [1, 2, 3]}))
    with loopml.start_run() as run:
        loopml.load_dataset("datasets:/train/1")
        loopml.log_input("datasets:/train/1", context="training")
        loopml.log_input("datasets:/train/1", context="validation")

    contexts = [(i.uri, i.context) for i in loopml.get_run(run.id).inputs]
    assert contexts == [("datasets:/train/1", "training"), ("datasets:/train/1", "validation")]


def test_lineage_cli_shows_the_input(home: Path) -> None:
    loopml.log_dataset("train", pd.DataFrame({"x": [1, 2, 3]}))
    with loopml.start_run() as run:
        loopml.log_input("datasets:/train/1")

    result = CliRunner().invoke(app, ["--home", str(home), "lineage", f"runs:/{run.id}", "--json"])

    assert result.exit_code == 0, result.stderr
    upstream = json.loads(result.stdout)["upstream"]
    assert [(e["edge"], e["kind"], e["id"]) for e in upstream] == [
        ("consumed", "dataset_version", "train/1")
    ]


def test_log_input_errors() -> None:
    loopml.log_dataset("train", pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidInputError, match="no active run"):
        loopml.log_input("datasets:/train/1")
    with loopml.start_run() as run:
        with pytest.raises(NotFoundError, match="train/7"):
            loopml.log_input("datasets:/train/7")
        with pytest.raises(NotFoundError, match="trian"):
            loopml.log_input("datasets:/trian/1")
        with pytest.raises(InvalidInputError, match="got DataFrame; version a DataFrame first"):
            loopml.log_input(pd.DataFrame({"x": [1]}))  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="context must be a short name"):
            loopml.log_input("datasets:/train/1", context="")
        with pytest.raises(InvalidInputError, match="context must be a short name"):
            loopml.log_input("datasets:/train/1", context="a\nb")
        with pytest.raises(InvalidInputError, match="context must be a short name"):
            loopml.log_input("datasets:/train/1", context=5)  # type: ignore[arg-type]
    assert loopml.get_run(run.id).inputs == ()
