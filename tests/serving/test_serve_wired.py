"""``loopml serve`` end to end over real HTTP: what the server wires together.

The alias swap under load with the payload log read back, a canary split, sticky keys,
a shadow, and adaptive batching, each through a ``loopml serve`` subprocess and its
stores, as a user runs it.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from _serving_models import Exploding, data
from _serving_support import Register, Served
from prometheus_client.parser import text_string_to_metric_families

from loopml.config import Settings
from loopml.monitoring import read_predictions
from loopml.packaging.package import save_package
from loopml.registry import RegistryClient
from loopml.serving import Route, TrafficPolicy
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import Resources


def _body(request_id: str, rows: list[list[float]]) -> dict[str, object]:
    return {
        "id": request_id,
        "inputs": [
            {
                "name": "x",
                "shape": [len(rows), 3],
                "datatype": "FP32",
                "data": [v for row in rows for v in row],
            }
        ],
    }


def _expected(version: str, rows: list[list[float]]) -> list[float]:
    offset = 0.0 if version == "1" else 100.0
    return [value * 2 + offset for row in rows for value in row]


@dataclass
class Client:
    """One keep-alive client sending requests until told to stop; keeps every reply."""

    url: str
    name: str
    replies: list[tuple[str, int, str, list[float], list[list[float]]]] = field(
        default_factory=list
    )
    failures: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        with requests.Session() as session:
            count = 0
            while not stop.is_set():
                request_id = f"{self.name}-{count}"
                rows = [[float(count), 1.0, 2.0]]
                count += 1
                try:
                    reply = session.post(
                        f"{self.url}/v2/models/doubler-api/infer",
                        json=_body(request_id, rows),
                        timeout=30,
                    )
                except requests.RequestException as err:  # a failure, whatever it is
                    self.failures.append(f"{request_id}: {err}")
                    continue
                if reply.status_code != 200:
                    self.failures.append(f"{request_id}: {reply.status_code} {reply.text}")
                    continue
                answer = reply.json()
                self.replies.append(
                    (
                        answer["id"],
                        reply.status_code,
                        answer["model_version"],
                        answer["outputs"][0]["data"],
                        rows,
                    )
                )


def test_the_alias_swap_under_http_load_fails_nothing_and_the_log_has_every_request(
    staging: RegistryClient, deployments: DeploymentClient, settings: Settings,
    servers: list[Served],
) -> None:  # fmt: skip
    deployments.create("doubler-api", "doubler", TrafficPolicy.follow("staging"))
    served = Served("doubler-api", "--poll-seconds", "0.05")
    servers.append(served)
    stop = threading.Event()
    clients = [Client(served.url, f"c{i}") for i in range(4)]
    threads = [threading.Thread(target=client.run, args=(stop,)) for client in clients]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60  # guards against hanging; not a timing assert
        while min(len(c.replies) for c in clients) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        staging.set_alias("doubler", "staging", 2)
        while time.monotonic() < deadline and not all(
            c.replies and c.replies[-1][2] == "2" for c in clients
        ):
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert [c.failures for c in clients] == [[], [], [], []]
    for client in clients:
        versions = [version for _, _, version, _, _ in client.replies]
        assert versions[0] == "1"
        assert versions[-1] == "2"
        assert versions == sorted(versions)  # 1, 1, …, 2, 2: never back
        for request_id, _, version, outputs, rows in client.replies:
            assert outputs == _expected(version, rows), request_id
    assert served.stop(signal.SIGTERM) == 0  # the payload log is flushed on the way out

    logged = read_predictions("doubler-api", settings=settings, role="primary")
    sent = {reply[0]: reply for client in clients for reply in client.replies}
    assert sorted(logged["request_id"]) == sorted(sent)
    for row in logged.to_dict("records"):
        request_id, _, version, outputs, rows = sent[row["request_id"]]
        assert (row["deployment"], row["model"], str(row["version"]), row["status"]) == (
            "doubler-api", "doubler", version, 200,
        )  # fmt: skip
        assert row["input.input"].tolist() == rows[0]
        assert row["output.predict"].tolist() == outputs


def _version_of(reply: requests.Response) -> str:
    assert reply.status_code == 200, reply.text
    return str(reply.json()["model_version"])


def test_a_canary_split_over_http_is_within_tolerance_and_a_key_sticks(
    staging: RegistryClient, deployments: DeploymentClient, servers: list[Served]
) -> None:
    canary = TrafficPolicy((Route(alias="staging", weight=80), Route(version=2, weight=20)))
    deployments.create("doubler-api", "doubler", canary)
    served = Served("doubler-api")
    servers.append(served)
    url = f"{served.url}/v2/models/doubler-api/infer"
    total = 400
    with requests.Session() as session:
        counts = Counter(
            _version_of(session.post(url, json=_body(f"r{i}", [[1, 2, 3]]), timeout=30))
            for i in range(total)
        )
        # 20% of 400 is 80, one standard deviation sqrt(400 * 0.2 * 0.8) = 8; allow 5 of them
        spread = 5 * math.sqrt(total * 0.2 * 0.8)
        assert abs(counts["2"] - total * 0.2) <= spread, counts
        assert counts["1"] + counts["2"] == total
        by_key = {
            key: {
                _version_of(
                    session.post(
                        url, json=_body(key, [[1, 2, 3]]), headers={"loopml-key": key}, timeout=30
                    )
                )
                for _ in range(4)
            }
            for key in (f"customer-{n}" for n in range(30))
        }
    assert all(len(versions) == 1 for versions in by_key.values()), by_key
    assert {version for versions in by_key.values() for version in versions} == {"1", "2"}


def test_a_shadow_over_http_is_logged_beside_the_primary_and_a_broken_one_fails_nothing(
    staging: RegistryClient, register: Register, deployments: DeploymentClient,
    settings: Settings, servers: list[Served],
) -> None:  # fmt: skip
    register(Exploding(), "doubler")  # v3: no input example, so nothing checks it at load
    deployments.create(
        "doubler-api", "doubler", TrafficPolicy((Route(alias="staging"),), shadow=Route(version=2))
    )
    served = Served("doubler-api")
    servers.append(served)
    url = f"{served.url}/v2/models/doubler-api/infer"
    with requests.Session() as session:
        first = session.post(url, json=_body("with-shadow", [[1, 2, 3]]), timeout=30)
        deployments.set_traffic(
            "doubler-api", TrafficPolicy((Route(alias="staging"),), shadow=Route(version=3))
        )
        assert served.process.poll() is None
    assert first.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0]  # the primary's answer only
    assert served.stop(signal.SIGTERM) == 0
    logged = read_predictions("doubler-api", settings=settings)
    rows = logged[logged["request_id"] == "with-shadow"].to_dict("records")
    assert [(row["role"], row["version"]) for row in rows] == [("primary", 1), ("shadow", 2)]
    assert [row["output.predict"].tolist() for row in rows] == [[2.0, 4.0, 6.0], [102, 104, 106]]


def test_a_broken_shadow_never_fails_or_changes_a_reply_over_http(
    staging: RegistryClient, register: Register, deployments: DeploymentClient,
    settings: Settings, servers: list[Served],
) -> None:  # fmt: skip
    register(Exploding(), "doubler")  # v3
    deployments.create(
        "doubler-api", "doubler", TrafficPolicy((Route(alias="staging"),), shadow=Route(version=3))
    )
    served = Served("doubler-api")
    servers.append(served)
    with requests.Session() as session:
        replies = [
            session.post(
                f"{served.url}/v2/models/doubler-api/infer",
                json=_body(f"r{i}", [[i, 0, 1]]),
                timeout=30,
            )
            for i in range(20)
        ]
    assert [r.status_code for r in replies] == [200] * 20
    assert [r.json()["outputs"][0]["data"] for r in replies] == [
        [2.0 * i, 0.0, 2.0] for i in range(20)
    ]
    assert served.stop(signal.SIGTERM) == 0
    shadows = read_predictions("doubler-api", settings=settings, role="shadow")
    assert len(shadows) == 20
    assert set(shadows["status"]) == {500}
    assert shadows["error"].str.contains("the challenger is broken").all()


def _histogram(text: str, name: str, deployment: str) -> tuple[float, float]:
    """The ``_count`` and ``_sum`` of a histogram for one deployment in a /metrics page."""
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("deployment") == deployment
    }
    return values[f"{name}_count"], values[f"{name}_sum"]


def test_batching_over_http_merges_concurrent_requests_and_each_gets_its_own_rows(
    staging: RegistryClient, servers: list[Served]
) -> None:
    served = Served("models:/doubler/1", "--max-batch-size", "64", "--max-batch-time-ms", "20")
    servers.append(served)
    results: list[tuple[list[float], list[float]]] = []
    failures: list[str] = []

    def client(n: int) -> None:
        with requests.Session() as session:
            for i in range(12):
                row = [float(n), float(i), float(n * 100 + i)]
                reply = session.post(
                    f"{served.url}/v2/models/doubler/infer", json=_body("", [row]), timeout=30
                )
                if reply.status_code != 200:
                    failures.append(reply.text)
                else:
                    results.append((row, reply.json()["outputs"][0]["data"]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(results) == 96
    assert all(outputs == [v * 2 for v in row] for row, outputs in results)
    text = requests.get(f"{served.url}/metrics", timeout=30).text
    calls, rows = _histogram(text, "loopml_serving_batch_size", "doubler")
    assert rows == 96  # every row went through the model once
    assert calls < 96  # and some calls carried several requests' rows


def test_a_deployment_asking_for_batching_gets_it_without_flags(
    staging: RegistryClient, deployments: DeploymentClient, servers: list[Served]
) -> None:
    deployments.create(
        "doubler-api",
        "doubler",
        TrafficPolicy.follow("staging"),
        resources=Resources(max_batch_size=64, max_batch_time_ms=20),
    )
    served = Served("doubler-api")
    servers.append(served)
    barrier = threading.Barrier(8)

    def client(n: int) -> None:
        barrier.wait(30)
        requests.post(
            f"{served.url}/v2/models/doubler-api/infer", json=_body("", [[n, 0, 0]]), timeout=30
        ).raise_for_status()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    text = requests.get(f"{served.url}/metrics", timeout=30).text
    calls, rows = _histogram(text, "loopml_serving_batch_size", "doubler-api")
    assert rows == 8
    assert calls < 8


def test_runtime_onnx_serves_the_graph_converted_at_registration(
    registry: RegistryClient, servers: list[Served], tmp_path: Path
) -> None:
    from sklearn.ensemble import RandomForestClassifier

    x, y = data()
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    save_package(forest, tmp_path / "forest", input_example=x.head())
    registry.register(tmp_path / "forest", "forest", onnx=True)
    rows = x.iloc[:40].to_dict("records")
    answers = {}
    for runtime in ("native", "onnx"):
        served = Served("models:/forest/1", "--runtime", runtime)
        servers.append(served)
        reply = requests.post(f"{served.url}/predict", json=rows, timeout=30)
        assert reply.status_code == 200, reply.text
        answers[runtime] = reply.json()["predictions"]
        assert served.stop() == 0
    assert answers["onnx"] == answers["native"] == forest.predict(x.iloc[:40]).tolist()


def test_runtime_onnx_for_a_version_without_a_graph_fails_with_one_line(
    staging: RegistryClient,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loopml", "serve", "models:/doubler/1", "--runtime", "onnx",
         "--port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2  # bad input, as every loopml command reports it
    assert result.stderr.count("\n") == 1
    assert "models:/doubler/1" in result.stderr or "doubler" in result.stderr
    assert "register it with onnx=True" in result.stderr


def test_metrics_carry_the_monitor_gauges_of_the_served_deployments(
    staging: RegistryClient,
    deployments: DeploymentClient,
    servers: list[Served],
    settings: Settings,
    tmp_path: Path,
) -> None:
    import numpy as np
    import pandas as pd

    from loopml.monitoring.monitors import MonitorClient

    deployments.create("doubler-api", "doubler", TrafficPolicy.follow("staging"))
    reference = tmp_path / "reference.parquet"
    pd.DataFrame({"x": np.arange(300.0)}).to_parquet(reference)
    MonitorClient(settings).create(
        "doubler-api", reference=str(reference), rules=["drift", "error_rate > 0.1"],
        predict_reference=False,
    )  # fmt: skip
    served = Served("doubler-api", "--poll-seconds", "0.2")
    servers.append(served)
    deadline = time.monotonic() + 60
    text = ""
    while "loopml_monitor_alert_firing" not in text and time.monotonic() < deadline:
        text = requests.get(f"{served.url}/metrics", timeout=30).text
        time.sleep(0.1)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    firing = {
        (s.labels["monitor"], s.labels["rule"]): s.value
        for s in families["loopml_monitor_alert_firing"].samples
    }
    assert firing == {("doubler-api", "drift"): 0.0, ("doubler-api", "error_rate > 0.1"): 0.0}
    assert "loopml_serving_requests" in text  # the server's own metrics are still there
