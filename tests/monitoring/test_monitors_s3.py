"""A monitor with its reference sketch and payload log in S3 (moto's server on loopback),
its records in SQLite and PostgreSQL: the same windows and alerts as on local files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.monitoring.monitors import MonitorClient

from ._monitor_support import FEATURES, HOUR, T0, log_windows

if TYPE_CHECKING:
    from conftest import S3Server


@pytest.fixture
def settings(
    tmp_path: Path, db_url: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings over each database backend with artifacts in the moto bucket."""
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", s3_server.endpoint_url)
    prefix = f"monitor-{tmp_path.name}"
    return Settings.load(
        home=tmp_path / "home", db_url=db_url, artifacts_url=f"s3://{s3_server.bucket}/{prefix}"
    )


def test_a_monitor_on_s3_finds_the_shift_and_fires(
    settings: Settings, trained: dict[str, Any], s3_server: S3Server
) -> None:
    client = MonitorClient(settings)
    monitor = client.create("churn-api", features=FEATURES, rules=["drift:x1 for 2"])
    prefix = settings.artifacts_url.removeprefix(f"s3://{s3_server.bucket}/")
    assert ArtifactStore(s3_server.store(prefix)).exists(monitor.reference_digest)
    log_windows(settings, trained["model"], [0.0, 2.0, 2.0])
    made = MonitorClient(settings).run("churn-api", until=T0 + 3 * HOUR)  # a fresh client
    assert ["x1" in w.drifted_features for w in made] == [False, True, True]
    assert [a.rule for a in client.alerts(state="firing").items] == ["drift:x1 for 2"]
