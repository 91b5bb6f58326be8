"""More for the web UI's detail pages, on top of :func:`._ui_data.fill`: a model version
trained by a run on a dataset version, with a signature, slices and a failing gate; a
validated version to decide on; a dataset version with kept validation reports; a
feature view, materialized; a firing alert. Free text carries ``<script>`` to check
escaping."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from loopml.config import Settings
from loopml.data import DatasetClient, infer_schema
from loopml.data.validate import validate
from loopml.features import Entity, Feature, FeatureStore, FeatureView
from loopml.registry import RegistryClient
from loopml.tracking import TrackingClient

from ._ui_data import DATASET, EXPERIMENT, MODEL, _evaluate, _package

SCRIPT = "<script>window.__pwned = 1</script>"
VIEW = "customer_stats"
FAILED_GATE_REASON = "accuracy 0.6667 < 0.9 on 3 rows"


@dataclass
class Details:
    """What :func:`add_details` put in the store."""

    gated: int  # the version with slices and a failing gate
    pending: int  # a validated version nobody decided on yet
    run_id: str  # the run the gated version came from


def _signed_package(folder: Path, payload: bytes) -> Path:
    """A package with a signature and pinned requirements (digests kept in line)."""
    _package(folder, payload)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["signature"] = {
        "inputs": {
            "type": "dataframe",
            "columns": [{"name": "tenure", "type": "long"}, {"name": "plan", "type": "string"}],
        },
        "outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]},
    }
    manifest["requirements"] = ["numpy==2.1.0", "scikit-learn==1.5.2"]
    (folder / "model.json").write_text(json.dumps(manifest, sort_keys=True))
    return folder


def add_details(settings: Settings, scratch: Path) -> Details:
    registry = RegistryClient(settings)
    datasets = DatasetClient(settings)
    tracking = TrackingClient(settings, capture_env=False)
    try:
        run = tracking.create_run(EXPERIMENT, name="trainer")
        tracking.log_params(run.id, {"depth": 3})
        tracking.log_artifacts(run.id, _signed_package(scratch / "v4", b"four"), "model")
        tracking.end_run(run.id)
        tracking.flush()
    finally:
        tracking.close()
    datasets.log_input(f"datasets:/{DATASET}/2", run.id, "training")
    gated = registry.register(
        f"runs:/{run.id}/model",
        MODEL,
        description=f"fourth {SCRIPT}",
        tags={"team": f"risk {SCRIPT}"},
    )
    registry.save_evaluation(
        {
            "model_uri": f"models:/{MODEL}/{gated.version}",
            "data": f"datasets:/{DATASET}/2",
            "target": "left",
            "task": "classification",
            "metrics": {"accuracy": 0.6667, "f1": 0.5},
            "slices": {
                "plan": {
                    "a": {"rows": 2, "accuracy": 0.5, "f1": 0.4},
                    f"b {SCRIPT}": {"rows": 1, "accuracy": 1.0, "f1": 1.0},
                }
            },
            "passed": False,
            "gates": [
                {
                    "gate": "accuracy >= 0.9",
                    "kind": "absolute",
                    "passed": False,
                    "skipped": False,
                    "reason": FAILED_GATE_REASON,
                    "observed": 0.6667,
                    "threshold": 0.9,
                },
                {
                    "gate": "f1 >= 0.3",
                    "kind": "absolute",
                    "passed": True,
                    "skipped": False,
                    "reason": "f1 0.5 >= 0.3",
                    "observed": 0.5,
                    "threshold": 0.3,
                },
            ],
            "notes": [f"a note {SCRIPT}"],
        }
    )
    pending = registry.register(_package(scratch / "v5", b"five"), MODEL)
    _evaluate(registry, pending.version, 0.95)

    first = datasets.get(f"datasets:/{DATASET}/1")
    schema = infer_schema(datasets.load(first.uri))
    second = f"datasets:/{DATASET}/2"
    datasets.record_validation(first.uri, validate(first.uri, schema, settings=settings))
    datasets.record_validation(
        second, validate(second, schema, settings=settings), note=f"CI {SCRIPT}"
    )

    _feature_view(settings, scratch)
    return Details(gated=gated.version, pending=pending.version, run_id=run.id)


def _feature_view(settings: Settings, scratch: Path) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    source = scratch / "customers.parquet"
    pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "event_time": [
                pd.Timestamp(t0 + timedelta(hours=h)).tz_convert(None) for h in (1, 2, 3)
            ],
            "spend": [10.0, 20.0, 30.0],
            "visits": [1, 2, 3],
        }
    ).to_parquet(source)
    customer = Entity("customer", join_keys=["customer_id"], description=f"a buyer {SCRIPT}")
    view = FeatureView(
        VIEW,
        entities=[customer],
        source=source,
        timestamp_field="event_time",
        features=[
            Feature("spend", "float64", description=f"money {SCRIPT}"),
            Feature("visits", "int64"),
        ],
        ttl=timedelta(days=1),
        description="what customers did",
    )
    store = FeatureStore(settings, online_store=f"sqlite:///{scratch / 'online.db'}")
    try:
        store.apply([customer, view])
        store.materialize(t0, t0 + timedelta(hours=4))
    finally:
        store.close()
