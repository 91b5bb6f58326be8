"""The closed loop end to end on small data with the fake clock (SQLite and PostgreSQL)."""

from __future__ import annotations

from conftest import Loop

from loopml.automation import AutomationPolicy
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import TrafficPolicy
from loopml.store import open_store
from loopml.store.lineage import edges_of

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

    assert report.acted and report.windows == 1
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
    assert any((e["edge"], e["dst_kind"], e["dst_id"]) == ("triggered_by", *alert) for e in run_edges)
    assert any(
        (e["edge"], e["dst_kind"], e["dst_id"]) == ("triggered_by", *alert) for e in version_edges
    )
