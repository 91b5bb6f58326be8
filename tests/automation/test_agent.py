"""The agent's guarantees: one acts at a time, each event is handled once, a killed agent
is resumed without training twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from loopml.automation import Agent, Lease
from loopml.store import open_store

from ._loop_support import RETRAIN, Loop


def _manual_only(loop: Loop) -> None:
    from loopml.automation import AutomationPolicy

    policy = loop.automation.get_policy("churn").to_dict()
    loop.automation.set_policy(
        "churn", AutomationPolicy.from_dict({**policy, "retrain_on": ["manual"]})
    )


def test_two_agents_never_both_act(loop: Loop) -> None:
    first = loop.agent(holder="agent-a", lease_ttl_ms=30_000)
    second = loop.agent(holder="agent-b", lease_ttl_ms=30_000)

    assert first.run_once().acted
    standing_by = second.run_once()
    assert not standing_by.acted
    assert standing_by.holder == "agent-a"
    assert first.run_once().acted  # renewing its own lease

    loop.clock.advance(seconds=31)  # agent-a stopped renewing: its lease expired
    assert second.run_once().acted
    assert not first.run_once().acted


def test_racing_agents_take_the_lease_once(loop: Loop) -> None:
    store = open_store(loop.settings.db_url)
    leases = [Lease(store, holder=f"agent-{i}", ttl_ms=60_000) for i in range(6)]
    barrier = threading.Barrier(len(leases))
    won: list[str] = []

    def race(lease: Lease) -> None:
        barrier.wait()
        if lease.acquire():
            won.append(lease.holder)

    threads = [threading.Thread(target=race, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(won) == 1
    current = Lease.current(store)
    assert current is not None
    assert current.holder == won[0]


def test_a_request_starts_one_plan_however_many_passes_see_it(loop: Loop) -> None:
    _manual_only(loop)
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()

    created = [agent.run_once().created for _ in range(3)]

    assert len(created[0]) == 1
    assert created[1:] == [[], []]
    assert len(loop.automation.plans(model="churn")) == 1


def test_a_stale_agent_cannot_write_after_losing_its_lease(loop: Loop) -> None:
    from loopml.automation import LeaseLostError

    _manual_only(loop)
    loop.shift(2.0)
    stale = loop.agent(holder="stale", lease_ttl_ms=10_000)
    assert stale.run_once().acted
    loop.clock.advance(seconds=11)
    fresh = loop.agent(holder="fresh", lease_ttl_ms=10_000)
    assert fresh.run_once().acted
    loop.automation.trigger("retrain-churn")
    (plan,) = fresh.run_once().created

    with pytest.raises(LeaseLostError, match="now held by fresh"):
        stale.rollout.advance(loop.automation.plan(plan))


def test_a_killed_agent_is_resumed_without_training_twice(loop: Loop, tmp_path: Path) -> None:
    from loopml.pipelines import on_dataset, register_pipeline

    _manual_only(loop)
    register_pipeline(
        RETRAIN, name="retrain-churn", params={"kind": "slow"},
        triggers=[on_dataset("churn_train")], settings=loop.settings,
    )  # fmt: skip
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    marker = tmp_path / "training-started"
    env = {
        **os.environ,
        "LOOPML_TEST_MARKER": str(marker),
    }
    loopml = Path(sys.executable).parent / "loopml"
    doomed = subprocess.Popen(
        [str(loopml), "agent", "--once", "--holder", "doomed", "--lease-ttl", "2", "--no-monitors"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert doomed.poll() is None, doomed.stderr.read().decode() if doomed.stderr else ""
        assert time.monotonic() < deadline, "the agent never started training"
        time.sleep(0.1)
    doomed.send_signal(signal.SIGKILL)  # mid-training, its lease still held
    doomed.wait(timeout=30)
    if doomed.stderr is not None:
        doomed.stderr.close()
    (plan,) = loop.automation.plans(model="churn")
    assert (plan.step, plan.pipeline_run_id is not None) == ("train", True)

    loop.clock.set(time.time() + 5)  # the dead agent's lease (real clock) has expired
    os.environ["LOOPML_TEST_MARKER"] = str(marker)
    try:
        report = Agent(loop.settings, holder="heir", run_monitors=False).run_once()
    finally:
        del os.environ["LOOPML_TEST_MARKER"]

    assert report.acted
    assert report.created == []
    resumed = loop.automation.plan(plan.id)
    assert (resumed.state, resumed.step, resumed.version) == ("waiting", "watch", 2), resumed.reason
    starts = [line for line in resumed.details["log"] if line["message"] == "training"]
    assert len(starts) == 2  # the killed attempt, then the resumed one
    versions = loop.registry.list_versions("churn")
    assert [v.version for v in versions] == [1, 2]
    assert len(loop.automation.plans(model="churn")) == 1


def test_a_pipeline_that_breaks_fails_its_plan_and_the_agent_goes_on(
    loop: Loop, tmp_path: Path
) -> None:
    from loopml.pipelines import on_dataset, register_pipeline

    _manual_only(loop)
    flow = tmp_path / "fragile.py"
    flow.write_text((Path(__file__).parent / "_loop_pipeline.py").read_text())
    register_pipeline(
        f"{flow}:retrain", name="retrain-churn", triggers=[on_dataset("churn_train")],
        settings=loop.settings,
    )  # fmt: skip
    flow.write_text("this is not python\n")  # broken after it was registered
    loop.shift(2.0)
    loop.automation.trigger("retrain-churn")
    agent = loop.agent()

    report = agent.run_once()

    (plan_id,) = report.created
    plan = loop.automation.plan(plan_id)
    assert plan.state == "failed"
    assert "fragile.py" in (plan.reason or "")
    assert agent.run_once().acted  # the agent is still there for the next pass
