"""The agent's webhook endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from loopml.automation import AutomationClient
from loopml.automation.hooks import MAX_BODY, WebhookListener
from loopml.pipelines import on_webhook, register_pipeline

from ._loop_support import RETRAIN, Loop


@pytest.fixture
def hooked(loop: Loop) -> Iterator[tuple[Loop, str, str]]:
    registered = register_pipeline(
        RETRAIN, name="retrain-churn", triggers=[on_webhook()], settings=loop.settings
    )
    assert registered.webhook_token
    listener = WebhookListener(loop.settings, "127.0.0.1", 0).start()
    try:
        yield loop, listener.url, registered.webhook_token
    finally:
        listener.stop()


def test_a_call_with_the_token_becomes_a_request_the_agent_runs(
    hooked: tuple[Loop, str, str],
) -> None:
    loop, url, token = hooked
    policy = {**loop.automation.get_policy("churn").to_dict(), "retrain_on": ["webhook"]}
    loop.automation.set_policy("churn", policy)
    loop.shift(2.0)

    reply = requests.post(
        f"{url}/hooks/pipelines/retrain-churn",
        headers={"Authorization": f"Bearer {token}"},
        json={"reason": "new labels landed"},
        timeout=30,
    )

    assert reply.status_code == 202
    assert reply.json()["pipeline"] == "retrain-churn"
    (plan_id,) = loop.agent().run_once().created
    plan = AutomationClient(loop.settings).plan(plan_id)
    assert plan.trigger["kind"] == "webhook"
    assert plan.trigger["request"] == reply.json()["request"]
    assert "new labels landed" in plan.trigger["summary"]


def test_bad_calls_get_clear_answers_and_start_nothing(hooked: tuple[Loop, str, str]) -> None:
    loop, url, token = hooked
    hook = f"{url}/hooks/pipelines/retrain-churn"
    wrong = requests.post(hook, headers={"X-Loopml-Token": "guess"}, timeout=30)
    unknown = requests.post(
        f"{url}/hooks/pipelines/nope", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "unauthorized"
    assert "token refused" in wrong.json()["error"]["message"]
    assert requests.get(hook, timeout=30).status_code == 405
    assert requests.post(f"{url}/elsewhere", timeout=30).status_code == 404
    huge = requests.post(
        hook, headers={"X-Loopml-Token": token}, data=b"x" * (MAX_BODY + 1), timeout=30
    )
    assert huge.status_code == 413
    garbled = requests.post(hook, headers={"X-Loopml-Token": token}, data=b"{no", timeout=30)
    assert garbled.status_code == 400
    assert loop.agent().run_once().created == []
