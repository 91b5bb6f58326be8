"""The closed loop on small data, for the automation tests.

``loop`` (conftest.py): on the test's store, with a fake clock: ``churn_train`` v1 and
``churn_holdout`` v1 (labels ``x1 + x2 > 0``), the registered pipeline ``retrain-churn``
(``_loop_pipeline.py:retrain``, fired by new ``churn_train`` versions), ``churn`` v1 trained
by it, gated and promoted to ``production``, deployment ``churn-api`` following it, a
1-hour monitor on the deployment, and the automation policy for ``churn``.

``Loop.send(n)``: ``n`` requests routed as the deployment's traffic policy says
(weighted routes, the versions really loaded and predicting), logged to the payload log
with labels, one second apart on the fake clock; ``fail`` makes one version's requests
fail. ``Loop.shift(s)``: new data versions where ``x1`` moved by ``s`` and the label
boundary with it, so the old model is wrong on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import loopml
from loopml.automation import Agent, AutomationClient
from loopml.config import Settings
from loopml.monitoring import PayloadWriter, Prediction, log_feedback
from loopml.registry import RegistryClient
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import choose_route
from loopml.testing import FakeClock

FEATURES = ["x1", "x2"]
RETRAIN = f"{Path(__file__).parent / '_loop_pipeline.py'}:retrain"
"""The retraining pipeline, registered by its file (the agent imports it again from there)."""
GATES = ("accuracy >= 0.7", "accuracy >= champion - 0.02")


def churn_rows(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame({"x1": rng.normal(shift, 1.0, rows), "x2": rng.normal(0.0, 1.0, rows)})
    frame["churned"] = ((frame["x1"] + frame["x2"]) > 1.5 * shift).astype(int)
    return frame


@dataclass
class Loop:
    settings: Settings
    clock: FakeClock
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(3))
    sent: int = 0
    models: dict[int, Any] = field(default_factory=dict)

    @property
    def registry(self) -> RegistryClient:
        return RegistryClient(self.settings)

    @property
    def automation(self) -> AutomationClient:
        return AutomationClient(self.settings)

    def agent(self, **options: Any) -> Agent:
        return Agent(self.settings, **options)

    def production(self) -> int:
        return self.registry.resolve("models:/churn@production").version

    def shift(self, by: float, rows: int = 1500) -> None:
        """New ``churn_train`` and ``churn_holdout`` versions drawn with ``x1`` moved."""
        loopml.log_dataset("churn_train", churn_rows(self.rng, rows, by))
        loopml.log_dataset("churn_holdout", churn_rows(self.rng, 600, by))

    def send(
        self, requests: int, *, shift: float = 0.0, fail: int | None = None, every_s: float = 1.0
    ) -> dict[int, int]:
        """Requests routed by the deployment's policy; returns requests per version."""
        deployments = DeploymentClient(self.settings)
        deployment = deployments.get("churn-api")
        targets = deployments.resolve(deployment)
        writer = PayloadWriter(self.settings, "churn-api", flush_seconds=0.05)
        counts: dict[int, int] = {}
        ids, labels = [], []
        try:
            for _ in range(requests):
                version = targets[choose_route(deployment.policy, rng=_Random(self.rng)).target]
                frame = churn_rows(self.rng, 5, shift)
                model = self._model(version)
                failed = version == fail
                request_id = f"q{self.sent}"
                self.sent += 1
                writer.record(
                    Prediction(
                        request_id=request_id,
                        time_ms=self.clock.now_ms,
                        deployment="churn-api",
                        model="churn",
                        version=version,
                        role="primary",
                        inputs={name: frame[name].to_numpy() for name in FEATURES},
                        outputs={} if failed else {"predict": model.predict(frame[FEATURES])},
                        latency_ms=2.0,
                        status=500 if failed else 200,
                        error="boom" if failed else None,
                    )
                )
                ids.append(request_id)
                labels.append(frame["churned"].tolist())
                counts[version] = counts.get(version, 0) + 1
                self.clock.advance(seconds=every_s)
        finally:
            writer.close(timeout=60)
        log_feedback("churn-api", ids, labels, settings=self.settings)
        return counts

    def _model(self, version: int) -> Any:
        if version not in self.models:
            self.models[version] = loopml.load_model(f"models:/churn/{version}")
        return self.models[version]


class _Random:
    """``random.Random``'s ``random()`` on a numpy generator (one seed for the whole loop)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def random(self) -> float:
        return float(self.rng.random())
