"""Monitors end to end: a registered model trained on a logged dataset, a deployment, a
payload log with a known shift, labels; windows, alerts, events, lineage, on both stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.monitoring import log_feedback
from loopml.monitoring.monitors import MonitorClient, parse_window
from loopml.registry import RegistryClient
from loopml.serving.deployments import DeploymentClient
from loopml.store import open_store
from loopml.store.lineage import edges_of
from loopml.webhooks import sign
from receiver import WAIT
from receiver import start as start_receiver

from ._monitor_support import FEATURES, HOUR, T0, churn_rows, log_windows


def test_a_monitor_finds_its_reference_through_lineage_and_stores_a_sketch(
    settings: Settings, trained: dict[str, Any]
) -> None:
    client = MonitorClient(settings)
    monitor = client.create("churn-api", window="1h")
    assert monitor.name == "churn-api"
    assert monitor.reference == "datasets:/churn_train/1"
    assert (monitor.model, monitor.version) == ("churn", 1)
    assert monitor.config.features == ("x1", "x2")  # the model's named inputs
    references = client.references(monitor)
    assert references.inputs.row_count == 4000
    assert "output.predict" in references.outputs.columns  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="--replace"):
        client.create("churn-api")
    with open_store(settings.db_url).read() as conn:
        consumed = edges_of(conn, ("monitor", "churn-api"), "out")
    assert [(e["edge"], e["dst_id"]) for e in consumed] == [("consumed", "churn_train/1")]


def test_windows_find_a_mean_shift_and_the_alert_fires_after_its_duration(
    settings: Settings, trained: dict[str, Any]
) -> None:
    client = MonitorClient(settings)
    rules = ["drift:x1 for 2 clear 1", "accuracy < 0.9 for 1", "error_rate > 0.5"]
    client.create("churn-api", window="1h", target="churned", features=FEATURES, rules=rules)
    ids = log_windows(settings, trained["model"], [0.0, 0.0, 1.5, 1.5])
    # Labels for every request of the first hour: each row's true class (the same generator
    # replays the first hour's 40 frames).
    rng = np.random.default_rng(11)
    labels = [churn_rows(rng, 30, 0.0)["churned"].tolist() for _ in range(40)]
    log_feedback("churn-api", ids[:40], labels, settings=settings)

    made = client.run("churn-api", until=T0 + 4 * HOUR)
    assert [w.start_ms for w in made] == [T0 + k * HOUR for k in range(4)]
    assert [w.rows for w in made] == [1200] * 4
    drifted = ["x1" in w.drifted_features for w in made]
    assert drifted == [False, False, True, True]
    assert "x2" not in made[2].drifted_features
    first = made[0].results
    assert first["performance"]["coverage"]["share"] == 1.0
    assert first["performance"]["metrics"]["accuracy"] > 0.95
    assert made[1].results["performance"]["labelled_rows"] == 0
    assert first["health"]["requests"] == 40
    assert first["health"]["error_rate"] == 0.0
    assert first["prediction_drift"] is not None

    firing = client.alerts("churn-api", state="firing").items
    assert [a.rule for a in firing] == ["drift:x1 for 2 clear 1"]
    alert = firing[0]
    assert alert.opened_window == made[3].id
    assert [(v["window"], v["breached"]) for v in alert.evidence["windows"]] == [
        (made[2].id, True),
        (made[3].id, True),
    ]
    # Nothing more is due: running again computes nothing and fires nothing twice.
    assert client.run("churn-api", until=T0 + 4 * HOUR) == []
    kinds = [e.kind for e in client.events(monitor="churn-api")]
    assert kinds == ["monitor.created", "alert.firing"]
    with open_store(settings.db_url).read() as conn:
        window_edges = edges_of(conn, ("monitor_window", str(made[3].id)), "out")
        alert_edges = edges_of(conn, ("alert", str(alert.id)), "out")
    assert {(e["edge"], e["dst_kind"], e["dst_id"]) for e in window_edges} == {
        ("evaluated_on", "deployment", "churn-api"),
        ("evaluated_on", "model_version", "churn/1"),
        ("consumed", "dataset_version", "churn_train/1"),
    }
    assert [(e["edge"], e["dst_id"]) for e in alert_edges] == [("triggered_by", str(made[3].id))]

    # One clear window resolves it (clear 1); acknowledging is an event too.
    acked = client.ack(alert.id, reason="looking")
    assert acked.acked_by is not None
    log_windows(settings, trained["model"], [0.0] * 5 + [0.0])
    later = client.run("churn-api", until=T0 + 6 * HOUR)
    assert [w.start_ms for w in later] == [T0 + 4 * HOUR, T0 + 5 * HOUR]
    assert client.alerts("churn-api", state="firing").items == []
    resolved = client.alerts("churn-api", state="resolved").items
    assert [a.id for a in resolved] == [alert.id]
    assert [e.kind for e in client.events(monitor="churn-api")][-2:] == [
        "alert.acked",
        "alert.resolved",
    ]
    status = client.status("churn-api")
    assert status["last_window"]["id"] == later[-1].id
    assert status["firing"] == []


def test_count_windows_take_the_next_n_rows(settings: Settings, trained: dict[str, Any]) -> None:
    client = MonitorClient(settings)
    client.create("churn-api", window="600 rows", rules=["drift"], features=FEATURES)
    log_windows(settings, trained["model"], [0.0], rows=30, requests=45)  # 1350 rows
    made = client.run("churn-api", until=T0 + HOUR)
    assert [w.rows for w in made] == [600, 600]
    assert made[0].end_ms == made[1].start_ms
    assert client.run("churn-api", until=T0 + HOUR) == []


def test_bad_monitors_are_refused_with_the_fix(
    settings: Settings, trained: dict[str, Any], tmp_path: Path
) -> None:
    client = MonitorClient(settings)
    with pytest.raises(NotFoundError, match="deployment"):
        client.create("nope")
    with pytest.raises(InvalidInputError, match="window"):
        client.create("churn-api", window="sometimes")
    with pytest.raises(InvalidInputError, match=r"not understood|not something"):
        client.create("churn-api", rules=["accuracy is bad"])
    with pytest.raises(InvalidInputError, match="neither"):
        client.create("churn-api", reference=str(tmp_path / "missing.parquet"))
    with pytest.raises(InvalidInputError, match="not columns"):
        client.create("churn-api", features=["height"])
    with pytest.raises(NotFoundError, match="monitor"):
        client.run("churn-api")
    assert client.list_monitors().items == []


def test_a_reference_file_and_no_lineage(settings: Settings, tmp_path: Path) -> None:
    registry = RegistryClient(settings)
    rng = np.random.default_rng(3)
    train = churn_rows(rng, 500)
    folder = tmp_path / "package"
    from loopml.packaging.package import save_package

    save_package(LogisticRegression().fit(train[["x1", "x2"]], train["churned"]), folder,
                 input_example=train[["x1", "x2"]].head(2))  # fmt: skip
    registry.register(folder, "churn")
    pinned = {"routes": [{"version": 1, "weight": 100}]}
    DeploymentClient(settings).create("churn-api", "churn", pinned)
    client = MonitorClient(settings)
    with pytest.raises(InvalidInputError, match="--reference"):
        client.create("churn-api")
    path = tmp_path / "reference.parquet"
    train.to_parquet(path)
    monitor = client.create("churn-api", reference=str(path))
    assert monitor.reference == str(path)
    assert client.references(monitor).inputs.row_count == 500


def test_parse_window() -> None:
    assert parse_window("1h") == ("time", HOUR)
    assert parse_window(" 5000 rows ") == ("count", 5000)
    for bad in ("", "0s", "1 row", "h", "10ms", "-1h", "20000000 rows"):
        if bad == "1 row":
            assert parse_window(bad) == ("count", 1)
            continue
        with pytest.raises(InvalidInputError):
            parse_window(bad)


def test_alerts_reach_a_webhook_signed_and_in_order(
    settings: Settings, trained: dict[str, Any]
) -> None:
    receiver = start_receiver()
    try:
        client = MonitorClient(settings)
        client.create("churn-api", window="1h", features=FEATURES, rules=["drift:x1 for 1"])
        hook = client.add_webhook(receiver.url, ["alert.firing"], "churn-api", "s3cret")
        assert [h.id for h in client.list_webhooks()] == [hook.id]
        with pytest.raises(InvalidInputError, match="unknown monitoring event"):
            client.add_webhook(receiver.url, ["alert.exploded"])
        with pytest.raises(NotFoundError, match="monitor"):
            client.add_webhook(receiver.url, monitor="nobody")
        log_windows(settings, trained["model"], [0.0, 2.0])
        client.run("churn-api", until=T0 + 2 * HOUR)
        assert client.deliver_pending(timeout=WAIT)
        with receiver.lock:
            (headers, body), *rest = receiver.requests
        assert rest == []
        assert headers["X-Loopml-Signature"] == sign("s3cret", body)
        delivered = json.loads(body)
        assert delivered["kind"] == "alert.firing"
        assert delivered["payload"]["rule"] == "drift:x1 for 1"
        client.remove_webhook(hook.id)
        assert client.list_webhooks() == []
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_labels_that_arrive_late_update_the_windows_and_fire_performance_rules(
    settings: Settings, trained: dict[str, Any]
) -> None:
    client = MonitorClient(settings)
    rules = ["accuracy < 0.5 for 1", "drift"]
    client.create("churn-api", window="1h", target="churned", features=FEATURES, rules=rules)
    ids = log_windows(settings, trained["model"], [0.0, 0.0])
    made = client.run("churn-api", until=T0 + 2 * HOUR)
    assert [w.results["performance"]["labelled_rows"] for w in made] == [0, 0]
    assert client.refresh_labels("churn-api") == []  # no label yet: nothing to redo

    # The first hour's labels arrive, the true classes flipped: the model looks wrong.
    rng = np.random.default_rng(11)
    flipped = [(1 - churn_rows(rng, 30, 0.0)["churned"]).tolist() for _ in range(40)]
    log_feedback("churn-api", ids[:40], flipped, settings=settings)
    assert client.run("churn-api", until=T0 + 2 * HOUR) == []  # no new window, but…
    first = client.window(made[0].id)
    assert first.results["performance"]["metrics"]["accuracy"] < 0.05
    assert first.results["performance"]["coverage"]["share"] == 1.0
    assert first.results["rules"]["accuracy < 0.5 for 1"]["breached"] is True
    assert client.window(made[1].id).results["performance"]["labelled_rows"] == 0
    (alert,) = client.alerts("churn-api", state="firing").items
    assert alert.rule == "accuracy < 0.5 for 1"
    assert client.refresh_labels("churn-api") == []  # seen: not read again


def test_a_monitor_on_a_table_stream_measures_each_new_dataset_version(
    settings: Settings,
) -> None:
    from loopml.data.versions import DatasetClient

    datasets = DatasetClient(settings)
    rng = np.random.default_rng(5)
    datasets.log("churn_train", churn_rows(rng, 3000))
    scored = []
    for shift in (0.0, 1.5):
        batch = churn_rows(rng, 800, shift)
        batch["predict"] = (batch["x1"] > 0).astype(int)  # a model's scores, kept with the rows
        scored.append(datasets.log("scoring", batch))
    client = MonitorClient(settings)
    with pytest.raises(InvalidInputError, match="needs its reference"):
        client.create("datasets:/scoring")
    with pytest.raises(InvalidInputError, match="not one version"):
        client.create("datasets:/scoring/1", reference="datasets:/churn_train/1")
    with pytest.raises(NotFoundError):
        client.create("datasets:/nothing", reference="datasets:/churn_train/1")
    monitor = client.create(
        "datasets:/scoring", reference="datasets:/churn_train/1", target="churned",
        features=FEATURES, rules=["drift:x1 for 1"],
    )  # fmt: skip
    assert (monitor.name, monitor.deployment, monitor.source) == (
        "scoring", None, "datasets:/scoring@latest",
    )  # fmt: skip
    made = client.run("scoring")
    assert [w.versions for w in made] == [
        ({"dataset": "scoring", "version": 1, "rows": 800},),
        ({"dataset": "scoring", "version": 2, "rows": 800},),
    ]
    assert [w.drifted_features for w in made] == [(), ("x1",)]
    accuracy = made[0].results["performance"]["metrics"]["accuracy"]
    assert 0.6 < accuracy < 0.9  # x1 alone predicts x1 + x2 > 0 about 3 times in 4
    assert [a.rule for a in client.alerts("scoring", state="firing").items] == ["drift:x1 for 1"]
    assert client.run("scoring") == []  # both versions measured
    datasets.log("scoring", churn_rows(rng, 500))
    assert [w.versions[0]["version"] for w in client.run("scoring")] == [3]
    with open_store(settings.db_url).read() as conn:
        edges = edges_of(conn, ("monitor_window", str(made[1].id)), "out")
    assert {(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges} == {
        ("evaluated_on", "dataset_version", "scoring/2"),
        ("consumed", "dataset_version", "churn_train/1"),
    }


def test_dataset_drift_is_weighted_by_the_models_feature_importances(
    settings: Settings, tmp_path: Path
) -> None:
    from sklearn.ensemble import RandomForestClassifier

    from loopml.packaging.package import save_package

    rng = np.random.default_rng(8)
    train = churn_rows(rng, 2000)
    train["churned"] = (train["x1"] > 0).astype(int)  # x1 is nearly all that matters
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    forest.fit(train[["x1", "x2"]], train["churned"])
    save_package(forest, tmp_path / "forest", input_example=train[["x1", "x2"]].head(2))
    RegistryClient(settings).register(tmp_path / "forest", "churn")
    DeploymentClient(settings).create(
        "churn-api", "churn", {"routes": [{"version": 1, "weight": 100}]}
    )
    train.to_parquet(tmp_path / "train.parquet")
    client = MonitorClient(settings)
    monitor = client.create("churn-api", reference=str(tmp_path / "train.parquet"))
    weights = monitor.config.importance
    assert set(weights) == {"x1", "x2"}
    assert weights["x1"] > 0.8
    assert sum(weights.values()) == pytest.approx(1.0)
    assert any("feature importances" in note for note in client.references(monitor).notes)
    # Only x2 (the unimportant one) moves: half the features drifted, little of the weight.
    window = churn_rows(rng, 1500)
    window["x2"] += 2.0
    rows = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(1500)], "row": 0, "time_ms": T0, "model": "churn",
        "version": 1, "role": "primary", "status": 200, "latency_ms": 1.0,
        "input.x1": window["x1"], "input.x2": window["x2"],
    })  # fmt: skip
    measured = client.measure("churn-api", rows)
    assert measured.results["drift"]["weighted"] is True
    assert [c["column"] for c in measured.results["drift"]["columns"] if c["drifted"]] == ["x2"]
    assert measured.drift_share == pytest.approx(weights["x2"])
    assert measured.dataset_drifted is False


def test_windows_are_checked_against_the_datasets_schema(
    settings: Settings, trained: dict[str, Any], tmp_path: Path
) -> None:
    from loopml.data import infer_schema, save_schema

    inferred = infer_schema(trained["train"], range_slack=0.5)  # room for a wider sample
    schema = save_schema(inferred, tmp_path / "churn.schema.toml")
    client = MonitorClient(settings)
    client.create("churn-api", features=FEATURES, target="churned", schema=schema)
    rng = np.random.default_rng(12)
    clean, broken = churn_rows(rng, 300), churn_rows(rng, 300)
    broken.loc[:29, "plan"] = "enterprise"  # a category the schema does not know

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        base = {"request_id": [f"r{i}" for i in range(len(frame))], "row": 0, "time_ms": T0,
                "model": "churn", "version": 1, "role": "primary", "status": 200,
                "latency_ms": 1.0}  # fmt: skip
        return pd.DataFrame({**base, **{f"input.{c}": frame[c] for c in FEATURES}})

    assert client.measure("churn-api", rows(clean)).results["quality"]["schema"] == {
        "passed": True, "violations": [],
    }  # fmt: skip
    found = client.measure("churn-api", rows(broken)).results["quality"]["schema"]
    assert found["passed"] is False
    assert [(v["column"], v["check"], v["count"]) for v in found["violations"]] == [
        ("plan", "categories", 30)
    ]
    # Stored with the reference: a fresh client (another process) checks the same way.
    again = MonitorClient(settings).measure("churn-api", rows(broken))
    assert again.results["quality"]["schema"] == found


def test_two_runners_at_once_store_each_window_and_fire_each_alert_once(
    settings: Settings, trained: dict[str, Any]
) -> None:
    import threading

    MonitorClient(settings).create(
        "churn-api", window="1h", features=FEATURES, rules=["drift:x1 for 2"]
    )
    log_windows(settings, trained["model"], [0.0, 0.0, 2.0, 2.0, 2.0])
    made: list[list[Any]] = [[], []]
    barrier = threading.Barrier(2)

    def runner(slot: int) -> None:
        client = MonitorClient(settings)
        barrier.wait(30)
        made[slot] = client.run("churn-api", until=T0 + 5 * HOUR)

    threads = [threading.Thread(target=runner, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    client = MonitorClient(settings)
    stored = sorted(w.start_ms for w in client.windows("churn-api").items)
    assert stored == [T0 + k * HOUR for k in range(5)]  # each window once
    assert sorted(w.start_ms for w in made[0] + made[1]) == stored  # each made by one runner
    assert len(client.alerts("churn-api").items) == 1
