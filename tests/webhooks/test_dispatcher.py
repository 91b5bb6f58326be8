"""The shared dispatcher against a real store: a webhook that keeps failing, and why."""

from __future__ import annotations

from _receiver import dead_port

from loopml.registry.client import RegistryClient
from loopml.registry.webhooks import FEED
from loopml.webhooks import Dispatcher


def test_a_webhook_that_keeps_failing_records_why(registry: RegistryClient) -> None:
    hook = registry.add_webhook(f"http://127.0.0.1:{dead_port()}/hooks")
    registry.create_model("churn")
    quick = Dispatcher(registry.store, FEED, attempts=2, backoff=0.01, timeout=1.0)
    try:
        assert quick.deliver_pending(timeout=0.5) is False
    finally:
        quick.stop()
    [stored] = registry.list_webhooks()
    assert stored.id == hook.id
    assert stored.failures >= 1
    assert stored.last_error is not None
    assert "cannot reach" in stored.last_error
    assert stored.cursor == hook.cursor
