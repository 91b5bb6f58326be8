"""Routing, shadow, payload log, metrics and sockets of the serving app, over real uvicorn."""

from __future__ import annotations

import socket
import threading
from collections import Counter

import numpy as np
import pytest
import requests
import uvicorn
from _serving_models import DOUBLER_EXAMPLE, Exploding, doubler
from _serving_support import ListSink, Register, RunServer
from prometheus_client.parser import text_string_to_metric_families

import loopml
from loopml.registry import RegistryClient
from loopml.serving import PayloadLogSettings, Route, Routing, TrafficPolicy
from loopml.serving.app import ServingApp
from loopml.serving.control import load_version
from loopml.serving.runtime import Endpoint
from loopml.serving.server import bind_socket, nodelay_protocol


def _endpoint(
    registry: RegistryClient,
    policy: TrafficPolicy,
    payload_log: PayloadLogSettings | None = None,
    model: str = "doubler",
) -> Endpoint:
    targets = {
        route.target: load_version(registry, model, int(route.version or 0))
        for route in policy.targets()
    }
    return Endpoint(model, Routing(policy, targets, payload_log or PayloadLogSettings()))


def _infer(url: str, request_id: str, rows: list[list[float]], **headers: str) -> requests.Response:
    body = {
        "id": request_id,
        "inputs": [
            {"name": "x", "shape": [len(rows), len(rows[0])], "datatype": "FP32", "data": rows}
        ],
    }
    return requests.post(f"{url}/v2/models/doubler/infer", json=body, headers=headers, timeout=10)


def test_shadow_logs_both_outputs_under_one_request_id(
    two_versions: None, registry: RegistryClient, run_server: RunServer
) -> None:
    policy = TrafficPolicy(routes=(Route(version=1),), shadow=Route(version=2))
    sink = ListSink()
    url = run_server(ServingApp([_endpoint(registry, policy)], sinks={"doubler": sink}))
    reply = _infer(url, "req-1", [[1, 2, 3]])
    assert reply.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0]  # only the primary answers
    assert reply.json()["model_version"] == "1"
    records = sink.wait_for(2)
    by_role = {record.role: record for record in records}
    assert set(by_role) == {"primary", "shadow"}
    assert {record.request_id for record in records} == {"req-1"}
    primary, shadow = by_role["primary"], by_role["shadow"]
    assert (primary.version, shadow.version) == (1, 2)
    np.testing.assert_array_equal(primary.outputs["predict"], [[2.0, 4.0, 6.0]])
    np.testing.assert_array_equal(shadow.outputs["predict"], [[102.0, 104.0, 106.0]])
    np.testing.assert_array_equal(shadow.inputs["input"], [[1, 2, 3]])
    assert shadow.inputs["input"] is not primary.inputs["input"]  # its own copy
    assert shadow.status == primary.status == 200


def test_a_failing_challenger_never_fails_the_request(
    register: Register, registry: RegistryClient, run_server: RunServer
) -> None:
    register(doubler(0.0), "doubler", input_example=DOUBLER_EXAMPLE)
    register(Exploding(), "doubler")
    policy = TrafficPolicy(routes=(Route(version=1),), shadow=Route(version=2))
    sink = ListSink()
    url = run_server(ServingApp([_endpoint(registry, policy)], sinks={"doubler": sink}))
    for n in range(5):
        reply = _infer(url, f"req-{n}", [[1, 2, 3]])
        assert reply.status_code == 200
    records = sink.wait_for(10)
    shadows = [record for record in records if record.role == "shadow"]
    assert len(shadows) == 5
    assert all(record.status == 500 and record.outputs is None for record in shadows)
    assert "model doubler/2 failed: RuntimeError: the challenger is broken" in str(shadows[0].error)
    assert {record.request_id for record in shadows} == {f"req-{n}" for n in range(5)}


def test_the_payload_log_gets_every_call_with_its_outcome(
    two_versions: None, registry: RegistryClient, run_server: RunServer
) -> None:
    sink = ListSink()
    url = run_server(
        ServingApp([_endpoint(registry, TrafficPolicy.pinned(1))], sinks={"doubler": sink})
    )
    assert _infer(url, "good", [[1, 2, 3], [4, 5, 6]]).status_code == 200
    assert _infer(url, "bad", [[1, 2]]).status_code == 400
    good, bad = sink.wait_for(2)
    assert (good.request_id, good.deployment, good.model, good.version) == (
        "good", "doubler", "doubler", 1
    )  # fmt: skip
    assert good.inputs["input"].dtype == np.float32  # as the model saw them: cast
    assert good.status == 200
    assert good.error is None
    assert good.latency_ms > 0
    assert good.time_ms > 0
    assert bad.status == 400
    assert bad.outputs is None
    assert "expected shape" in str(bad.error)


