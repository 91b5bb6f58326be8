"""``loopml serve`` as a subprocess: ready when it says so, workers, signals, restarts."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from _serving_models import Slow
from _serving_support import Register, Served
from prometheus_client.parser import text_string_to_metric_families

from loopml.registry import RegistryClient


def test_serve_announces_its_endpoints_and_stops_cleanly_on_sigterm(
    staging: RegistryClient, servers: list[Served]
) -> None:
    served = Served("models:/doubler@staging")
    servers.append(served)
    assert (
        f"doubler: {served.url}/v2/models/doubler/infer (@staging -> doubler/1)" in served.announced
    )
    assert f"POST {served.url}/predict" in served.announced
    assert served.infer([[1, 2, 3]]).json()["outputs"][0]["data"] == [2.0, 4.0, 6.0]
    assert requests.post(f"{served.url}/predict", json=[[1, 2, 3]], timeout=30).status_code == 200
    assert served.stop(signal.SIGTERM) == 0


def test_a_killed_server_restarted_serves_the_version_the_alias_now_names(
    staging: RegistryClient, servers: list[Served]
) -> None:
    first = Served("models:/doubler@staging")
    servers.append(first)
    assert first.infer([[1, 2, 3]]).json()["model_version"] == "1"
    first.stop(signal.SIGKILL)
    staging.set_alias("doubler", "staging", 2)  # moved while nothing was serving
    second = Served("models:/doubler@staging")
    servers.append(second)
    reply = second.infer([[1, 2, 3]]).json()
    assert reply["model_version"] == "2"
    assert reply["outputs"][0]["data"] == [102.0, 104.0, 106.0]


def test_workers_share_the_port_metrics_add_up_and_a_dead_worker_is_replaced(
    staging: RegistryClient, servers: list[Served]
) -> None:
    served = Served("models:/doubler/2", "--workers", "2")
    servers.append(served)
    assert len(served.workers()) == 2
    with requests.Session() as session:
        for _ in range(20):  # new connections: the kernel spreads them over the workers
            assert served.infer([[1, 2, 3]]).status_code == 200
        text = session.get(f"{served.url}/metrics", timeout=30).text
    total = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "loopml_serving_requests_total" and sample.labels["code"] == "200"
    )
    assert total == 20  # every worker's requests, whichever worker answered the scrape
    victim = served.workers()[0]
    victim.kill()
    victim.wait(30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = [
            w
            for w in served.workers()
            if w.pid != victim.pid and w.status() != psutil.STATUS_ZOMBIE
        ]
        if len(alive) == 2:
            break
        time.sleep(0.1)
    assert len(alive) == 2
    for _ in range(10):
        assert served.infer([[1, 2, 3]]).status_code == 200
    workers = served.workers()
    assert served.stop(signal.SIGTERM) == 0
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_workers_die_with_their_parent(staging: RegistryClient, servers: list[Served]) -> None:
    served = Served("models:/doubler/1", "--workers", "2")
    servers.append(served)
    workers = served.workers()
    assert len(workers) == 2
    served.process.kill()  # no chance to stop them itself
    served.process.wait(30)
    _gone, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive


def test_a_taken_port_fails_with_one_line_before_loading(staging: RegistryClient) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "loopml", "serve", "models:/doubler@staging", "--port", port],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "pick another --port" in result.stderr


def test_serving_an_unknown_model_fails_with_one_line(staging: RegistryClient) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loopml", "serve", "models:/doubler@nope", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "nope" in result.stderr
    assert "staging" in result.stderr


@pytest.mark.parametrize(
    ("sig", "workers"), [(signal.SIGTERM, "1"), (signal.SIGINT, "2")], ids=["sigterm", "sigint-2"]
)
def test_stopping_lets_the_request_in_flight_finish(
    register: Register, servers: list[Served], tmp_path: Path, sig: int, workers: str
) -> None:
    model = Slow()
    model.marker = str(tmp_path / "started")
    register(model, "slow")
    served = Served("models:/slow/1", "--workers", workers)
    servers.append(served)
    replies: list[requests.Response] = []
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    caller = threading.Thread(
        target=lambda: replies.append(
            requests.post(f"{served.url}/v2/models/slow/infer", json=body, timeout=60)
        )
    )
    caller.start()
    while not (tmp_path / "started").exists():  # the model is predicting now
        caller.join(0.01)
    assert served.stop(sig) == 0
    caller.join(60)
    assert [reply.status_code for reply in replies] == [200]
