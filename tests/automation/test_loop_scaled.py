"""The closed loop scaled out: PostgreSQL for the records, S3 (moto on loopback) for the
artifacts and the payload log, and the retraining pipeline on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from loopml.artifacts import ArtifactStore
from loopml.automation import AutomationPolicy
from loopml.config import Settings
from loopml.pipelines import on_dataset, register_pipeline
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import TrafficPolicy

from ._loop_support import RETRAIN, Loop

if TYPE_CHECKING:
    from conftest import S3Server

HOUR_S = 3600


@pytest.fixture
def settings(
    tmp_path: Path, db_url: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """PostgreSQL (the ``db_url`` fixture's) with artifacts in the moto bucket."""
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", s3_server.endpoint_url)
    return Settings.load(
        home=tmp_path / "home",
        db_url=db_url,
        artifacts_url=f"s3://{s3_server.bucket}/loop-{tmp_path.name}",
    )


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_drift_retrains_on_dask_and_promotes_on_postgres_and_s3(
    loop: Loop, s3_server: S3Server
) -> None:
    pytest.importorskip("distributed")
    register_pipeline(
        RETRAIN, name="retrain-churn", triggers=[on_dataset("churn_train")],
        executor="dask://", settings=loop.settings,
    )  # fmt: skip
    policy = {**loop.automation.get_policy("churn").to_dict(), "retrain_on": ["drift"]}
    loop.automation.set_policy("churn", AutomationPolicy.from_dict(policy))
    loop.shift(2.0)
    loop.send(80, shift=2.0)
    loop.clock.advance(seconds=HOUR_S - loop.clock.now_ms // 1000 % HOUR_S + 30)
    agent = loop.agent()

    (plan_id,) = agent.run_once().created
    assert loop.automation.plan(plan_id).step == "watch"
    loop.send(60, shift=2.0, every_s=10)
    agent.run_once()

    plan = loop.automation.plan(plan_id)
    assert plan.state == "promoted", plan.reason
    assert plan.trigger["kind"] == "drift"
    assert loop.production() == 2
    assert DeploymentClient(loop.settings).get("churn-api").policy == TrafficPolicy.follow(
        "production"
    )
    from loopml.pipelines.history import get_run
    from loopml.store import open_store

    assert plan.pipeline_run_id is not None
    run = get_run(open_store(loop.settings.db_url), plan.pipeline_run_id)
    assert run.executor.startswith("dask")
    version = loop.registry.get_version("churn", 2)
    prefix = loop.settings.artifacts_url.removeprefix(f"s3://{s3_server.bucket}/")
    assert ArtifactStore(s3_server.store(prefix)).exists(version.package_digest)