@pytest.mark.parametrize(
    ("log_settings", "logged", "with_inputs"),
    [
        (PayloadLogSettings(log_inputs=False), 1, False),
        (PayloadLogSettings(sample_rate=0.0), 0, False),
        (PayloadLogSettings(enabled=False), 0, False),
    ],
)
def test_payload_log_settings_are_applied(
    two_versions: None,
    registry: RegistryClient,
    run_server: RunServer,
    log_settings: PayloadLogSettings,
    logged: int,
    with_inputs: bool,
) -> None:
    sink = ListSink()
    endpoint = _endpoint(registry, TrafficPolicy.pinned(1), log_settings)
    url = run_server(ServingApp([endpoint], sinks={"doubler": sink}))
    assert _infer(url, "r", [[1, 2, 3]]).status_code == 200
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 200  # a round trip later
    assert len(sink.wait_for(logged, timeout=10)) == logged
    assert all((record.inputs is not None) == with_inputs for record in sink.records)


def test_a_routing_key_always_lands_on_the_same_version(
    two_versions: None, registry: RegistryClient, run_server: RunServer
) -> None:
    policy = TrafficPolicy(routes=(Route(version=1, weight=50), Route(version=2, weight=50)))
    url = run_server([_endpoint(registry, policy)])
    for key in ("alice", "bob", "carol", "dave"):
        versions = {
            _infer(url, key, [[1, 2, 3]], **{"loopml-key": key}).json()["model_version"]
            for _ in range(5)
        }
        assert len(versions) == 1
    unkeyed = Counter(_infer(url, "r", [[1, 2, 3]]).json()["model_version"] for _ in range(60))
    assert set(unkeyed) == {"1", "2"}  # both share the traffic (a miss: 2**-59)


def _samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_stages_batches_and_versions(
    two_versions: None, registry: RegistryClient, run_server: RunServer
) -> None:
    url = run_server([_endpoint(registry, TrafficPolicy.pinned(2))])
    for _ in range(3):
        assert _infer(url, "r", [[1, 2, 3], [4, 5, 6]]).status_code == 200
    assert _infer(url, "r", [[1, 2]]).status_code == 400
    samples = _samples(url)

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    assert (
        value("loopml_serving_requests_total", deployment="doubler", version="2", code="200") == 3
    )
    assert (
        value("loopml_serving_requests_total", deployment="doubler", version="2", code="400") == 1
    )
    for stage in ("parse", "queue", "predict", "serialize"):
        assert value("loopml_serving_latency_seconds_count", deployment="doubler", stage=stage) == 3
    assert value("loopml_serving_batch_size_sum", deployment="doubler") == 6
    assert value("loopml_serving_model_load_seconds", deployment="doubler", version="2") > 0
    assert value("loopml_serving_versions_loaded", deployment="doubler") == 1
    assert value("loopml_serving_payload_queue_depth", deployment="doubler") == 0
    assert value("loopml_serving_payload_dropped", deployment="doubler") == 0


def test_accepted_connections_get_tcp_nodelay(two_versions: None, registry: RegistryClient) -> None:
    sink = ListSink()
    app = ServingApp([_endpoint(registry, TrafficPolicy.pinned(1))], sinks={"doubler": sink})
    sock = bind_socket("127.0.0.1", 0)  # bound by hand, as the pre-forked workers share it
    config = uvicorn.Config(app, http=nodelay_protocol(), loop="uvloop", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with requests.Session() as session:  # one kept-alive connection
            for _ in range(3):
                assert session.get(f"{url}/v2/health/ready", timeout=10).status_code == 200
            connections = list(server.server_state.connections)
            assert connections
            for protocol in connections:
                accepted = protocol.transport.get_extra_info("socket")
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        server.should_exit = True
        thread.join(30)
    assert sink.closed  # the lifespan's shutdown flushed and closed the payload log


def test_readiness_is_false_once_the_app_closes(
    two_versions: None, registry: RegistryClient, run_server: RunServer
) -> None:
    app = ServingApp([_endpoint(registry, TrafficPolicy.pinned(1))])
    url = run_server(app)
    app.close()  # what shutdown does first: load balancers stop sending traffic
    ready = requests.get(f"{url}/v2/health/ready", timeout=10)
    assert (ready.status_code, ready.json()) == (400, {"ready": False})
    model = requests.get(f"{url}/v2/models/doubler/ready", timeout=10)
    assert (model.status_code, model.json()) == (400, {"name": "doubler", "ready": False})
    assert requests.get(f"{url}/ping", timeout=10).status_code == 503
    assert requests.get(f"{url}/version", timeout=10).text == loopml.__version__
    assert requests.get(f"{url}/v2/health/live", timeout=10).json() == {"live": True}
