"""Remote mode: ``LOOPML_TRACKING_URI=http://…`` sends the SDK's runs to a loopml server;
writes are journaled, sent in idempotent batches, and survive the server being down."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import loopml
from loopml._remote import JsonHttp
from loopml.config import Settings
from loopml.server import ServerConfig
from loopml.tracking import TrackingClient
from loopml.tracking.remote import RemoteTrackingClient

from ._support import LiveServer, live_server


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    """The server's store (the client has a home of its own, for its journal)."""
    return Settings.load(home=tmp_path / "server-home")


def _client_settings(tmp_path: Path, url: str) -> Settings:
    return Settings.load(home=tmp_path / "client-home", tracking_uri=url)


def test_the_sdk_logs_to_the_server(
    tmp_path: Path, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_server(store_settings) as server:
        monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
        monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "client-home"))
        with loopml.start_run("churn", name="rf") as run:
            run.log_params({"trees": 50, "depth": 4})
            for step in range(300):
                run.log_metric("loss", 1 / (step + 1), step=step)
            run.set_tag("team", "risk")
            run.log_text("hello", "notes/readme.txt")
        history = loopml.tracking.fluent.default_client().get_metric_history(run.id, "loss")
        assert len(history) == 300
        loopml.tracking.fluent.reset()
    stored = TrackingClient(store_settings, capture_env=False)
    found = stored.get_run(run.id)
    assert found.status == "finished"
    assert found.params == {"trees": "50", "depth": "4"}
    assert found.tags["team"] == "risk"
    assert found.metrics["loss"] == pytest.approx(1 / 300)
    assert [p.step for p in stored.get_metric_history(run.id, "loss")] == list(range(300))
    assert stored.run_artifacts.read_bytes(run.id, "notes/readme.txt") == b"hello"
    stored.close()


def test_a_retried_batch_is_stored_once(store_settings: Settings) -> None:
    with live_server(store_settings) as server:
        http = JsonHttp(server.url)
        run = http.request("POST", "/api/v1/runs", {"experiment": "e"})
        points = [{"key": "m", "value": i, "step": i} for i in range(50)]
        for _ in range(3):  # the reply was lost twice: the client sends the batch again
            http.request(
                "POST",
                f"/api/v1/runs/{run['id']}/metrics/batch",
                points,
                headers={"idempotency-key": "journal-1:0"},
            )
        history = http.request(
            "GET", f"/api/v1/runs/{run['id']}/metrics/history", query={"key": "m"}
        )
        http.close()
    assert [p["step"] for p in history["metrics"]] == list(range(50))


def test_writes_wait_out_a_server_outage_and_arrive_once(
    tmp_path: Path, store_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    server = LiveServer(store_settings, ServerConfig()).start()
    client = RemoteTrackingClient(_client_settings(tmp_path, server.url))
    run = client.create_run("churn")
    client.log_metric(run.id, "before", 1.0)
    client.flush()
    server.stop()  # the server goes away: logging goes on, into the journal
    for step in range(2000):
        client.log_metric(run.id, "loss", float(step), step=step)
    client.log_params(run.id, {"lr": 0.1})
    client.end_run(run.id)
    client.close()  # cannot send: keeps the journal for the next client
    assert "kept in" in capsys.readouterr().err
    server.start()  # back, on the same address
    try:
        later = RemoteTrackingClient(_client_settings(tmp_path, server.url))
        later.flush()  # the orphaned journal is adopted and sent
        found = later.get_run(run.id)
        assert found.status == "finished"
        assert found.params == {"lr": "0.1"}
        history = later.get_metric_history(run.id, "loss")
        assert [p.step for p in history] == list(range(2000))
        later.close()
    finally:
        server.stop()
    folder = tmp_path / "client-home" / "journal" / "remote"
    assert not list(folder.rglob("*.jsonl"))  # everything sent, nothing left behind


def test_a_script_that_never_closes_its_client_still_delivers(
    tmp_path: Path, store_settings: Settings
) -> None:
    with live_server(store_settings) as server:
        script = textwrap.dedent(
            """
            import loopml

            run = loopml.start_run("churn")  # never ended: the exit hook ends it
            for step in range(200):
                run.log_metric("loss", 1 / (step + 1), step=step)
            print(run.id)
            """
        )
        env = {
            **os.environ,
            "LOOPML_TRACKING_URI": server.url,
            "LOOPML_HOME": str(tmp_path / "client-home"),
        }
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        run_id = done.stdout.strip()
        later = RemoteTrackingClient(_client_settings(tmp_path / "reader", server.url))
        found = later.get_run(run_id)
        later.close()
    assert found.status == "finished"
    assert found.metrics["loss"] == pytest.approx(1 / 200)


def test_a_killed_client_loses_nothing_it_journaled(
    tmp_path: Path, store_settings: Settings
) -> None:
    with live_server(store_settings) as server:
        settings = _client_settings(tmp_path, server.url)
        script = textwrap.dedent(
            f"""
            import os, sys
            from loopml.config import Settings
            from loopml.tracking.remote import RemoteTrackingClient
            client = RemoteTrackingClient(Settings.load(home={str(settings.home)!r},
                                                       tracking_uri={server.url!r}))
            run = client.create_run("churn")
            for step in range(3000):
                client.log_metric(run.id, "loss", float(step), step=step)
            print(run.id, flush=True)
            os.kill(os.getpid(), 9)  # no flush, no close: the journal is all there is
            """
        )
        child = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
        )
        assert child.returncode == -9, child.stderr
        run_id = child.stdout.strip()
        later = RemoteTrackingClient(settings)
        later.flush()
        assert [p.step for p in later.get_metric_history(run_id, "loss")] == list(range(3000))
        later.close()


def test_bad_input_fails_at_the_call_not_later(tmp_path: Path, store_settings: Settings) -> None:
    with live_server(store_settings) as server:
        client = RemoteTrackingClient(_client_settings(tmp_path, server.url))
        run = client.create_run("churn")
        with pytest.raises(loopml.errors.InvalidInputError):
            client.log_metric(run.id, "loss", "high")
        with pytest.raises(loopml.errors.InvalidInputError):
            client.log_metric(run.id, "loss", 1.0, step=2**70)
        with pytest.raises(loopml.errors.NotFoundError):
            client.get_run("no-such-run")
        client.close()
    with pytest.raises(loopml.errors.InvalidInputError, match="http://HOST:PORT"):
        RemoteTrackingClient(Settings.load(home=tmp_path / "x", tracking_uri="ftp://x"))


def test_concurrent_remote_clients_lose_nothing(tmp_path: Path, store_settings: Settings) -> None:
    with live_server(store_settings) as server:
        logged: dict[str, int] = {}

        def log_for_a_while(i: int) -> None:
            client = RemoteTrackingClient(_client_settings(tmp_path / f"c{i}", server.url))
            run = client.create_run("concurrency")
            deadline = time.monotonic() + 2.0
            step = 0
            while time.monotonic() < deadline:
                client.log_metric(run.id, "loss", 1 / (step + 1), step=step)
                step += 1
            client.end_run(run.id)
            client.close()
            assert client.outbox.failures == []
            logged[run.id] = step

        threads = [threading.Thread(target=log_for_a_while, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    stored = TrackingClient(store_settings, capture_env=False)
    assert len(logged) == 4
    for run_id, points in logged.items():
        assert points > 0
        assert len(stored.get_metric_history(run_id, "loss")) == points
        assert stored.get_run(run_id).status == "finished"
    stored.close()
