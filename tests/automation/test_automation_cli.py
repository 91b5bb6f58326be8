"""``loopml automation``, ``trigger``, ``agent``, ``plans`` and ``status`` on the loop."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from loopml.cli import app

from ._loop_support import Loop


def _run(loop: Loop, *args: str) -> Result:
    s = loop.settings
    prefix = ["--home", str(s.home), "--db-url", s.db_url, "--artifacts", s.artifacts_url]
    return CliRunner().invoke(app, [*prefix, *args])


def _json(loop: Loop, *args: str) -> Any:
    result = _run(loop, *args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_policy_trigger_agent_plans_and_status(loop: Loop) -> None:
    policy = _json(
        loop, "automation", "set", "churn", "--pipeline", "retrain-churn",
        "--evaluate-on", "datasets:/churn_holdout@latest", "--target", "churned",
        "--retrain-on", "manual", "--canary", "0", "--cooldown", "30m",
    )  # fmt: skip
    assert (policy["retrain_on"], policy["cooldown"], policy["deployment"]) == (
        ["manual"],
        "30m",
        None,
    )
    assert _json(loop, "automation", "show", "churn")["pipeline"] == "retrain-churn"
    assert [p["model"] for p in _json(loop, "automation", "list")] == ["churn"]
    shown = _run(loop, "automation", "show", "churn")
    assert "cool-down 30m" in shown.stdout

    loop.shift(2.0)
    request = _json(loop, "trigger", "retrain-churn", "--reason", "fresh labels", "--now")
    assert request["pass"]["acted"] is True
    (plan_id,) = request["pass"]["created"]

    plans = _json(loop, "plans", "list", "--model", "churn")
    assert [(p["id"], p["state"], p["version"]) for p in plans] == [(plan_id, "promoted", 2)]
    shown = _json(loop, "plans", "show", str(plan_id))
    steps = [line["step"] for line in shown["details"]["log"]]
    assert steps[:3] == ["train", "train", "register"]
    assert steps[-1] == "end"
    text = _run(loop, "plans", "show", str(plan_id)).stdout
    assert "promoted models:/churn/2 to @production" in text

    status = _json(loop, "status", "churn")
    assert status["production"]["version"] == 2
    assert status["data"][0]["uri"] == "datasets:/churn_train/2"
    assert status["last_trigger"]["summary"] == "manual by tester: fresh labels"
    assert status["plans"] == []
    screen = _run(loop, "status").stdout
    assert "models:/churn/2" in screen
    assert "manual by tester" in screen

    again = _json(loop, "agent", "--once")
    assert (again["acted"], again["created"]) == (True, [])


def test_bad_input_is_named_with_the_fix(loop: Loop) -> None:
    bad_duration = _run(loop, "automation", "set", "churn", "--pipeline", "retrain-churn",
                        "--canary-for", "ten minutes")  # fmt: skip
    assert bad_duration.exit_code == 2
    assert "canary_for 'ten minutes' is not a duration" in bad_duration.stderr
    no_pipeline = _run(loop, "automation", "set", "churn", "--pipeline", "retrain-chrn")
    assert no_pipeline.exit_code == 1
    assert "retrain-churn" in no_pipeline.stderr  # the close name is suggested
    wrong_model = _run(loop, "automation", "set", "churn", "--pipeline", "retrain-churn",
                       "--retrain-on", "sometimes")  # fmt: skip
    assert "retrain_on ['sometimes'] unknown" in wrong_model.stderr
    unknown_state = _run(loop, "plans", "list", "--state", "sleeping")
    assert unknown_state.exit_code == 2
    assert "unknown plan state(s) ['sleeping']" in unknown_state.stderr
    missing = _run(loop, "plans", "show", "99")
    assert missing.exit_code == 1
    assert "loopml plans list" in missing.stderr
    nothing = _run(loop, "trigger", "no-such-pipeline")
    assert nothing.exit_code == 1
    assert "loopml pipeline schedules" in nothing.stderr
