"""The closed loop end to end on small data with the fake clock (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from loopml.automation import AutomationPolicy
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import TrafficPolicy
from loopml.store import open_store
from loopml.store.lineage import edges_of

from ._loop_support import GATES, RETRAIN, Loop

HOUR_S = 3600


def _only(loop: Loop, **changes: object) -> None:
    policy = loop.automation.get_policy("churn").to_dict()
    loop.automation.set_policy("churn", AutomationPolicy.from_dict({**policy, **changes}))


def _next_hour(loop: Loop) -> None:
    loop.clock.advance(seconds=HOUR_S - loop.clock.now_ms // 1000 % HOUR_S + 30)


def test_drift_retrains_canaries_and_promotes(loop: Loop) -> None:
    _only(loop, retrain_on=["drift"])
    loop.shift(2.0)  # the world moved: new training data, and traffic follows
    loop.send(80, shift=2.0)
    _next_hour(loop)
    agent = loop.agent()

    report = agent.run_once()

    assert report.acted
    assert report.windows == 1
    (plan_id,) = report.created
    plan = loop.automation.plan(plan_id)
    assert plan.trigger["kind"] == "drift"
    assert (plan.state, plan.step, plan.version) == ("waiting", "watch", 2)
    canary = DeploymentClient(loop.settings).get("churn-api").policy
    assert [(r.target, r.weight) for r in canary.routes] == [("@production", 70), ("v2", 30)]

    counts = loop.send(60, shift=2.0, every_s=10)  # ten minutes of canary traffic
    assert counts.get(2, 0) >= 15
    report = agent.run_once()

    plan = loop.automation.plan(plan_id)
    assert plan.state == "promoted", plan.reason
    assert loop.production() == 2
    assert DeploymentClient(loop.settings).get("churn-api").policy == TrafficPolicy.follow(
        "production"
    )
    figures = plan.details["canary"]
    assert figures["canary"]["metric"] > figures["champion"]["metric"]
    store = open_store(loop.settings.db_url)
    with store.read() as conn:
        run_edges = edges_of(conn, ("run", plan.pipeline_run_id), "out")
        version_edges = edges_of(conn, ("model_version", "churn/2"), "out")
    alert = ("alert", str(plan.trigger["alert"]))
    assert any(
        (e["edge"], e["dst_kind"], e["dst_id"]) == ("triggered_by", *alert) for e in run_edges
    )
    assert any(
        (e["edge"], e["dst_kind"], e["dst_id"]) == ("triggered_by", *alert) for e in version_edges
    )


def _reregister(loop: Loop, **options: object) -> None:
    from loopml.pipelines import on_dataset, register_pipeline

    options.setdefault("triggers", [on_dataset("churn_train")])
    register_pipeline(RETRAIN, name="retrain-churn", settings=loop.settings, **options)


def test_a_worse_challenger_is_rejected_and_production_is_unchanged(loop: Loop) -> None:
    _only(loop, retrain_on=["manual"])
    _reregister(loop, params={"kind": "worse"})
    loop.shift(0.0)  # new rows: the training is not a cache hit
    request = loop.automation.trigger("retrain-churn", reason="try the new features")
    before = DeploymentClient(loop.settings).get("churn-api")

    report = loop.agent().run_once()

    (plan_id,) = report.created
    plan = loop.automation.plan(plan_id)
    assert plan.trigger == {**plan.trigger, "kind": "manual", "request": request}
    assert plan.state == "rejected"
    assert "failed the gates" in (plan.reason or "")
    assert "accuracy >= 0.7" in (plan.reason or "")
    assert loop.production() == 1
    assert loop.registry.get_version("churn", 2).status.value == "rejected"
    after = DeploymentClient(loop.settings).get("churn-api")
    assert (after.policy, after.revision) == (before.policy, before.revision)


def test_a_canary_that_fails_live_is_rolled_back(loop: Loop) -> None:
    _only(loop, retrain_on=["manual"])
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()
    (plan_id,) = agent.run_once().created
    assert loop.automation.plan(plan_id).step == "watch"

    counts = loop.send(80, shift=2.0, fail=2, every_s=2)  # the new version fails every request
    assert counts[2] >= 15
    agent.run_once()  # judged before the ten minutes are up: the errors are plain

    plan = loop.automation.plan(plan_id)
    assert plan.state == "rolled_back"
    assert "failed 100.0%" in (plan.reason or "")
    deployment = DeploymentClient(loop.settings).get("churn-api")
    assert deployment.policy == TrafficPolicy.follow("production")
    assert loop.production() == 1
    assert loop.registry.get_version("churn", 2).status.value == "rejected"
    history = [r.reason or "" for r in DeploymentClient(loop.settings).history("churn-api")]
    assert any("rolled back models:/churn/2" in reason for reason in history)


def test_an_approval_gated_plan_waits_then_proceeds(loop: Loop, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    loop.registry.set_policy(
        "churn", {"gates": list(GATES), "require_approval": True, "approver_role": "ml-lead"}
    )
    _only(loop, retrain_on=["manual"])
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()
    (plan_id,) = agent.run_once().created

    plan = loop.automation.plan(plan_id)
    assert (plan.state, plan.step) == ("waiting", "approve")
    assert "role ml-lead" in (plan.reason or "")
    assert "loopml models approve churn 2" in (plan.reason or "")
    agent.run_once()  # still nobody approved: it keeps waiting, with one log line
    assert loop.automation.plan(plan_id).state == "waiting"
    assert len(loop.automation.plan(plan_id).details["log"]) == len(plan.details["log"])

    loop.registry.grant_role("ana", "ml-lead")
    monkeypatch.setenv("LOOPML_USER", "ana")
    loop.registry.approve("churn", 2, comment="looked at the slices")
    agent.run_once()

    plan = loop.automation.plan(plan_id)
    assert (plan.state, plan.step) == ("waiting", "watch")


def test_new_data_fires_once_and_cool_down_holds_the_next_back(loop: Loop) -> None:
    _only(loop, retrain_on=["dataset"], cooldown="6h", canary_share=0)
    loop.shift(2.0)
    agent = loop.agent()

    first = agent.run_once()
    again = agent.run_once()

    (plan_id,) = first.created
    plan = loop.automation.plan(plan_id)
    assert plan.trigger["kind"] == "dataset"
    assert plan.trigger["version"] == 2
    assert plan.state == "promoted"  # no canary in this policy
    assert loop.production() == 2
    assert again.created == []
    loop.clock.advance(seconds=600)
    loop.shift(2.5)
    (held,) = agent.run_once().created
    skipped = loop.automation.plan(held)
    assert skipped.state == "skipped"
    assert "cool-down" in (skipped.reason or "")
    assert loop.production() == 2


def test_a_schedule_fires_once_per_due_time(loop: Loop) -> None:
    _only(loop, retrain_on=["schedule"], canary_share=0)
    _reregister(loop, schedule="0 * * * *", triggers=[])
    agent = loop.agent()
    assert agent.run_once().created == []  # registered just now: the next hour is not due

    _next_hour(loop)
    loop.shift(2.0)
    (plan_id,) = agent.run_once().created
    assert agent.run_once().created == []

    plan = loop.automation.plan(plan_id)
    assert plan.trigger["kind"] == "schedule"
    assert plan.state == "promoted"


def test_a_webhook_needs_its_token(loop: Loop) -> None:
    import pytest

    from loopml.errors import UnauthorizedError
    from loopml.pipelines import on_webhook, register_pipeline

    _only(loop, retrain_on=["webhook"])
    registered = register_pipeline(
        RETRAIN, name="retrain-churn", triggers=[on_webhook()],
        settings=loop.settings,
    )  # fmt: skip
    token = registered.webhook_token
    assert token
    with pytest.raises(UnauthorizedError, match="token refused"):
        loop.automation.call_webhook("retrain-churn", "not-the-token")
    with pytest.raises(UnauthorizedError, match="token refused"):
        loop.automation.call_webhook("no-such-pipeline", token)
    loop.automation.call_webhook("retrain-churn", token)
    loop.shift(2.0)
    (plan_id,) = loop.agent().run_once().created
    assert loop.automation.plan(plan_id).trigger["kind"] == "webhook"


def test_cancelling_a_canary_restores_the_traffic(loop: Loop) -> None:
    _only(loop, retrain_on=["manual"])
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()
    (plan_id,) = agent.run_once().created

    cancelled = loop.automation.cancel(plan_id, reason="holiday freeze")
    agent.run_once()

    assert loop.automation.plan(plan_id).state == "cancelled"
    assert "holiday freeze" in (cancelled.reason or "")
    assert DeploymentClient(loop.settings).get("churn-api").policy == TrafficPolicy.follow(
        "production"
    )
    assert loop.production() == 1


def test_a_rejected_approval_ends_the_plan(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    loop.registry.set_policy("churn", {"gates": list(GATES), "require_approval": True})
    _only(loop, retrain_on=["manual"])
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()
    (plan_id,) = agent.run_once().created
    assert loop.automation.plan(plan_id).step == "approve"

    monkeypatch.setenv("LOOPML_USER", "ana")
    loop.registry.reject("churn", 2, comment="the slices look off")
    agent.run_once()

    plan = loop.automation.plan(plan_id)
    assert plan.state == "rejected"
    assert "ana rejected models:/churn/2" in (plan.reason or "")
    assert loop.production() == 1


def test_the_daily_budget_holds_automatic_retrains_back(loop: Loop) -> None:
    _only(loop, retrain_on=["dataset", "manual"], cooldown="0s", max_retrains_per_day=1,
          canary_share=0)  # fmt: skip
    agent = loop.agent()
    loop.shift(2.0)
    (first,) = agent.run_once().created
    loop.clock.advance(seconds=60)
    loop.shift(2.5)
    (second,) = agent.run_once().created

    assert loop.automation.plan(first).state == "promoted"
    held = loop.automation.plan(second)
    assert held.state == "skipped"
    assert "budget" in (held.reason or "")
    assert "allows 1" in (held.reason or "")
    loop.automation.trigger("retrain-churn", reason="a person is not held back")
    (third,) = agent.run_once().created
    assert loop.automation.plan(third).state != "skipped"


def test_a_canary_trained_on_data_unlike_its_traffic_is_rolled_back(loop: Loop) -> None:
    _only(loop, retrain_on=["manual"], max_metric_drop=1.0)  # only the drift can stop it
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()
    (plan_id,) = agent.run_once().created

    loop.send(60, shift=0.0, every_s=10)  # the traffic is the old world's, not the new data's
    agent.run_once()

    plan = loop.automation.plan(plan_id)
    assert plan.state == "rolled_back"
    assert "drifted from its own training data" in (plan.reason or "")
    drift = plan.details["canary"]["drift"]
    assert drift["reference"] == "datasets:/churn_train/2"
    assert "x1" in drift["features"]
    assert loop.production() == 1


def test_a_canary_worse_on_labelled_live_traffic_is_rolled_back(loop: Loop) -> None:
    _only(loop, retrain_on=["manual"], rollback_on_drift=False)  # only the labels can stop it
    loop.shift(2.0)  # it learns a boundary the live traffic does not follow
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()
    (plan_id,) = agent.run_once().created

    loop.send(80, shift=0.0, every_s=10)
    agent.run_once()

    plan = loop.automation.plan(plan_id)
    assert plan.state == "rolled_back", plan.reason
    assert "accuracy" in (plan.reason or "")
    assert "worse than the champion's" in (plan.reason or "")
    drop = plan.details["canary"]["metric_drop"]
    assert drop["observed"] > drop["at_least"] > 0.05
    assert loop.production() == 1
