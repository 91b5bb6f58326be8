"""Webhooks against a real HTTP server on 127.0.0.1: order, signatures, retries, dead ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _registry_packages import LogPackage

from loopml.errors import InvalidInputError, NotFoundError
from loopml.registry.client import RegistryClient

WAIT = 30.0  # an upper bound for deliveries; they take well under a second when healthy


@dataclass
class Receiver:
    """An HTTP server that records what it gets and fails the first ``fail_first`` POSTs."""

    server: ThreadingHTTPServer
    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    @property
    def events(self) -> list[dict[str, Any]]:
        """The bodies answered with 2xx, in the order they arrived."""
        with self.lock:
            pairs = zip(self.requests, self.answered, strict=True)
            return [json.loads(body) for (_, body), status in pairs if status == 204]


def _start(port: int = 0, fail_first: int = 0) -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                status = 500 if len(receiver.requests) < receiver.fail_first else 204
                receiver.requests.append((dict(self.headers), body))
                receiver.answered.append(status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver = Receiver(server, fail_first)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = _start()
    yield started
    started.server.shutdown()
    started.server.server_close()


def _changes(registry: RegistryClient, log_package: LogPackage) -> None:
    registry.register(log_package(), "churn")
    registry.set_alias("churn", "staging", 1)
    registry.update_version("churn", 1, description="first")


def test_events_arrive_in_order_signed_and_move_the_cursor(
    registry: RegistryClient, log_package: LogPackage, receiver: Receiver
) -> None:
    registry.create_model("churn")  # before the webhook: not delivered
    hook = registry.add_webhook(receiver.url, secret="s3cret")
    assert hook.has_secret
    assert hook.cursor == 1
    _changes(registry, log_package)
    assert registry.deliver_pending(timeout=WAIT)
    expected = [e.to_dict() for e in registry.list_events(after=1)]
    assert receiver.events == expected
    assert [e["kind"] for e in expected] == ["model_version.created", "alias.set",
                                            "model_version.updated"]  # fmt: skip
    for (headers, body), event in zip(receiver.requests, expected, strict=True):
        signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Loopml-Signature"], signature)
        assert headers["X-Loopml-Event"] == event["kind"]
        assert headers["X-Loopml-Delivery"] == str(event["id"])
        assert headers["Content-Type"] == "application/json"
    [stored] = registry.list_webhooks()
    assert (stored.cursor, stored.failures, stored.last_error) == (expected[-1]["id"], 0, None)
    assert stored.last_delivery_at is not None


def test_a_webhook_gets_only_the_kinds_and_model_it_asked_for(
    registry: RegistryClient, log_package: LogPackage, receiver: Receiver
) -> None:
    registry.create_model("churn")
    registry.create_model("fraud")
    registry.add_webhook(receiver.url, events=["alias.set"], model="churn")
    _changes(registry, log_package)
    registry.register(log_package(), "fraud")
    registry.set_alias("fraud", "staging", 1)
    assert registry.deliver_pending(timeout=WAIT)
    assert [(e["kind"], e["model"]) for e in receiver.events] == [("alias.set", "churn")]
    assert "X-Loopml-Signature" not in receiver.requests[0][0]
    [stored] = registry.list_webhooks()
    assert stored.cursor == registry.list_events(limit=1000)[-1].id  # skipped past the rest


def test_a_server_failing_twice_gets_the_event_on_the_third_try(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    flaky = _start(fail_first=2)
    try:
        registry.add_webhook(flaky.url)
        _changes(registry, log_package)
        assert registry.deliver_pending(timeout=WAIT)
        assert flaky.answered[:3] == [500, 500, 204]
        assert [e["kind"] for e in flaky.events] == [
            "model.created", "model_version.created", "alias.set", "model_version.updated"
        ]  # fmt: skip
        first_ids = {json.loads(body)["id"] for (_, body) in flaky.requests[:3]}
        assert len(first_ids) == 1  # the same event was retried, nothing skipped ahead
        assert registry.list_webhooks()[0].failures == 0
    finally:
        flaky.server.shutdown()
        flaky.server.server_close()


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_receiver_never_holds_up_a_change_and_loses_nothing(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    port = _dead_port()
    registry.add_webhook(f"http://127.0.0.1:{port}/hooks")
    _changes(registry, log_package)  # how long this takes is measured in bench/registry.py
    assert registry.deliver_pending(timeout=0.3) is False
    [hook] = registry.list_webhooks()
    assert hook.cursor == 0  # nothing was acknowledged, so nothing is skipped
    late = _start(port=port)  # the receiver comes up on the same port
    try:
        assert registry.deliver_pending(timeout=WAIT)
        assert [e["id"] for e in late.events] == [e.id for e in registry.list_events()]
    finally:
        late.server.shutdown()
        late.server.server_close()
    [hook] = registry.list_webhooks()
    assert (hook.cursor, hook.failures) == (registry.list_events()[-1].id, 0)


def test_webhooks_are_added_checked_listed_and_removed(
    registry: RegistryClient, receiver: Receiver
) -> None:
    for url in ("ftp://example.com/hook", "example.com/hook", "http:///nohost", 3):
        with pytest.raises(InvalidInputError, match="URL"):
            registry.add_webhook(url)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"unknown event kind\(s\) 'alias.moved'"):
        registry.add_webhook(receiver.url, events=["alias.moved"])
    with pytest.raises(NotFoundError, match="model 'churn' not found"):
        registry.add_webhook(receiver.url, model="churn")
    with pytest.raises(InvalidInputError, match="secret"):
        registry.add_webhook(receiver.url, secret="")
    hook = registry.add_webhook(receiver.url, events=["alias.set", "alias.removed"])
    assert registry.list_webhooks() == [hook]
    assert hook.events == ("alias.removed", "alias.set")
    with pytest.raises(NotFoundError, match=rf"webhooks: {hook.id} \(http://127.0.0.1"):
        registry.remove_webhook("nope")
    assert registry.remove_webhook(hook.id) == hook
    assert registry.list_webhooks() == []
    registry.create_model("churn")
    assert registry.deliver_pending(timeout=WAIT)  # no webhooks: nothing to wait for
    assert receiver.requests == []
