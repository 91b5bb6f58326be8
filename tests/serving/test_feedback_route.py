"""POST /feedback over a real uvicorn: labels for real predictions, joined once, bad bodies 400."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from _serving_support import RunServer, Served

from loopml.config import Settings
from loopml.monitoring import PayloadWriter, read_feedback, read_predictions
from loopml.registry import RegistryClient
from loopml.serving import PayloadLogSettings, Routing, TrafficPolicy
from loopml.serving._http import ServerLimits
from loopml.serving.app import MAX_FEEDBACK_ITEMS, ServingApp
from loopml.serving.control import load_version
from loopml.serving.runtime import Endpoint


def _endpoint(registry: RegistryClient, name: str = "doubler") -> Endpoint:
    targets = {"v1": load_version(registry, "doubler", 1)}
    return Endpoint(name, Routing(TrafficPolicy.pinned(1), targets, PayloadLogSettings()))


@pytest.fixture
def writer(settings: Settings) -> Iterator[PayloadWriter]:
    sink = PayloadWriter(settings, "doubler", flush_seconds=0.05)
    yield sink
    sink.close(timeout=30)


@pytest.fixture
def url(
    two_versions: None,
    registry: RegistryClient,
    settings: Settings,
    writer: PayloadWriter,
    run_server: RunServer,
) -> str:
    app = ServingApp(
        [_endpoint(registry)],
        sinks={"doubler": writer},
        settings=settings,
        limits=ServerLimits(max_body_bytes=64 * 1024),
    )
    return run_server(app)


def test_labels_for_served_requests_are_joined_once_even_when_sent_twice(
    url: str, settings: Settings, writer: PayloadWriter
) -> None:
    simple = requests.post(f"{url}/predict", json=[[1, 2, 3], [4, 5, 6]], timeout=10)
    assert simple.status_code == 200
    first = simple.headers["x-request-id"]
    body = {
        "id": "v2-request",
        "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [[1, 2, 3]]}],
    }
    v2 = requests.post(f"{url}/v2/models/doubler/infer", json=body, timeout=10)
    assert v2.status_code == 200
    second = v2.json()["id"]
    assert second == "v2-request"

    sent = [{"request_id": first, "label": 0}, {"id": second, "label": [1.5, 2.5]}]
    stored = requests.post(f"{url}/feedback", json=sent, timeout=10)
    assert stored.status_code == 200
    assert stored.json() == {"stored": 2, "replaced": 0, "duplicates": 0}
    again = requests.post(
        f"{url}/endpoints/doubler/feedback", json={"request_id": first, "label": 1}, timeout=10
    )
    assert again.json() == {"stored": 1, "replaced": 1, "duplicates": 0}

    assert writer.flush()
    frame = read_predictions("doubler", settings=settings, with_labels=True)
    assert len(frame) == 3  # two rows of the first request, one of the second
    labels = frame.groupby("request_id")["label"].agg(list).to_dict()
    assert labels == {first: [1, 1], second: [[1.5, 2.5]]}
    assert len(read_feedback("doubler", settings=settings)) == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b'{"request_id": "r", "label": NaN}', "not JSON"),
        (b"[]", "non-empty list"),
        (b'"r1"', "non-empty list"),
        (b'{"request_id": "", "label": 1}', "request id is empty"),
        (b'{"request_id": 12, "label": 1}', "must be a string"),
        (b'{"request_id": "r", "label": null}', "missing (null)"),
        (b'{"request_id": "r"}', "no label"),
        (b'{"request_id": "r", "label": 1, "extra": 1}', "unknown field"),
        (b'[{"request_id": "ok", "label": 1}, {"request_id": "", "label": 2}]', "item 1"),
        (b'{"request_id": "' + b"x" * 201 + b'", "label": 1}', "over 200"),
        (b"[" + b"[" * 100 + b"1" + b"]" * 100 + b"]", "item 0: expected an object"),
        (b"[" * 5_000 + b"]" * 5_000, "not JSON"),
        (b'{"id": "r", "label": ' + b"[" * 100 + b"1" + b"]" * 100 + b"}", "nested deeper"),
        (b'{"id": "r", "label": 1e999}', "infinity"),
        (b'{"id": "a\\u0000b", "label": 1}', "holds a NUL"),
    ],
)
def test_a_bad_body_gets_400_naming_the_problem_and_stores_nothing(
    url: str, settings: Settings, body: bytes, says: str
) -> None:
    reply = requests.post(f"{url}/feedback", data=body, timeout=10)
    assert reply.status_code == 400
    assert says in reply.json()["error"]["message"]
    assert read_feedback("doubler", settings=settings).empty


def test_a_body_over_the_limit_gets_413_and_stores_nothing(url: str, settings: Settings) -> None:
    many = [{"id": str(i), "label": 1} for i in range(5_000)]  # ~100 KiB, over 64 KiB
    assert requests.post(f"{url}/feedback", json=many, timeout=10).status_code == 413
    assert read_feedback("doubler", settings=settings).empty


def test_more_items_than_one_request_takes_get_400(
    two_versions: None, registry: RegistryClient, settings: Settings, run_server: RunServer
) -> None:
    url = run_server(ServingApp([_endpoint(registry)], settings=settings))
    many = [{"id": str(i), "label": 1} for i in range(MAX_FEEDBACK_ITEMS + 1)]
    reply = requests.post(f"{url}/feedback", json=many, timeout=30)
    assert reply.status_code == 400
    assert "loopml feedback" in reply.json()["error"]["message"]
    assert read_feedback("doubler", settings=settings).empty
    exact = requests.post(f"{url}/feedback", json=many[:MAX_FEEDBACK_ITEMS], timeout=30)
    assert exact.json()["stored"] == MAX_FEEDBACK_ITEMS


def test_with_two_endpoints_feedback_names_one(
    two_versions: None, registry: RegistryClient, settings: Settings, run_server: RunServer
) -> None:
    url = run_server(
        ServingApp([_endpoint(registry), _endpoint(registry, "other")], settings=settings)
    )
    bare = requests.post(f"{url}/feedback", json={"id": "r", "label": 1}, timeout=10)
    assert bare.status_code == 404
    assert "/endpoints/<name>/feedback" in bare.json()["error"]["message"]
    named = requests.post(
        f"{url}/endpoints/other/feedback", json={"id": "r", "label": 2}, timeout=10
    )
    assert named.status_code == 200
    assert list(read_feedback("other", settings=settings).label) == [2]
    assert read_feedback("doubler", settings=settings).empty


def test_routes_and_methods(url: str) -> None:
    assert requests.get(f"{url}/feedback", timeout=10).status_code == 405
    missing = requests.post(
        f"{url}/endpoints/nobody/feedback", json={"id": "r", "label": 1}, timeout=10
    )
    assert missing.status_code == 404


def test_loopml_serve_stores_feedback_where_the_payload_log_is(
    two_versions: None, settings: Settings, servers: list[Served]
) -> None:
    served = Served("models:/doubler/1")
    servers.append(served)
    reply = served.infer([[1.0, 2.0, 3.0]])
    assert reply.status_code == 200
    request_id = reply.headers["x-request-id"]
    stored = requests.post(
        f"{served.url}/feedback", json=[{"request_id": request_id, "label": 7}], timeout=30
    )
    assert stored.json() == {"stored": 1, "replaced": 0, "duplicates": 0}
    assert served.stop() == 0  # SIGTERM flushes the payload log
    frame = read_predictions("doubler", settings=settings, with_labels=True)
    assert list(zip(frame.request_id, frame.label, strict=True)) == [(request_id, 7)]
