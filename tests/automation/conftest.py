"""Fixtures of the automation tests: ``loop`` (see ``_loop_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopml import clock
from loopml.automation import AutomationPolicy
from loopml.config import Settings
from loopml.monitoring import MonitorClient
from loopml.pipelines import on_dataset, register_pipeline
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import TrafficPolicy
from loopml.testing import FakeClock

from ._loop_support import GATES, RETRAIN, Loop


@pytest.fixture
def loop(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Loop]:
    from loopml.evaluation import evaluate

    monkeypatch.setenv("LOOPML_HOME", str(settings.home))
    monkeypatch.setenv("LOOPML_DB_URL", settings.db_url)
    monkeypatch.setenv("LOOPML_ARTIFACTS", settings.artifacts_url)
    monkeypatch.setenv("LOOPML_USER", "tester")
    fake = FakeClock(datetime(2026, 1, 5, tzinfo=UTC))
    with clock.use_clock(fake):
        state = Loop(settings, fake)
        state.shift(0.0)
        register_pipeline(
            RETRAIN,
            name="retrain-churn",
            triggers=[on_dataset("churn_train")],
            settings=settings,
        )
        from ._loop_pipeline import retrain

        run = retrain.run(settings=settings)
        registry = state.registry
        first = registry.register(run.load("fit"), "churn")
        registry.set_policy("churn", {"gates": list(GATES)})
        evaluate(
            "models:/churn/1", "datasets:/churn_holdout@latest", "churned",
            settings=settings, infra_check=False,
        )  # fmt: skip
        registry.promote("churn", first.version, reason="the first model")
        DeploymentClient(settings).create("churn-api", "churn", TrafficPolicy.follow("production"))
        MonitorClient(settings).create("churn-api", window="1h", rules=["drift for 1 clear 1"])
        state.automation.set_policy(
            "churn",
            AutomationPolicy(
                pipeline="retrain-churn",
                deployment="churn-api",
                evaluate_on="datasets:/churn_holdout@latest",
                target="churned",
                canary_share=30,
                canary_for="10m",
                min_rows=15,
                min_labels=40,
                cooldown="0s",
            ),
        )
        state.clock.advance(seconds=60)
        yield state
