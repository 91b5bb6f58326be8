"""``assess``: the maturity level rises only with what has really run (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest

import loopml
from loopml.automation import AutomationPolicy
from loopml.automation.maturity import LEVELS, MaturityReport, assess
from loopml.config import Settings
from loopml.registry import RegistryClient
from loopml.uris import run_uri

from ._loop_support import RETRAIN, Loop, churn_rows

HOUR_S = 3600


def _keys(report: MaturityReport) -> list[str]:
    return [c.key for c in report.missing]


@pytest.fixture
def sdk(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The SDK's fluent calls (start_run, log_metric) on the test's store; its default
    client (and the metrics journal) closed before the store goes away."""
    from loopml.tracking import fluent

    monkeypatch.setenv("LOOPML_HOME", str(settings.home))
    monkeypatch.setenv("LOOPML_DB_URL", settings.db_url)
    monkeypatch.setenv("LOOPML_ARTIFACTS", settings.artifacts_url)
    monkeypatch.setenv("LOOPML_USER", "tester")
    yield settings
    fluent.reset()


def test_an_empty_store_is_level_0_and_names_what_level_1_needs(settings: Settings) -> None:
    assess(settings)  # the first call migrates the new store
    began = time.monotonic()
    report = assess(settings)
    took = time.monotonic() - began

    assert (report.level, report.name) == (0, "manual")
    assert [level.number for level in report.levels] == [0, 1, 2, 3, 4]
    assert _keys(report) == ["tracked_runs", "dataset_lineage", "registered_models"]
    assert report.criterion("registered_models").command == (
        "loopml models register runs:/RUN_ID/model MODEL"
    )
    every = [c for level in report.levels for c in level.criteria]
    assert len(every) == sum(len(spec.criteria) for spec in LEVELS) == 15
    assert not any(c.met for c in every)
    assert all(c.command and c.count == 0 and c.example is None for c in every)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["next"]["level"] == 1
    assert [m["key"] for m in data["next"]["missing"]] == _keys(report)
    assert took < 5  # a handful of COUNT queries (the real figure is in the report)


def test_levels_1_and_2_are_reached_with_tracked_data_gates_and_a_pipeline(
    sdk: Settings,
) -> None:
    from sklearn.linear_model import LogisticRegression

    from loopml.evaluation import evaluate
    from loopml.pipelines import register_pipeline

    settings = sdk
    rng = np.random.default_rng(0)
    registry = RegistryClient(settings)

    # A level-3 fact alone does not lift the level: every level below must hold too.
    register_pipeline(RETRAIN, name="retrain-churn", schedule="0 3 * * *", settings=settings)
    report = assess(settings)
    triggers = report.criterion("pipeline_triggers")
    assert report.level == 0
    assert (triggers.met, triggers.example, triggers.command) == (True, "retrain-churn", None)
    assert "schedule 0 3 * * *" in triggers.evidence

    train = churn_rows(rng, 400)
    with loopml.start_run(experiment="churn") as run:
        loopml.log_params({"C": 1.0})
        loopml.log_dataset("churn_train", train)
        model = LogisticRegression().fit(train[["x1", "x2"]], train["churned"])
        loopml.log_metric("accuracy", float(model.score(train[["x1", "x2"]], train["churned"])))
        loopml.log_model(model, "model", input_example=train[["x1", "x2"]].head(3),
                         register_as="churn")  # fmt: skip
    report = assess(settings)
    assert report.level == 1
    assert report.criterion("tracked_runs").example == run_uri(run.id)
    assert report.criterion("dataset_lineage").example == "datasets:/churn_train/1"
    assert report.criterion("registered_models").example == "models:/churn/1"
    assert _keys(report) == [
        "pipeline_runs", "promotion_policy", "gated_evaluations", "gated_promotion"
    ]  # fmt: skip
    assert report.criterion("promotion_policy").command == (
        'loopml models policy set churn --gate "accuracy >= 0.8"'
    )

    # A promotion without gates is not a gated release, nor is one made before the gates.
    registry.set_status("churn", 1, "validated")
    registry.promote("churn", 1, reason="by hand")
    registry.set_policy("churn", {"gates": ["accuracy >= 0.6"]})
    loopml.log_dataset("churn_holdout", churn_rows(rng, 200))
    evaluate("models:/churn/1", "datasets:/churn_holdout@latest", "churned",
             settings=settings, infra_check=False)  # fmt: skip
    report = assess(settings)
    assert report.criterion("promotion_policy").evidence == (
        "1 model with gates; churn: accuracy >= 0.6"
    )
    assert report.criterion("gated_evaluations").met
    assert "(1 passed)" in report.criterion("gated_evaluations").evidence
    assert _keys(report) == ["pipeline_runs", "gated_promotion"]

    registry.promote("churn", 1, "champion", reason="passed the gates")
    from ._loop_pipeline import retrain

    pipeline_run = retrain.run(settings=settings)
    report = assess(settings)
    assert report.level == 2
    promotion = report.criterion("gated_promotion")
    assert (promotion.count, promotion.example) == (1, "models:/churn/1")
    assert "-> @champion" in promotion.evidence
    assert report.criterion("pipeline_runs").example == run_uri(pipeline_run.id)
    assert _keys(report) == ["deployment", "payload_log", "monitor_windows"]
    assert [c.command for c in report.missing] == [
        "loopml deployments create churn-api --model churn --alias production",
        "loopml serve DEPLOYMENT",
        "loopml monitor create DEPLOYMENT",
    ]


