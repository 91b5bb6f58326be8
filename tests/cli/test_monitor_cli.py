"""``loopml monitor create|list|run|status|windows|alerts|ack|report|metrics|update|delete``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.monitoring import PayloadWriter, Prediction
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient
from loopml.serving.deployments import DeploymentClient
from loopml.store import reset_stores

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _frame(rng: np.random.Generator, rows: int, shift: float) -> pd.DataFrame:
    frame = pd.DataFrame({"x1": rng.normal(shift, 1, rows), "x2": rng.normal(0, 1, rows)})
    frame["y"] = (frame["x1"] + frame["x2"] > 0).astype(int)
    return frame


@pytest.fixture
def served(home: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``churn`` v1 served by deployment ``churn-api``; a reference file; 3 logged hours,
    the last with x1 shifted by 2 standard deviations."""
    settings = Settings.load(home=home)
    rng = np.random.default_rng(5)
    train = _frame(rng, 2000, 0.0)
    model = LogisticRegression().fit(train[["x1", "x2"]], train["y"])
    save_package(model, tmp_path / "pkg", input_example=train[["x1", "x2"]].head(2))
    RegistryClient(settings).register(tmp_path / "pkg", "churn")
    DeploymentClient(settings).create(
        "churn-api", "churn", {"routes": [{"version": 1, "weight": 100}]}
    )
    reference = tmp_path / "train.parquet"
    train.to_parquet(reference)
    with PayloadWriter(settings, "churn-api", flush_seconds=0.05) as writer:
        for hour, shift in enumerate([0.0, 0.0, 2.0]):
            for r in range(30):
                frame = _frame(rng, 40, shift)
                writer.record(
                    Prediction(
                        request_id=f"h{hour}r{r}", time_ms=T0 + hour * HOUR + r, version=1,
                        deployment="churn-api", model="churn", role="primary",
                        inputs={"x1": frame["x1"].to_numpy(), "x2": frame["x2"].to_numpy()},
                        outputs={"predict": model.predict(frame[["x1", "x2"]])},
                        latency_ms=2.0, status=200,
                    )
                )  # fmt: skip
    yield {"reference": reference}
    reset_stores()


def test_create_run_status_alerts_ack_report_and_metrics(
    cli: Any, served: dict[str, Any], tmp_path: Path
) -> None:
    made = cli.json(
        "monitor", "create", "churn-api", "--reference", str(served["reference"]),
        "--rule", "drift for 1 clear 1", "--rule", "latency_p95 > 100 severity critical",
    )  # fmt: skip
    assert made["name"] == "churn-api"
    assert made["config"]["features"] == ["x1", "x2"]
    assert [r["name"] for r in made["config"]["rules"]] == [
        "drift for 1 clear 1",
        "latency_p95 > 100 severity critical",
    ]
    assert made["notes"] == []
    listed = cli.json("monitor", "list")
    assert [m["name"] for m in listed["monitors"]] == ["churn-api"]

    ran = cli.json("monitor", "run", "churn-api", "--until", "2026-01-01T03:00:00Z")
    assert [w["rows"] for w in ran["windows"]] == [1200, 1200, 1200]
    assert [w["dataset_drifted"] for w in ran["windows"]] == [False, False, True]
    assert [a["rule"] for a in ran["firing"]] == ["drift for 1 clear 1"]
    table = cli.run("monitor", "run", "churn-api", "--until", "2026-01-01T03:00:00Z")
    assert table.exit_code == 0
    assert "no window of churn-api is due yet" in table.stdout

    status = cli.json("monitor", "status", "churn-api")
    assert status["last_window"]["drifted_features"] == ["x1"]
    assert [a["rule"] for a in status["firing"]] == ["drift for 1 clear 1"]
    shown = cli.run("monitor", "status", "churn-api")
    assert shown.exit_code == 0
    assert "x1" in shown.stdout

    windows = cli.json("monitor", "windows", "churn-api", "--limit", "2")
    assert len(windows["windows"]) == 2
    assert windows["next_page_token"] is not None
    rest = cli.json("monitor", "windows", "churn-api", "--page-token", windows["next_page_token"])
    assert len(rest["windows"]) == 1

    alerts = cli.json("monitor", "alerts", "--state", "firing")
    (alert,) = alerts["alerts"]
    acked = cli.json("monitor", "ack", str(alert["id"]), "--reason", "on it")
    assert acked["ack_reason"] == "on it"
    assert acked["state"] == "firing"

    report = tmp_path / "report.html"
    written = cli.json("monitor", "report", "churn-api", "-o", str(report))
    assert written["windows"] == 3
    page = report.read_text(encoding="utf-8")
    assert "<script src" not in page
    assert "x1" in page

    metrics = cli.run("monitor", "metrics")
    assert metrics.exit_code == 0, metrics.stderr
    families = {f.name: f for f in text_string_to_metric_families(metrics.stdout)}
    share = families["loopml_monitor_drift_share"].samples[0]
    assert share.labels == {"monitor": "churn-api"}
    assert share.value == pytest.approx(status["last_window"]["drift_share"])
    firing = {s.labels["rule"]: s.value for s in families["loopml_monitor_alert_firing"].samples}
    assert firing == {"drift for 1 clear 1": 1.0, "latency_p95 > 100 severity critical": 0.0}

    updated = cli.json("monitor", "update", "churn-api", "--rule", "drift:x2 for 3")
    assert updated["revision"] == 2
    assert [r["name"] for r in updated["config"]["rules"]] == ["drift:x2 for 3"]
    gone = cli.json("monitor", "delete", "churn-api", "--yes")
    assert gone["name"] == "churn-api"
    assert cli.json("monitor", "list")["monitors"] == []


def test_bad_input_is_one_clear_line(cli: Any, served: dict[str, Any]) -> None:
    reference = str(served["reference"])
    result = cli.run("monitor", "create", "churn-api", "--reference", reference,
                     "--rule", "accuracy > fine")  # fmt: skip
    assert result.exit_code != 0
    assert "alert rule" in result.stderr
    result = cli.run("monitor", "create", "churn-api", "--reference", reference,
                     "--threshold", "wasserstein")  # fmt: skip
    assert result.exit_code != 0
    assert "METHOD=VALUE" in result.stderr
    result = cli.run("monitor", "status", "nope")
    assert result.exit_code != 0
    assert "monitor" in result.stderr
    result = cli.run("monitor", "ack", "999")
    assert result.exit_code != 0
    assert "alert" in result.stderr
