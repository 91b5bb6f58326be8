"""Batch inference: chunked reads, row order, kept ids, lineage, and refused inputs and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

import loopml
from loopml._sdk.models import log_model
from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import InvalidInputError, MissingFileError, SignatureError, UnsafePathError
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_model
from loopml.serving.batch import predict_batch
from loopml.store import open_store
from loopml.store.lineage import edges_of
from loopml.tracking import TrackingClient


@pytest.fixture(autouse=True)
def _fluent(settings: Settings) -> None:
    loopml.configure(home=str(settings.home), db_url=settings.db_url)


@pytest.fixture
def frame() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    features = data.data.iloc[:, :5]
    features.columns = [name.replace(" ", "_") for name in features.columns]
    return features.assign(target=data.target)


@pytest.fixture
def forest(frame: pd.DataFrame) -> Any:
    x = frame.drop(columns="target")
    return RandomForestClassifier(n_estimators=8, random_state=0).fit(x, frame["target"])


@pytest.fixture
def registered(settings: Settings, frame: pd.DataFrame, forest: Any) -> str:
    with loopml.start_run(experiment="train"):
        info = log_model(forest, input_example=frame.drop(columns="target").head())
    registry = RegistryClient(settings)
    registry.register(info.uri, "cancer", onnx=True)
    registry.set_alias("cancer", "scoring", 1)
    return "models:/cancer@scoring"


def _customers(frame: pd.DataFrame) -> pd.DataFrame:
    """The features in a shuffled order, with an id column in front."""
    shuffled = frame.drop(columns="target").sample(frac=1.0, random_state=1)
    return shuffled.assign(customer_id=[f"c{i}" for i in shuffled.index])


def test_predictions_come_back_in_row_order_with_the_ids_kept(
    settings: Settings, tmp_path: Path, frame: pd.DataFrame, forest: Any, registered: str
) -> None:
    customers = _customers(frame)
    source = tmp_path / "customers.parquet"
    customers.to_parquet(source, row_group_size=100)
    seen: list[tuple[int, int | None]] = []

    result = predict_batch(
        registered,
        source,
        tmp_path / "out" / "scores.parquet",
        chunk_size=64,
        keep=["customer_id"],
        proba=True,
        settings=settings,
        progress=lambda done, total: seen.append((done, total)),
    )

    written = pq.read_table(result.output).to_pandas()
    assert list(written.columns) == ["customer_id", "prediction", "proba_0", "proba_1"]
    features = customers.drop(columns="customer_id")
    assert np.allclose(written[["proba_0", "proba_1"]], forest.predict_proba(features))
    assert written["customer_id"].tolist() == customers["customer_id"].tolist()
    expected = forest.predict(customers.drop(columns="customer_id"))
    assert (written["prediction"].to_numpy() == expected).all()
    assert result.model_uri == "models:/cancer/1"  # the alias, resolved once
    assert (result.rows, result.chunks) == (len(customers), -(-len(customers) // 64))
    assert seen[-1] == (len(customers), len(customers))
    run = TrackingClient(settings).get_run(str(result.run_id))
    assert run.status.value == "finished"
    assert run.params["model"] == "models:/cancer/1"
    with open_store(settings.db_url).read() as conn:
        edges = edges_of(conn, ("run", run.id), "out")
    assert [(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges] == [
        ("consumed", "model_version", "cancer/1")
    ]


def test_a_dataset_version_in_csv_chunks_gives_lineage_to_the_output_version(
    settings: Settings, tmp_path: Path, frame: pd.DataFrame, registered: str
) -> None:
    customers = _customers(frame)
    csv = tmp_path / "customers.csv"
    customers.to_csv(csv, index=False)
    DatasetClient(settings).log("customers", csv)

    result = predict_batch(
        registered,
        "datasets:/customers@latest",
        tmp_path / "scores.parquet",
        chunk_size=50,
        keep=["customer_id"],
        runtime="onnx",
        output_dataset="scores",
        settings=settings,
    )

    assert result.input == "datasets:/customers/1"
    assert result.output_dataset == "datasets:/scores/1"
    assert result.chunks == -(-len(customers) // 50)
    written = pq.read_table(result.output).to_pandas()
    assert written["customer_id"].tolist() == customers["customer_id"].tolist()
    native = load_model("models:/cancer/1", settings=settings).predict(customers)
    assert (written["prediction"].to_numpy() == native).mean() > 0.99  # the ONNX graph
    with open_store(settings.db_url).read() as conn:
        edges = edges_of(conn, ("run", str(result.run_id)), "out")
    assert {(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges} >= {
        ("consumed", "model_version", "cancer/1"),
        ("consumed", "dataset_version", "customers/1"),
        ("produced", "dataset_version", "scores/1"),
    }


def test_a_missing_column_is_named_with_the_signature_and_nothing_is_written(
    settings: Settings, tmp_path: Path, frame: pd.DataFrame, registered: str
) -> None:
    source = tmp_path / "partial.parquet"
    _customers(frame).drop(columns=["mean_texture"]).to_parquet(source)
    output = tmp_path / "out" / "scores.parquet"

    with pytest.raises(InvalidInputError, match=r"lacks column mean_texture.*signature takes"):
        predict_batch(registered, source, output, settings=settings)

    assert list(output.parent.iterdir()) == []  # no output, no partial file left behind
    runs = TrackingClient(settings).search_runs(experiments=["batch-predictions"])
    assert [run.status.value for run in runs] == ["failed"]


def test_hostile_outputs_and_sizes_are_refused(
    settings: Settings, tmp_path: Path, frame: pd.DataFrame, registered: str
) -> None:
    source = tmp_path / "in.parquet"
    _customers(frame).to_parquet(source)
    elsewhere = tmp_path / "elsewhere.parquet"
    elsewhere.write_bytes(b"keep me")
    link = tmp_path / "link.parquet"
    link.symlink_to(elsewhere)

    with pytest.raises(UnsafePathError, match="symbolic link"):
        predict_batch(registered, source, link, settings=settings)
    assert elsewhere.read_bytes() == b"keep me"
    with pytest.raises(UnsafePathError, match="is the input"):
        predict_batch(registered, source, source, settings=settings)
    with pytest.raises(UnsafePathError, match="inside loopml's home"):
        predict_batch(registered, source, settings.home / "x.parquet", settings=settings)
    with pytest.raises(InvalidInputError, match=r"must be a \.parquet file"):
        predict_batch(registered, source, tmp_path / "out.csv", settings=settings)
    for size in (0, -1, 2**63, True):
        with pytest.raises(InvalidInputError, match="chunk size"):
            predict_batch(registered, source, tmp_path / "o.parquet", chunk_size=size,
                          settings=settings)  # fmt: skip
    with pytest.raises(MissingFileError, match=r"nope\.parquet"):
        predict_batch(registered, tmp_path / "nope.parquet", tmp_path / "o.parquet",
                      settings=settings)  # fmt: skip
    with pytest.raises(InvalidInputError, match=r"does not have: missing"):
        predict_batch(registered, source, tmp_path / "o.parquet", keep=["missing"],
                      settings=settings)  # fmt: skip
    assert not (tmp_path / "o.parquet").exists()


def test_a_model_without_a_signature_reads_every_column_but_the_kept_ones(
    settings: Settings, tmp_path: Path
) -> None:
    x = np.random.default_rng(0).normal(size=(30, 3))
    with loopml.start_run():
        info = log_model(_Sum(), input_example=None)
    source = tmp_path / "in.parquet"
    pd.DataFrame(x, columns=["a", "b", "c"]).assign(id=range(30)).to_parquet(source)

    result = predict_batch(info.uri, source, tmp_path / "o.parquet", keep=["id"],
                           settings=settings, track=False)  # fmt: skip

    written = pq.read_table(result.output).to_pandas()
    assert np.allclose(written["prediction"], x.sum(axis=1))
    assert result.run_id is None
    clashing = tmp_path / "clash.parquet"
    pd.DataFrame(x, columns=["a", "b", "c"]).assign(prediction=1).to_parquet(clashing)
    with pytest.raises(InvalidInputError, match="--keep prediction would be overwritten"):
        predict_batch(info.uri, clashing, tmp_path / "q.parquet", keep=["prediction"],
                      settings=settings, track=False)  # fmt: skip
    with pytest.raises(InvalidInputError, match="gives no class probabilities"):
        predict_batch(info.uri, source, tmp_path / "p.parquet", proba=True, settings=settings)


class _Sum:
    def predict(self, data: Any) -> Any:
        return np.asarray(data).sum(axis=1)


def test_the_sdk_predicts_in_the_configured_store(
    tmp_path: Path, frame: pd.DataFrame, registered: str
) -> None:
    source = tmp_path / "in.parquet"
    _customers(frame).to_parquet(source)

    result = loopml.predict_batch(registered, source, tmp_path / "o.parquet", keep=["customer_id"])

    assert result.model_uri == "models:/cancer/1"
    assert loopml.get_run(str(result.run_id)).params["runtime"] == "native"


def test_a_column_of_the_wrong_type_is_named_and_nothing_is_written(
    settings: Settings, tmp_path: Path, frame: pd.DataFrame, registered: str
) -> None:
    customers = _customers(frame).astype({"mean_radius": str})
    customers["mean_radius"] = "big"
    source = tmp_path / "text.parquet"
    customers.to_parquet(source)
    output = tmp_path / "out" / "o.parquet"

    with pytest.raises(SignatureError, match="mean_radius"):
        predict_batch(registered, source, output, settings=settings, chunk_size=100)

    assert list(output.parent.iterdir()) == []
