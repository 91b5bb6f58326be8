"""The same tracking code on PostgreSQL + S3: only the URLs change."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import loopml
from loopml._ids import new_id
from loopml.config import Settings
from loopml.store.schema import artifact_files
from loopml.tracking import RunStatus, TrackingClient
from loopml.tracking.run_artifacts import collect_garbage

if TYPE_CHECKING:
    from conftest import PostgresServer, S3Server


def test_tracking_on_postgres_and_s3_by_urls_alone(
    postgres_server: PostgresServer,
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"scale_{new_id().lower()}"
    with postgres_server.connect() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    monkeypatch.setenv("LOOPML_DB_URL", postgres_server.url(name))
    monkeypatch.setenv("LOOPML_ARTIFACTS", f"s3://{s3_server.bucket}/{name}")
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", s3_server.endpoint_url)
    loopml.configure(home=str(tmp_path / "home"))
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00weights" * 1000)

    with loopml.start_run(experiment="shared") as run:
        loopml.log_params({"lr": 0.1})
        for step in range(100):
            loopml.log_metric("loss", 1 / (step + 1), step=step)
        loopml.log_artifact(model, "model")

    # A second client (another process would do the same) reads it all back.
    client = TrackingClient(Settings.load(home=tmp_path / "other"))
    try:
        found = client.search_runs("shared", filter="metrics.loss < 0.02")
        assert [r.id for r in found] == [run.id]
        assert found[0].status is RunStatus.FINISHED
        assert len(client.get_metric_history(run.id, "loss")) == 100
        assert client.run_artifacts.read_bytes(run.id, "model/model.bin") == model.read_bytes()
        assert client.run_artifacts.url.startswith("s3://")

        client.delete_run(run.id)
        report = collect_garbage(client.store, client.run_artifacts.artifact_store, grace_seconds=0)
        assert report.deleted == 1
        with client.store.read() as conn:
            assert conn.execute(artifact_files.select()).all() == []
    finally:
        client.close()
