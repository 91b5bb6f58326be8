"""``loopml predict`` and ``loopml models register --onnx`` from a shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.packaging import save_package
from loopml.tracking import TrackingClient


@pytest.fixture
def features() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :4]
    frame.columns = ["radius", "texture", "perimeter", "area"]
    return frame.assign(label=data.target)


@pytest.fixture
def logged(client: TrackingClient, tmp_path: Path, features: pd.DataFrame) -> str:
    x = features.drop(columns="label")
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, features["label"])
    run = client.create_run("train")
    save_package(forest, tmp_path / "pkg", input_example=x.head(), source_run=run.id)
    client.log_artifacts(run.id, tmp_path / "pkg", "model")
    client.end_run(run.id)
    return f"runs:/{run.id}/model"


def test_register_with_onnx_then_predict_a_dataset_with_the_graph(
    cli: Any, home: Path, tmp_path: Path, logged: str, features: pd.DataFrame
) -> None:
    version = cli.json("models", "register", logged, "cancer", "--onnx")
    assert version["version"] == 1
    customers = features.drop(columns="label").assign(id=range(len(features)))
    DatasetClient(Settings.load(home=home)).log("customers", customers)
    out = tmp_path / "scores.parquet"

    result = cli.json(
        "predict", "models:/cancer/1", "--input", "datasets:/customers@latest", "--output",
        str(out), "--keep", "id", "--chunk-size", "100", "--runtime", "onnx", "--proba",
    )  # fmt: skip

    assert result["rows"] == len(features)
    assert result["chunks"] == 6
    assert result["input"] == "datasets:/customers/1"
    written = pq.read_table(out).to_pandas()
    assert written["id"].tolist() == list(range(len(features)))
    assert list(written.columns) == ["id", "prediction", "proba_0", "proba_1"]
    assert ((written["proba_1"] > 0.5) == (written["prediction"] == 1)).mean() > 0.99
    plain = cli.run("predict", "models:/cancer/1", "-i", "datasets:/customers@latest", "-o",
                    str(tmp_path / "again.parquet"))  # fmt: skip
    assert plain.exit_code == 0, plain.stderr
    assert f"wrote {len(features):,} predictions of models:/cancer/1" in plain.stdout


def test_predict_names_a_missing_column_and_its_signature_in_one_line(
    cli: Any, tmp_path: Path, logged: str, features: pd.DataFrame
) -> None:
    cli.json("models", "register", logged, "cancer")
    source = tmp_path / "in.csv"
    features.drop(columns=["label", "area"]).to_csv(source, index=False)

    result = cli.run(
        "predict", "models:/cancer/1", "-i", str(source), "-o", str(tmp_path / "o.parquet")
    )

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "lacks column area" in result.stderr
    assert "radius, texture, perimeter, area" in result.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_predict_refuses_a_missing_input_and_a_graph_that_is_not_there(
    cli: Any, tmp_path: Path, logged: str, features: pd.DataFrame
) -> None:
    cli.json("models", "register", logged, "cancer")
    missing = cli.run("predict", "models:/cancer/1", "-i", str(tmp_path / "nope.parquet"),
                      "-o", str(tmp_path / "o.parquet"))  # fmt: skip
    assert missing.exit_code == 2
    assert "nope.parquet" in missing.stderr
    source = tmp_path / "in.parquet"
    features.drop(columns="label").to_parquet(source)
    no_graph = cli.run("predict", "models:/cancer/1", "-i", str(source), "-o",
                       str(tmp_path / "o.parquet"), "--runtime", "onnx")  # fmt: skip
    assert no_graph.exit_code == 2
    assert "has no ONNX graph" in no_graph.stderr
    both = cli.run("models", "register", logged, "cancer", "--onnx", "--onnx-if-possible")
    assert both.exit_code == 2
    assert "not both" in both.stderr