def _only(loop: Loop, **changes: object) -> None:
    policy = loop.automation.get_policy("churn").to_dict()
    loop.automation.set_policy("churn", AutomationPolicy.from_dict({**policy, **changes}))


def _next_hour(loop: Loop) -> None:
    loop.clock.advance(seconds=HOUR_S - loop.clock.now_ms // 1000 % HOUR_S + 30)


def test_the_loop_reaches_level_3_then_level_4_once_canary_and_rollback_happened(
    loop: Loop,
) -> None:
    report = assess(loop.settings)
    assert report.level == 2  # deployed and monitored, but nothing served or watched yet
    assert _keys(report) == ["payload_log", "monitor_windows"]
    assert report.criterion("monitor_windows").command == "loopml monitor run churn-api"
    assert report.criterion("automation_policy").met

    _only(loop, retrain_on=["drift"])
    loop.shift(2.0)
    loop.send(80, shift=2.0)
    _next_hour(loop)
    agent = loop.agent()
    (plan_id,) = agent.run_once().created  # windows computed, drift alert, canary started

    report = assess(loop.settings)
    assert report.level == 3
    assert report.criterion("payload_log").count == 80
    assert report.criterion("monitor_windows").example == "churn-api"
    assert report.criterion("agent").met
    assert _keys(report) == ["canary_promotion", "safety_net"]
    assert report.criterion("canary_promotion").command == "loopml agent"

    loop.send(60, shift=2.0, every_s=10)
    agent.run_once()
    assert loop.automation.plan(plan_id).state == "promoted"
    report = assess(loop.settings)
    canary = report.criterion("canary_promotion")
    assert (canary.met, canary.example) == (True, f"plan {plan_id}")
    assert f"plan {plan_id} (drift) promoted models:/churn/2" in canary.evidence
    assert _keys(report) == ["safety_net"]
    assert report.criterion("safety_net").command == "loopml trigger retrain-churn"

    _only(loop, retrain_on=["manual"])
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    (failing,) = agent.run_once().created
    loop.send(80, shift=2.0, fail=3, every_s=2)
    agent.run_once()
    assert loop.automation.plan(failing).state == "rolled_back"

    report = assess(loop.settings)
    assert (report.level, report.name, report.next, report.missing) == (4, "closed loop", None, ())
    net = report.criterion("safety_net")
    assert net.example == f"plan {failing}"
    assert net.evidence == f"1 rolled back, 0 rejected; latest plan {failing} rolled back " \
        "models:/churn/3"  # fmt: skip


def test_an_automatic_promotion_without_a_canary_is_not_the_closed_loop(loop: Loop) -> None:
    _only(loop, retrain_on=["dataset"], canary_share=0)
    loop.shift(2.0)
    (plan_id,) = loop.agent().run_once().created
    assert loop.automation.plan(plan_id).state == "promoted"

    canary = assess(loop.settings).criterion("canary_promotion")

    assert not canary.met
    assert canary.command == (
        "loopml automation set churn --pipeline retrain-churn --deployment churn-api --canary 10"
    )


def test_a_challenger_the_gates_reject_counts_as_the_safety_net(loop: Loop) -> None:
    from loopml.pipelines import on_dataset, register_pipeline

    _only(loop, retrain_on=["manual"])
    register_pipeline(
        RETRAIN, name="retrain-churn", params={"kind": "worse"},
        triggers=[on_dataset("churn_train")], settings=loop.settings,
    )  # fmt: skip
    loop.shift(0.0)
    loop.automation.trigger("retrain-churn", reason="a fire drill")
    (plan_id,) = loop.agent().run_once().created
    assert loop.automation.plan(plan_id).state == "rejected"

    net = assess(loop.settings).criterion("safety_net")

    assert (net.met, net.command) == (True, None)
    assert (
        net.evidence == f"0 rolled back, 1 rejected; latest plan {plan_id} rejected models:/churn/2"
    )
