"""Fixtures for the payload-log tests: settings on SQLite, and a prediction factory.

- ``local``: settings with a private home (SQLite, local artifacts).
- ``predict``: ``predict(i, **changes)`` -> a :class:`Prediction` of deployment
  ``churn-api`` with request id ``r<i>``, time ``T0 + i`` ms and two rows.
- ``open_writers``: every writer a test opens through it is closed at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopml.config import Settings
from loopml.monitoring import PayloadWriter, Prediction

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in Unix ms
DEPLOYMENT = "churn-api"

MakePrediction = Callable[..., Prediction]


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def predict() -> MakePrediction:
    def make(i: int, **changes: Any) -> Prediction:
        values: dict[str, Any] = {
            "request_id": f"r{i}",
            "time_ms": T0 + i,
            "deployment": DEPLOYMENT,
            "model": "churn",
            "version": 3,
            "role": "primary",
            "inputs": {"tenure": np.array([i, i + 1], dtype=np.int64)},
            "outputs": {"predict": np.array([0.25, 0.75], dtype=np.float64)},
            "latency_ms": 0.5,
            "status": 200,
        }
        values.update(changes)
        return Prediction(**values)

    return make


@pytest.fixture
def open_writers() -> Iterator[Callable[..., PayloadWriter]]:
    """``open_writers(settings, **options)``: a writer of ``churn-api``, closed afterwards."""
    made: list[PayloadWriter] = []

    def open_writer(settings: Settings | None, **options: Any) -> PayloadWriter:
        options.setdefault("flush_seconds", 0.05)
        writer = PayloadWriter(settings, options.pop("deployment", DEPLOYMENT), **options)
        made.append(writer)
        return writer

    yield open_writer
    for writer in made:
        writer.close(timeout=30)


@pytest.fixture
def trained(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``churn`` v1 (a logistic regression) trained in a run on ``churn_train`` v1 (so the
    dataset is in its lineage), alias ``live``, served by deployment ``churn-api``."""
    from sklearn.linear_model import LogisticRegression

    import loopml
    from loopml.registry import RegistryClient
    from loopml.serving.deployments import DeploymentClient
    from loopml.serving.policy import TrafficPolicy

    from ._monitor_support import churn_rows

    monkeypatch.setenv("LOOPML_HOME", str(settings.home))
    monkeypatch.setenv("LOOPML_DB_URL", settings.db_url)
    monkeypatch.setenv("LOOPML_ARTIFACTS", settings.artifacts_url)
    train = churn_rows(np.random.default_rng(7), 4000)
    with loopml.start_run(experiment="churn"):
        dataset = loopml.log_dataset("churn_train", train)
        model = LogisticRegression().fit(train[["x1", "x2"]], train["churned"])
        loopml.log_model(
            model, "model", input_example=train[["x1", "x2"]].head(3), register_as="churn"
        )
    RegistryClient(settings).set_alias("churn", "live", 1)
    DeploymentClient(settings).create("churn-api", "churn", TrafficPolicy.follow("live"))
    return {"dataset": dataset, "train": train, "model": model}
